"""The instances a studio may read: the files it was started with and the files uploaded to
it (saved in its own folder). Nothing else on disk is read: CSV tables an instance names are
read only from its own folder, as the loader confines them."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from optimizer.errors import InstanceError, UsageError
from optimizer.instance.loader import Instance, instance_from_raw, read_raw_instance

MAX_UPLOAD_BYTES = 16 * 2**20
"""Largest instance file accepted from the browser."""


@dataclass(frozen=True)
class Entry:
    """One instance: its id, name, file, and the file as read (CSV tables read in)."""

    id: str
    name: str
    file: str
    raw: Mapping[str, Any]
    digest: str
    error: str = ""
    field: str = ""

    def public(self) -> dict[str, Any]:
        out = {"id": self.id, "name": self.name, "file": self.file}
        if self.error:
            out.update(error=self.error, field=self.field)
        return out


class Catalog:
    """Instances by id (thread-safe)."""

    def __init__(self, files: list[str | Path], upload_dir: Path) -> None:
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self.upload_dir = upload_dir
        upload_dir.mkdir(parents=True, exist_ok=True)
        for path in files:
            self.add_file(Path(path))
        for path in sorted(upload_dir.glob("*.yaml")):
            self.add_file(path)

    def add_file(self, path: Path) -> Entry:
        """Read ``path`` (the loader's limits and confinement apply); a file that does not
        read or validate is listed with its error."""
        path = path.resolve()
        key = hashlib.sha256(str(path).encode()).hexdigest()[:10]
        try:
            read = read_raw_instance(path)
            raw, digest = read.raw, read.digest
            name = str(raw.get("name") or path.stem)
            error = field = ""
            try:
                instance_from_raw(raw, path, None, digest)
            except InstanceError as exc:
                error, field = str(exc), exc.field
        except InstanceError as exc:
            raw, digest, name, error, field = {}, "", path.stem, str(exc), exc.field
        entry = Entry(id=key, name=name, file=str(path), raw=raw, digest=digest, error=error,
                      field=field)
        with self._lock:
            self._entries[key] = entry
        return entry

    def upload(self, filename: str, content: bytes) -> Entry:
        """Save an uploaded instance file in the studio's folder and read it."""
        if len(content) > MAX_UPLOAD_BYTES:
            raise UsageError(f"{filename}: larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        stem = "".join(ch for ch in Path(filename).stem if ch.isalnum() or ch in "-_") or "upload"
        digest = hashlib.sha256(content).hexdigest()[:8]
        target = self.upload_dir / f"{stem}-{digest}.yaml"
        target.write_bytes(content)
        return self.add_file(target)

    def get(self, key: str) -> Entry:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def all(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def instance(self, key: str, overrides: Mapping[str, Any] | None = None) -> Instance:
        """The validated instance ``key`` with ``overrides`` (dotted path -> value).

        Raises:
            KeyError: no such instance. InstanceError: the overrides (or the file) are bad.
        """
        entry = self.get(key)
        if not entry.raw:
            raise InstanceError(entry.file, entry.field, entry.error)
        return instance_from_raw(dict(entry.raw), entry.file, dict(overrides or {}),
                                 entry.digest)
