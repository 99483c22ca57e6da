"""Where conversion output goes: a local folder, or object storage (``s3://``, ``gs://``, ``az://``).

A URL output is written to a local staging folder first (``NEUROSHARDS_STAGING_DIR``, default the
system's temporary folder). Each shard is uploaded as soon as the writer completes it, a few at a
time in the background, and deleted locally: staging holds a few shards, never the dataset. When
the conversion is done, the index files go up last, ``index.samples`` then ``index.json`` (each
object appears whole), so a reader never finds an index whose shards are missing; then shards of an
earlier run that the new index does not name are removed (of this part only, for ``--part``).
A crashed run leaves at most shards that no index names: rerun the same command.

Credentials, endpoints, timeouts and retries are those of reading (``neuroshards.sources.objects`` and
``neuroshards.sources.remote``). Local output takes the same path with nothing to upload.
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from neuroshards.errors import ShardError
from neuroshards.index import DatasetIndex, load_index, samples_file_name, save_index
from neuroshards.sources import ShardStore
from neuroshards.sources.objects import OBJECT_SCHEMES, ObjectFiles, split_object_url, url_scheme
from neuroshards.sources.remote import PERMANENT_ERRORS, Attempts, RemoteOptions

UPLOADS_IN_FLIGHT = 4


def is_url(location: str | os.PathLike) -> bool:
    return url_scheme(os.fspath(location)) is not None


def output_location(text: str | os.PathLike) -> str | Path:
    """``--out``: a local folder (a Path) or an object storage URL (checked here, before any work)."""
    scheme = url_scheme(os.fspath(text))
    if scheme is None:
        return Path(text)
    if scheme not in OBJECT_SCHEMES:
        supported = ", ".join(f"{name}://" for name in OBJECT_SCHEMES)
        reason = "HTTP is read-only here" if scheme in ("http", "https") else f"unknown scheme '{scheme}://'"
        raise ValueError(f"{text}: cannot write there ({reason}); write to a local folder or to {supported}")
    split_object_url(os.fspath(text))  # a bucket must be named
    return os.fspath(text).rstrip("/")


def _objects(url: str):

    return ObjectFiles(url, RemoteOptions.from_environment())


def upload(files, local: Path, name: str) -> None:
    """``local`` -> object ``name`` under ``files``' prefix, retried within the read budget; the
    object's size is checked after the upload."""
    where = files.where(name)
    attempts = Attempts(where, f"uploading {local}", files.options)
    size = local.stat().st_size
    while True:
        try:
            files.fs.put_file(str(local), files.path(name))
            uploaded = files.fs.info(files.path(name), refresh=True)["size"]
            if uploaded != size:
                raise OSError(f"the object holds {uploaded} bytes after the upload of {size}")
            return
        except ShardError:
            raise
        except PERMANENT_ERRORS as error:
            raise ShardError(f"{where}: cannot upload ({type(error).__name__}: {error}); does the bucket exist?") from None
        except Exception as error:  # noqa: BLE001 - the SDKs' own errors too; retried, then named
            attempts.failed(error)


class OutputTarget:
    """The staging folder the writer writes into, and how its files reach the output."""

    def __init__(self, out: str | os.PathLike):
        location = output_location(out)
        self.location = location
        self.files = None if isinstance(location, Path) else _objects(location)
        if self.files is None:
            self.staging = Path(location)
        else:
            self.staging = Path(tempfile.mkdtemp(prefix="shardgen-staging-", dir=os.environ.get("NEUROSHARDS_STAGING_DIR")))
            self._pool = concurrent.futures.ThreadPoolExecutor(UPLOADS_IN_FLIGHT, thread_name_prefix="upload")
            self._uploads: list[concurrent.futures.Future] = []

    @property
    def on_shard(self) -> Callable[[Path], None] | None:
        return None if self.files is None else self._shard_written

    def _shard_written(self, path: Path) -> None:
        self._wait(keep=2 * UPLOADS_IN_FLIGHT)  # staging holds a few shards, whatever the upload speed

        def send() -> None:
            upload(self.files, path, path.name)
            path.unlink()

        self._uploads.append(self._pool.submit(send))

    def _wait(self, keep: int = 0) -> None:
        while len(self._uploads) > keep:
            self._uploads.pop(0).result()

    def publish(self, index_name: str, shard_prefix: str = "") -> None:
        """After the writer saved ``index_name`` in staging: the remaining uploads, then the index
        files, then the removal of shards the new index does not name."""
        if self.files is None:
            return
        self._wait()
        index = load_index(self.staging / index_name)
        publish_index_files(self.files, self.staging, index_name)
        from .sink import SHARD_NAME

        keep = {shard.path for shard in index.shards}
        for name in self.files.list():
            if shard_prefix in name and SHARD_NAME.match(name) and name not in keep:
                self.files.fs.rm_file(self.files.path(name))

    def close(self) -> None:
        if self.files is not None:
            for future in self._uploads:
                future.cancel()
            self._pool.shutdown(wait=True)
            shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> OutputTarget:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def output_target(out: str | os.PathLike) -> OutputTarget:
    return OutputTarget(out)


def publish_index_files(files, folder: Path, index_name: str) -> None:
    """The sample columns, then the header that names them."""
    upload(files, folder / samples_file_name(index_name), samples_file_name(index_name))
    upload(files, folder / index_name, index_name)


# Merging parts over URLs ------------------------------------------------------------------------


def list_names(location: str | os.PathLike, pattern: str) -> list[str]:
    """Names of the files of a folder or URL prefix that match ``pattern``."""
    if is_url(location):
        return [name for name in _objects(os.fspath(location)).list() if fnmatch.fnmatch(name, pattern)]
    return sorted(path.name for path in Path(location).glob(pattern))


def remove_names(location: str | os.PathLike, names) -> None:
    """Delete the files ``names`` of a folder or URL prefix (``shardgen.conversion.engines``: what an earlier
    run into the same output left)."""
    if is_url(location):
        files = _objects(os.fspath(location))
        for name in names:
            files.fs.rm_file(files.path(name))
        return
    for name in names:
        (Path(location) / name).unlink(missing_ok=True)


def read_index(location: str | os.PathLike, name: str) -> DatasetIndex:
    if is_url(location):
        return ShardStore(os.fspath(location)).load_index(name)
    return load_index(Path(location) / name)


def relative_path(directory: str | os.PathLike, name: str, out: str | os.PathLike) -> str:
    """The path of ``directory/name`` relative to the folder ``out`` (both local, or both URLs of one scheme)."""
    if is_url(directory) != is_url(out):
        raise ValueError(f"{directory} and {out}: the parts and the merged index must both be local or both URLs")
    if not is_url(out):
        return Path(os.path.relpath(Path(directory) / name, out)).as_posix()
    (scheme, root), (out_scheme, out_root) = split_object_url(os.fspath(directory)), split_object_url(os.fspath(out))
    if scheme != out_scheme:
        raise ValueError(f"{directory} and {out}: the parts and the merged index must be in one kind of storage")
    return posixpath.relpath(posixpath.join(root, name), out_root)


def write_index(index: DatasetIndex, out: str | os.PathLike, name: str) -> str:
    """Save ``index`` as ``out/name`` (``out`` a folder or URL); returns where it is."""
    if not is_url(out):
        Path(out).mkdir(parents=True, exist_ok=True)
        return str(save_index(index, out, name))
    files = _objects(os.fspath(out))
    with tempfile.TemporaryDirectory(prefix="shardgen-index-") as folder:
        save_index(index, folder, name)
        publish_index_files(files, Path(folder), name)
    return files.where(name)
