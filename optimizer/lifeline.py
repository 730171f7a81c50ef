"""Child processes never outlive their parent: each asks the kernel to end it when its
parent ends (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``), so a Ctrl-C, a SIGTERM or a crash of
the command leaves no solver or worker process running."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """End this process (SIGKILL) when its parent ends. With ``parent_pid``, end at once if
    that parent is already gone (it ended before this call)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except OSError:      # pragma: no cover - no libc: nothing to ask
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
