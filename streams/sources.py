"""Where shard bytes come from: a local directory, an http(s):// URL, or (opt-in) a ``pipe:`` command.

A ``ShardStore`` names a location (the folder or URL prefix of ``index.json``) and hands out byte
ranges of its shards. Readers ask for runs in plan order; a run that starts where the previous one
ended in the same shard continues the open stream, so a shard-level epoch reads each shard with
one sequential stream per DataLoader worker. Remote reads use HTTP range requests (``urllib``, no
subprocess); a server without range support is read from the start and the bytes before the run
skipped. With ``cache_dir``, remote shards are downloaded whole (sha256-checked against the index)
into a cache bounded by ``cache_bytes``, least recently used shards evicted first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

from neuroshards.index import INDEX_NAME, DatasetIndex, IndexFileError, load_index, parse_index

from neuroshards.errors import ShardError

HTTP_TIMEOUT_S = 60
_SKIP_CHUNK = 1 << 20


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


class ShardStore:
    """Byte access to the shards of one shard directory (local path, URL or ``pipe:`` template).

    ``pipe:`` locations are shell command templates with ``{path}`` standing for a file of the
    directory (``"pipe:aws s3 cp s3://bucket/nmnist/{path} -"``); they run only with ``allow_pipe``.
    """

    def __init__(
        self,
        location: str | os.PathLike,
        *,
        cache_dir: str | os.PathLike | None = None,
        cache_bytes: int = 16 << 30,
        allow_pipe: bool = False,
    ):
        location = os.fspath(location)
        self.kind = "http" if _is_url(location) else "pipe" if location.startswith("pipe:") else "local"
        if self.kind == "pipe" and not allow_pipe:
            raise ValueError(f"{location}: 'pipe:' runs a shell command; pass allow_pipe=True to opt in")
        if self.kind == "http":
            if location.endswith(INDEX_NAME):
                location = location[: -len(INDEX_NAME)]
            self.location = location if location.endswith("/") else location + "/"
        elif self.kind == "local":
            path = Path(location)
            self.location = str(path.parent if path.name == INDEX_NAME or path.is_file() else path)
        else:
            self.location = location
        self.cache = ShardCache(cache_dir, cache_bytes) if cache_dir is not None and self.kind != "local" else None

    def __repr__(self) -> str:
        return f"ShardStore({self.location!r})"

    def where(self, name: str) -> str:
        """The URL, path or command of file ``name`` of the directory (for reading and for messages)."""
        if self.kind == "http":
            return urllib.parse.urljoin(self.location, name)
        if self.kind == "pipe":
            return self.location.replace("{path}", shlex.quote(name))
        return os.path.join(self.location, name)

    def load_index(self) -> DatasetIndex:
        if self.kind == "local":
            return load_index(self.location)
        where = self.where(INDEX_NAME)
        with self.open(INDEX_NAME, 0) as stream:
            data = stream.read()
        try:
            header = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise IndexFileError(f"{where}: not valid JSON ({error})") from None

        def read_samples(name: str, size: int) -> bytes:
            with self.open(name, 0) as stream:
                return stream.read()

        return parse_index(header, read_samples, source=where, directory=self.location)

    def open(self, name: str, start: int) -> BinaryIO:
        """A stream of file ``name`` from byte ``start`` on."""
        where = self.where(name)
        if self.kind == "local":
            try:
                handle = open(where, "rb", buffering=0)
            except OSError as error:
                raise ShardError(f"{where}: cannot open shard ({error.strerror})") from None
            handle.seek(start)
            return handle
        if self.kind == "pipe":
            process = subprocess.Popen(where[len("pipe:") :], shell=True, stdout=subprocess.PIPE)
            return _skip(_PipeStream(process, where), start, where)
        request = urllib.request.Request(where, headers={"Range": f"bytes={start}-"} if start else {})
        try:
            response = urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)
        except (urllib.error.URLError, OSError) as error:
            raise ShardError(f"{where}: cannot fetch ({getattr(error, 'reason', error)})") from None
        if start and response.status != 206:  # the server ignores ranges: skip what comes before
            return _skip(response, start, where)
        return response

    def read_range(self, name: str, start: int, end: int) -> bytes:
        """Bytes ``start:end`` of file ``name`` in one positioned read (a ranged request remotely)."""
        with self.open(name, start) as stream:
            data = bytearray(end - start)
            _read_into(stream, memoryview(data), self.where(name), start)
        return bytes(data)

    def local_copy(self, name: str, size: int, sha256: str) -> str | None:
        """The cached file of a remote shard (downloaded now if needed), or None without a cache."""
        if self.cache is None:
            return None
        return self.cache.fetch(self, name, size, sha256)


def _skip(stream: BinaryIO, count: int, where: str) -> BinaryIO:
    while count > 0:
        skipped = len(stream.read(min(count, _SKIP_CHUNK)))
        if skipped == 0:
            raise ShardError(f"{where}: ended {count} bytes before the requested offset")
        count -= skipped
    return stream


class _PipeStream:
    """A command's stdout as a closable stream; a failing command is an error, not a short shard."""

    def __init__(self, process: subprocess.Popen, where: str):
        self.process, self.where = process, where

    def read(self, size: int = -1) -> bytes:
        data = self.process.stdout.read(size)  # type: ignore[union-attr]
        if (not data or size < 0) and self.process.wait() != 0:
            raise ShardError(f"{self.where}: command failed with status {self.process.returncode}")
        return data

    def readinto(self, view) -> int:
        got = self.process.stdout.readinto(view)  # type: ignore[union-attr]
        if not got and self.process.wait() != 0:
            raise ShardError(f"{self.where}: command failed with status {self.process.returncode}")
        return got

    def close(self) -> None:
        self.process.stdout.close()  # type: ignore[union-attr]
        self.process.wait()

    def __enter__(self) -> "_PipeStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ShardCache:
    """Whole remote shards in ``directory``, at most ``max_bytes`` in all (the shard being read
    excepted), least recently used evicted first. Safe for several processes: files appear by
    atomic rename, and a shard evicted while another process reads it stays readable (POSIX)."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)

    def fetch(self, store: ShardStore, name: str, size: int, sha256: str) -> str:
        # One cache may serve several stores: the file name keeps the shard's content hash.
        target = self.directory / f"{sha256[:16]}-{Path(name).name}"
        if target.exists() and target.stat().st_size == size:
            os.utime(target)
            return str(target)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".part")
        digest = hashlib.sha256()
        try:
            with os.fdopen(handle, "wb") as out, store.open(name, 0) as stream:
                while block := stream.read(_SKIP_CHUNK):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != sha256:
                raise ShardError(f"{store.where(name)}: sha256 {digest.hexdigest()} differs from the index's {sha256}")
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
        self.evict(keep=target)
        return str(target)

    def evict(self, keep: Path) -> None:
        entries = []
        for path in self.directory.iterdir():
            if path.name.startswith(".") or path == keep:
                continue
            try:
                status = path.stat()
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
            entries.append((status.st_mtime, status.st_size, path))
        total = keep.stat().st_size + sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


def _read_into(stream: BinaryIO, view: memoryview, where: str, start: int) -> None:
    """Fill ``view`` from ``stream``; network and pipe reads may return less than asked."""
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])
        if not got:
            raise ShardError(
                f"{where} at byte {start + filled}: shard ends early ({filled} of {len(view)} bytes of a run "
                "the index locates here); the shard is truncated or changed after its index was written"
            )
        filled += got


class RunReader:
    """Reads byte runs of shards in plan order, keeping the current shard's stream open so that
    consecutive runs continue one sequential read (one range request per shard and worker)."""

    def __init__(self, stores: list[ShardStore], files: list[tuple[int, str, int, str]]):
        self.stores = stores
        self.files = files  # per shard id: (store number, name in its directory, bytes, sha256)
        self._shard = -1
        self._position = 0
        self._stream: BinaryIO | None = None
        self._seekable = False
        self._buffer = bytearray()  # reused: fresh allocations per run cost page faults

    def where(self, shard: int) -> str:
        store, name, _, _ = self.files[shard]
        return self.stores[store].where(name)

    def read(self, shard: int, start: int, end: int) -> memoryview:
        """Bytes ``start:end`` of shard number ``shard``; valid until the next call."""
        if shard != self._shard or not (self._seekable or start == self._position):
            self.close()
            store_number, name, size, sha256 = self.files[shard]
            store = self.stores[store_number]
            cached = store.local_copy(name, size, sha256)
            if cached is not None:
                self._stream, self._seekable = open(cached, "rb", buffering=0), True
                self._stream.seek(start)
            else:
                self._stream, self._seekable = store.open(name, start), store.kind == "local"
            self._shard = shard
        elif self._seekable and start != self._position:
            self._stream.seek(start)  # type: ignore[union-attr]
        if len(self._buffer) < end - start:
            self._buffer = bytearray(end - start)
        view = memoryview(self._buffer)[: end - start]
        _read_into(self._stream, view, self.where(shard), start)  # type: ignore[arg-type]
        self._position = end
        return view

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream, self._shard = None, -1

