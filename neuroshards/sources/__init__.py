"""Where shard bytes come from: a local folder, an http(s):// URL, object storage (``s3://``,
``gs://``, ``az://`` through fsspec), or (opt-in) a ``pipe:`` command.

A ``ShardStore`` names a location (the folder, URL or prefix of ``index.json``) and hands out byte
ranges of its shards. Readers ask for runs in plan order; a run that starts where the previous one
ended in the same shard continues the open stream, so a shard-level epoch reads each shard with
one sequential stream per DataLoader worker. Remote reads (``http``, ``objects``) share timeouts,
bounded retries with backoff and resumption from the byte reached (``remote``); every answer is
checked against the size the index records. With ``cache_dir``, remote shards are downloaded whole
(sha256-checked against the index) into a cache bounded by ``cache_bytes`` (``cache``).

One module per kind: ``local`` (and ``pipe:``), ``http``, ``objects``, ``cache``; ``runs`` holds
the run reader and the per-sample checks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO

from neuroshards.errors import IndexFileError, ShardError, ShardNotFoundError
from neuroshards.index import INDEX_NAME, DatasetIndex, load_index, parse_index

from .cache import ShardCache
from .http import HttpFiles
from .local import LocalFiles, PipeFiles
from .objects import OBJECT_SCHEMES, ObjectFiles, url_scheme
from .remote import RemoteOptions
from .runs import RunReader, read_into

SUPPORTED = "a local folder, http(s)://, " + ", ".join(f"{scheme}://" for scheme in OBJECT_SCHEMES) + " or pipe:"


def _files(location: str, options: RemoteOptions | None):
    """The backend of ``location`` (with ``index.json`` stripped from a URL)."""
    scheme = url_scheme(location)
    if scheme is None:
        if location.startswith("pipe:"):
            return PipeFiles(location)
        path = Path(location)
        return LocalFiles(str(path.parent if path.name == INDEX_NAME or path.is_file() else path))
    if location.endswith(INDEX_NAME):
        location = location[: -len(INDEX_NAME)]
    options = options or RemoteOptions.from_environment()
    if scheme in ("http", "https"):
        return HttpFiles(location, options)
    if scheme in OBJECT_SCHEMES:
        return ObjectFiles(location, options)
    raise ValueError(f"{location}: unknown scheme '{scheme}://'; shards can be read from {SUPPORTED}")


class ShardStore:
    """Byte access to the files of one shard directory (local path, URL or ``pipe:`` template).

    ``pipe:`` locations are shell command templates with ``{path}`` standing for a file of the
    directory; they run only with ``allow_pipe``. ``remote`` sets timeouts and retries of remote
    reads (default: ``RemoteOptions.from_environment()``, the ``NEUROSHARDS_*`` variables).
    """

    def __init__(
        self,
        location: str | os.PathLike,
        *,
        cache_dir: str | os.PathLike | None = None,
        cache_bytes: int = 16 << 30,
        allow_pipe: bool = False,
        remote: RemoteOptions | None = None,
    ):
        location = os.fspath(location)
        if location.startswith("pipe:") and not allow_pipe:
            raise ValueError(f"{location}: 'pipe:' runs a shell command; pass allow_pipe=True to opt in")
        self.files = _files(location, remote)
        self.kind: str = self.files.kind
        self.location: str = self.files.location
        self.cache = ShardCache(cache_dir, cache_bytes) if cache_dir is not None and self.kind != "local" else None

    def __repr__(self) -> str:
        return f"ShardStore({self.location!r})"

    def where(self, name: str) -> str:
        """The URL, path or command of file ``name`` of the directory (for reading and for messages)."""
        return self.files.where(name)

    def load_index(self, name: str = INDEX_NAME) -> DatasetIndex:
        """The index (``name``: a partial index of ``--part`` conversions); local ones are memory-mapped."""
        if self.kind == "local":
            return load_index(self.where(name))
        where = self.where(name)
        try:
            data = self.read_file(name)
        except ShardNotFoundError:
            raise IndexFileError(f"{where}: no index; convert a dataset first (shardgen convert ...)") from None
        except ShardError as error:
            raise IndexFileError(f"cannot read the index: {error}") from None
        try:
            header = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise IndexFileError(f"{where}: not valid JSON ({error})") from None

        def read_samples(samples_name: str, size: int) -> bytes:
            try:
                return self.read_file(samples_name)
            except ShardError as error:
                raise IndexFileError(f"cannot read the sample columns: {error}") from None

        return parse_index(header, read_samples, source=where, directory=self.location)

    def read_file(self, name: str) -> bytes:
        """A whole (small) file of the directory: the index files."""
        with self.open(name, 0) as stream:
            return stream.read() if self.kind == "pipe" else stream.readall()

    def open(self, name: str, start: int, *, end: int | None = None, size: int | None = None) -> BinaryIO:
        """A stream of file ``name`` from byte ``start`` on (to ``end`` only, remotely, when given:
        one exact ranged request); ``size``: the file's size as the index records it, checked
        against what a remote server announces."""
        return self.files.open(name, start, end=end, size=size)

    def read_range(self, name: str, start: int, end: int) -> bytes:
        """Bytes ``start:end`` of file ``name`` in one positioned read (a ranged request remotely)."""
        with self.files.open(name, start, end=end) as stream:
            data = bytearray(end - start)
            read_into(stream, memoryview(data), self.where(name), start)
        return bytes(data)

    def local_copy(self, name: str, size: int, sha256: str) -> str | None:
        """The cached file of a remote shard (downloaded now if needed), or None without a cache."""
        if self.cache is None:
            return None
        return self.cache.fetch(self, name, size, sha256)


__all__ = [
    "RemoteOptions",
    "RunReader",
    "ShardCache",
    "ShardNotFoundError",
    "ShardStore",
]
