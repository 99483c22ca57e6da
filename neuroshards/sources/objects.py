"""Shards in object storage (``s3://``, ``gs://``, ``az://``) through fsspec: s3fs, gcsfs or adlfs,
installed with the ``neuroshards[s3]``, ``[gcs]``, ``[azure]`` (or ``[cloud]``) extras.

Credentials and endpoints come from each cloud's own environment variables and config files, as
its SDK reads them (``AWS_ACCESS_KEY_ID``/``AWS_PROFILE``/``~/.aws``, ``GOOGLE_APPLICATION_CREDENTIALS``,
``AZURE_STORAGE_ACCOUNT_NAME``/``AZURE_STORAGE_CONNECTION_STRING``, ...; Azure's default credential
chain unless ``AZURE_STORAGE_ANON`` says otherwise). ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (an S3-compatible server: MinIO, Ceph, R2, a local test server) is passed to
s3fs explicitly, as older botocore releases ignore it.

Reads go through the same ``ResumableStream`` as HTTP: a sequential stream is a series of ranged
GETs (fsspec's read-ahead blocks), reopened at the byte reached after a failure, each object's size
checked against the index first; a random read (``read_range``) is one ranged GET of exactly the
bytes asked for.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
from typing import Any, BinaryIO

from neuroshards.errors import IntegrityError, ShardError, ShardNotFoundError

from .remote import PERMANENT_ERRORS, RemoteOptions, ResumableStream, TransientError

# Scheme -> (fsspec protocol, the package that provides it, the extra that installs it).
OBJECT_SCHEMES = {
    "s3": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gcs"),
    "gcs": ("gcs", "gcsfs", "gcs"),
    "az": ("az", "adlfs", "azure"),
    "abfs": ("abfs", "adlfs", "azure"),
}
URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
STREAM_BLOCK_BYTES = 8 << 20  # one ranged GET per 8 MB of a sequential read


def url_scheme(location: str) -> str | None:
    """``"s3"`` for ``"s3://bucket/x"``; None for a local path (``pipe:`` included)."""
    match = URL_SCHEME.match(location)
    return match[1].lower() if match else None


def split_object_url(url: str) -> tuple[str, str]:
    """``"s3://bucket/a/b/"`` -> ``("s3", "bucket/a/b")``."""
    scheme = url_scheme(url)
    if scheme not in OBJECT_SCHEMES:
        raise ValueError(f"{url}: not an object storage URL ({', '.join(f'{s}://' for s in OBJECT_SCHEMES)})")
    path = url[len(scheme) + 3 :].strip("/")  # type: ignore[arg-type]
    if not path:
        raise ValueError(f"{url}: no bucket or container named")
    return scheme, path  # type: ignore[return-value]


_filesystems: dict[tuple[str, int, str], Any] = {}


def object_filesystem(scheme: str, options: RemoteOptions):
    """The fsspec filesystem for ``scheme``, configured from the environment, one per process
    (after a fork the child makes its own: an event loop does not survive a fork)."""
    protocol, package, extra = OBJECT_SCHEMES[scheme]
    arguments = _filesystem_arguments(protocol, options)
    key = (protocol, os.getpid(), repr(arguments))  # the endpoint is read from the environment each time
    if key not in _filesystems:
        try:
            import fsspec

            __import__(package)
        except ImportError:
            raise ShardError(f"{scheme}:// needs {package}: pip install 'neuroshards[{extra}]'") from None
        filesystem = fsspec.filesystem(protocol, **arguments)
        if protocol == "s3":
            filesystem.retries = 2  # s3fs's own loop (5 by default, up to 15 s apart) under ours
        _filesystems[key] = filesystem
    return _filesystems[key]


def _filesystem_arguments(protocol: str, options: RemoteOptions) -> dict[str, Any]:
    if protocol in ("az", "abfs"):
        # adlfs reads AZURE_STORAGE_* itself but is anonymous unless told otherwise: without an
        # explicit AZURE_STORAGE_ANON, use Azure's default credential chain (az login, managed identity).
        return {} if "AZURE_STORAGE_ANON" in os.environ else {"anon": False}
    if protocol != "s3":
        return {}  # gcsfs reads its credentials (and STORAGE_EMULATOR_HOST) from the environment itself
    # Our own retries (``RemoteOptions``) bound the count and time: the SDK's are cut to one more try.
    config = {
        "connect_timeout": options.connect_timeout,
        "read_timeout": options.read_timeout,
        "retries": {"max_attempts": 2, "mode": "standard"},
    }
    arguments: dict[str, Any] = {"config_kwargs": config}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        arguments["endpoint_url"] = endpoint
    return arguments


class ObjectFiles:
    """The objects under one prefix of a bucket (or container)."""

    kind = "object"

    def __init__(self, location: str, options: RemoteOptions):
        self.scheme, self.root = split_object_url(location)
        self.location = f"{self.scheme}://{self.root}/"
        self.options = options

    @property
    def fs(self):
        return object_filesystem(self.scheme, self.options)

    def path(self, name: str) -> str:
        """The object's path for fsspec (``bucket/prefix/name``; ``..`` resolved, as merged indexes
        may point into a sibling folder)."""
        return posixpath.normpath(posixpath.join(self.root, name))

    def where(self, name: str) -> str:
        return f"{self.scheme}://{self.path(name)}"

    def _open_object(self, name: str, size: int | None):
        where = self.where(name)
        try:
            handle = self.fs.open(self.path(name), "rb", block_size=STREAM_BLOCK_BYTES, cache_type="readahead")
        except FileNotFoundError:
            raise ShardNotFoundError(f"{where}: not found") from None
        except PERMANENT_ERRORS as error:
            raise ShardError(f"{where}: cannot open ({type(error).__name__}: {error})") from None
        if size is not None and handle.size != size:
            handle.close()
            raise IntegrityError(
                f"{where}: the object holds {handle.size} bytes, the index records {size}: the shard changed after its index was written"
            )
        return handle

    def open(self, name: str, start: int, end: int | None = None, size: int | None = None) -> ResumableStream:
        def opener(position: int, stop: int | None) -> tuple[BinaryIO, int | None]:
            if end is not None:  # a bounded (random) read: one ranged GET of exactly those bytes
                try:
                    data = self.fs.cat_file(self.path(name), start=position, end=stop)
                except FileNotFoundError:
                    raise ShardNotFoundError(f"{self.where(name)}: not found") from None
                if len(data) != stop - position:  # type: ignore[operator]
                    raise TransientError(f"asked for bytes {position}-{stop - 1}, the answer holds {len(data)} bytes")  # type: ignore[operator]
                return io.BytesIO(data), stop
            handle = self._open_object(name, size)
            handle.seek(position)
            return handle, stop if stop is not None else handle.size

        # The cloud SDKs raise errors of their own besides OSError (botocore's, aiohttp's): any
        # failure but a refusal (ShardError, not found, no permission) is worth another attempt.
        return ResumableStream(self.where(name), opener, start, end, self.options, retry_on=(Exception,))

    # Writing and listing (shardgen's output) ---------------------------------------------------

    def exists(self, name: str) -> bool:
        return self.fs.exists(self.path(name))

    def list(self) -> list[str]:
        """Names of the files directly under the prefix."""
        try:
            entries = self.fs.ls(self.root, detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(posixpath.basename(entry.rstrip("/")) for entry in entries)
