"""What the user downloaded, seen as one tree of files: an extracted folder or the archives in it.

Dataset adapters list and read files by their path inside the dataset (``Train/3/00012.bin``),
whether that file lies on disk or inside ``Train.zip``, so nothing has to be extracted first.
A ``RawFile`` is small and picklable, so conversion workers open archives themselves.

Archive members are read decompressed up to a limit (``max_member_bytes``: 8 GiB by default,
``NEUROSHARDS_MAX_MEMBER_BYTES`` or ``shardgen convert --max-member-bytes`` to change it); a member
that declares more is a RawInputError naming it, before anything is decompressed. Zip and tar
members never yield more than they declare, so the declared size bounds what is read.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from neuroshards.errors import RawInputError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
DEFAULT_MAX_MEMBER_BYTES = 8 << 30
MAX_MEMBER_BYTES_VARIABLE = "NEUROSHARDS_MAX_MEMBER_BYTES"


def max_member_bytes() -> int:
    """The largest archive member read (decompressed), from the environment or the default."""
    value = os.environ.get(MAX_MEMBER_BYTES_VARIABLE)
    try:
        return int(value) if value else DEFAULT_MAX_MEMBER_BYTES
    except ValueError:
        raise RawInputError(f"{MAX_MEMBER_BYTES_VARIABLE}={value!r} is not a number of bytes") from None


def check_member_size(declared: int, location: str) -> None:
    """A RawInputError when an archive member declares more than ``max_member_bytes()``."""
    limit = max_member_bytes()
    if declared > limit:
        raise RawInputError(
            f"{location}: archive member expands to {declared} bytes, over the limit of {limit} "
            f"(raise it with --max-member-bytes or {MAX_MEMBER_BYTES_VARIABLE})"
        )


@dataclass(frozen=True, order=True)
class RawFile:
    """One file of the raw dataset: ``relpath`` inside the dataset, stored on disk or in an archive."""

    relpath: str
    disk_path: str
    member: str | None = None

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]

    @property
    def location(self) -> str:
        """Where the bytes come from, for error messages."""
        return f"{self.disk_path}:{self.member}" if self.member else self.disk_path

    def read_bytes(self) -> bytes:
        if self.member is None:
            with open(self.disk_path, "rb", buffering=0) as handle:  # unbuffered: one read, no copy
                return handle.readall()
        with self.open() as handle:
            return handle.read()

    def open(self):
        """A binary file object (seekable for files on disk and zip members); archive members are
        checked against ``max_member_bytes()`` first."""
        if self.member is None:
            return open(self.disk_path, "rb")
        if self.disk_path.endswith(".zip"):
            archive = _open_zip(self.disk_path)
            check_member_size(archive.getinfo(self.member).file_size, self.location)
            return archive.open(self.member)
        archive = _open_tar(self.disk_path)
        check_member_size(archive.getmember(self.member).size, self.location)
        extracted = archive.extractfile(self.member)
        if extracted is None:
            raise RawInputError(f"{self.location}: not a regular file")
        return extracted


# One open handle per archive per process: workers read many members of the same archive.
@functools.lru_cache(maxsize=16)
def _open_zip(path: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


@functools.lru_cache(maxsize=4)
def _open_tar(path: str) -> tarfile.TarFile:
    return tarfile.open(path)


def is_archive(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def scan(root: str | os.PathLike, *, archives: Iterable[str] | None = None) -> list[RawFile]:
    """Every file under ``root`` (a folder or one archive), archives opened in place, sorted by path.

    ``archives`` limits which archive names are opened (others are listed as plain files).
    """
    root = Path(root)
    if not root.exists():
        raise RawInputError(f"{root}: no such file or folder")
    wanted = set(archives) if archives is not None else None
    files: list[RawFile] = []
    candidates = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]  # sorted once, below
    for path in candidates:
        relpath = path.name if path == root else path.relative_to(root).as_posix()
        if is_archive(path) and (wanted is None or path.name in wanted):
            files.extend(_archive_members(path))
        else:
            files.append(RawFile(relpath, str(path)))
    return sorted(files)


def _archive_members(path: Path) -> Iterator[RawFile]:
    try:
        if path.name.lower().endswith(".zip"):
            names = [info.filename for info in _open_zip(str(path)).infolist() if not info.is_dir()]
        else:
            names = [info.name for info in _open_tar(str(path)).getmembers() if info.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as error:
        raise RawInputError(f"{path}: cannot open archive ({error})") from error
    for name in names:
        if "__MACOSX" in name.split("/"):
            continue
        yield RawFile(name.lstrip("./"), str(path), name)


def md5sum(path: str | os.PathLike, chunk_bytes: int = 1 << 22) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def verify_archives(root: str | os.PathLike, resources: list[tuple[str, str, str]]) -> list[str]:
    """Check the MD5 of every known archive present under ``root``; return the names checked.

    Raises RawInputError naming the file when a checksum differs.
    """
    root = Path(root)
    checked = []
    expected = {name: md5 for name, _url, md5 in resources}
    candidates = [root] if root.is_file() else sorted(path for path in root.rglob("*") if path.name in expected)
    for path in candidates:
        if path.is_file() and path.name in expected:
            actual = md5sum(path)
            if actual != expected[path.name]:
                raise RawInputError(
                    f"{path}: MD5 {actual} differs from the published {expected[path.name]}; "
                    "the download is incomplete or a different release (pass verify=False / --no-verify to skip)"
                )
            checked.append(path.name)
    return checked
