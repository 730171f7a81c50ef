"""Where results go: a destination is checked before any solve (it must be writable, and an
existing folder is replaced only when it is a previous results or sweep directory), written
atomically beside it with the user's umask, and a finished plan is never lost to an output
error (it is written elsewhere, and the caller says where)."""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from optimizer.errors import UsageError

RESULT_FILES = {"summary.json", "report.html", "results.xlsx", "sweep.csv", "pareto.csv"}
"""Files a results (or sweep) directory holds besides its CSV tables."""
RESULT_FOLDERS = {"variants", "points"}
"""Folders of results directories inside a sweep (or pareto) directory."""


def _is_results_directory(directory: Path) -> bool:
    return (directory / "summary.json").is_file() or (directory / "sweep.csv").is_file() or (
        directory / "pareto.csv").is_file()


def foreign_entries(directory: Path) -> list[str]:
    """What ``directory`` holds that a results or sweep directory does not."""
    foreign = []
    for entry in directory.iterdir():
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.is_file():
            if entry.name not in RESULT_FILES and entry.suffix != ".csv":
                foreign.append(entry.name)
        elif entry.name in RESULT_FOLDERS:
            for variant in entry.iterdir():
                if not variant.is_dir() or variant.is_symlink() or not _is_results_directory(
                        variant) or foreign_entries(variant):
                    foreign.append(f"{entry.name}/{variant.name}")
        else:
            foreign.append(entry.name + "/")
    return sorted(foreign)


def check_destination(directory: str | Path, force: bool) -> Path:
    """The results directory to write, checked before any work.

    Raises:
        UsageError: the directory is the working directory (or holds it); it exists and
            ``force`` is not set; ``force`` is set but it is not a previous results directory
            (it holds other files); or its folder cannot be written.
    """
    target = Path(directory)
    resolved = target.resolve()
    here = Path.cwd().resolve()
    if resolved == here or here.is_relative_to(resolved):
        raise UsageError(f"{target}: is the working directory or holds it; results go into a "
                         "folder of their own")
    if target.exists() or target.is_symlink():
        if target.is_symlink() or not target.is_dir():
            raise UsageError(f"{target}: exists and is not a directory")
        if not force:
            raise UsageError(f"{target}: results directory exists; use --force to replace it")
        if not _is_results_directory(target):
            raise UsageError(f"{target}: --force replaces only a previous results directory "
                             "(one with summary.json); this one is not: nothing was touched")
        foreign = foreign_entries(target)
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise UsageError(f"{target}: --force replaces only a results directory; it also "
                             f"holds {shown}: nothing was touched")
    check_writable(target.parent)
    return target


WHY_NOT = {
    errno.EACCES: "you have no permission to write there",
    errno.EPERM: "you have no permission to write there",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a part of the path is a file, not a folder",
    errno.EROFS: "the disk there is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "your disk quota is used up",
    errno.ENAMETOOLONG: "the path is too long",
}
"""What an output error means, in words a planner acts on."""


def why_not(exc: OSError) -> str:
    """An output error as what is wrong (the system's words when it is none of the known)."""
    return WHY_NOT.get(exc.errno, exc.strerror or str(exc))


def check_writable(folder: Path) -> None:
    """Raise :class:`UsageError` unless a results directory can be created in ``folder``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = staging_directory(folder / "probe")
        probe.rmdir()
    except OSError as exc:
        raise UsageError(f"{folder}: cannot write results there: {why_not(exc)}") from None


def staging_directory(target: Path) -> Path:
    """An empty folder beside ``target`` to write into before :func:`promote`, with the
    user's umask (``os.mkdir``), so colleagues can read the results the umask lets them."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        staging = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.mkdir(staging)
            return staging
        except FileExistsError:
            continue
    raise OSError(f"cannot create a staging folder beside {target}")


def promote(staging: Path, target: Path) -> None:
    """Put a complete ``staging`` folder in place of ``target`` (renames only)."""
    if target.exists():
        retired = staging.with_name(staging.name + ".old")
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(target)


def write_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Write a directory: ``fill(staging)`` writes into a staging folder beside ``target``,
    which then replaces it (nothing half-written ever sits at ``target``)."""
    staging = staging_directory(target)
    try:
        fill(staging)
        promote(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def rescue_directory(target: Path) -> Path:
    """Where a plan goes when ``target`` cannot be written: beside it if possible, else in the
    working directory, else in the system's temporary folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{target.name or 'results'}.rescued-{stamp}"
    for folder in (target.parent, Path.cwd(), Path(tempfile.gettempdir())):
        try:
            check_writable(folder)
            return folder / name
        except UsageError:
            continue
    raise UsageError(f"{target}: cannot be written, and neither can the working directory "
                     "nor the temporary folder")


def write_file_atomically(path: str | Path, data: bytes) -> Path:
    """Write one file through a staging file beside it (nothing half-written at ``path``)."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.tmp")
    try:
        staging.write_bytes(data)
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return path
