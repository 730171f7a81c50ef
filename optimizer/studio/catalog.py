"""The instances a studio may read: the files it was started with and the files uploaded to
it (saved in its own folder). Nothing else on disk is read: CSV tables an instance names are
read only from its own folder, as the loader confines them.

An upload is a YAML instance, or a zip of one YAML instance and the CSV tables it names (no
folders, links or other files). It is read and validated in a staging folder first: an
invalid upload is refused with its one-line error and nothing is kept."""
from __future__ import annotations

import hashlib
import io
import shutil
import stat
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from optimizer.errors import InstanceError, UsageError
from optimizer.instance.loader import Instance, instance_from_raw, read_raw_instance

MAX_UPLOAD_BYTES = 16 * 2**20
"""Largest instance file (or zip, or zip's content once unpacked) accepted from the browser."""

MAX_ZIP_MEMBERS = 64
"""Most files a zip upload may hold (its YAML and its CSV tables)."""

STUDIO_HINT = " (or from a folder named with --data-dir)"
"""The CLI's hint that does not apply in the studio (it has no --data-dir)."""


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
        for path in sorted(upload_dir.glob("*.yaml")) + sorted(upload_dir.glob("*/*.yaml")):
            if not path.relative_to(upload_dir).parts[0].startswith("."):   # staging
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
        error = error.replace(STUDIO_HINT, "")
        entry = Entry(id=key, name=name, file=str(path), raw=raw, digest=digest, error=error,
                      field=field)
        with self._lock:
            self._entries[key] = entry
        return entry

    def upload(self, filename: str, content: bytes) -> Entry:
        """Read and validate an uploaded instance (a YAML file, or a zip of one YAML file and
        its CSV tables) and keep it in the studio's folder.

        Raises:
            UsageError: too large, empty, or a zip that holds folders, links, more than
                ``MAX_ZIP_MEMBERS`` files or not exactly one YAML file.
            InstanceError: the instance does not read or validate (its one-line error, named
                by the uploaded file's name); nothing is kept.
        """
        if len(content) > MAX_UPLOAD_BYTES:
            raise UsageError(f"{filename}: larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        if not content.strip():
            raise UsageError(f"{filename}: the file is empty")
        stem = "".join(ch for ch in Path(filename).stem if ch.isalnum() or ch in "-_") or "upload"
        digest = hashlib.sha256(content).hexdigest()[:8]
        staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=self.upload_dir))
        try:
            if content[:4] == b"PK\x03\x04":
                yaml_name = _unpack(filename, content, staging)
                target = self.upload_dir / f"{stem}-{digest}"
            else:
                yaml_name = "instance.yaml"
                (staging / yaml_name).write_bytes(content)
                target = self.upload_dir / f"{stem}-{digest}.yaml"
            _validate(staging / yaml_name, filename)
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            if target.suffix == ".yaml":
                (staging / yaml_name).replace(target)
                return self.add_file(target)
            staging.replace(target)
            return self.add_file(target / yaml_name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

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


def _unpack(filename: str, content: bytes, folder: Path) -> str:
    """Unpack a zip upload into ``folder``: flat files only (a YAML instance and .csv tables),
    none a link, within the size limits. Returns the YAML file's name."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UsageError(f"{filename}: not a readable zip ({exc})") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise UsageError(f"{filename}: {len(members)} files; a zip upload holds one YAML "
                         f"instance and its CSV tables (at most {MAX_ZIP_MEMBERS})")
    if sum(m.file_size for m in members) > MAX_UPLOAD_BYTES:
        raise UsageError(f"{filename}: larger than {MAX_UPLOAD_BYTES // 2**20} MB unpacked")
    yamls = []
    for member in members:
        name = member.filename
        mode = member.external_attr >> 16
        if member.is_dir() or "/" in name.strip("/") or "\\" in name or name.startswith(
                ("/", ".")) or stat.S_ISLNK(mode):
            raise UsageError(f"{filename}: {name!r}: a zip upload holds plain files only, "
                             "no folders or links")
        if name.lower().endswith((".yaml", ".yml")):
            yamls.append(name)
        elif not name.lower().endswith(".csv"):
            raise UsageError(f"{filename}: {name!r}: only a YAML instance and .csv tables")
        (folder / name).write_bytes(archive.read(member))
    if len(yamls) != 1:
        raise UsageError(f"{filename}: holds {len(yamls)} YAML files; expected exactly one")
    return yamls[0]


def _validate(path: Path, filename: str) -> None:
    """Read and validate the staged instance; its error names the uploaded file."""
    try:
        read = read_raw_instance(path)
        instance_from_raw(read.raw, path, None, read.digest)
    except InstanceError as exc:
        field = exc.field
        raise InstanceError(filename, field, exc.reason.replace(STUDIO_HINT, "")) from None
