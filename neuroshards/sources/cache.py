"""A local cache of whole remote shards, bounded in bytes, least recently used evicted first."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from neuroshards.errors import IntegrityError

if TYPE_CHECKING:
    from . import ShardStore

COPY_CHUNK = 1 << 20


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
            with os.fdopen(handle, "wb") as out, store.open(name, 0, size=size) as stream:
                while block := stream.read(COPY_CHUNK):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != sha256:
                raise IntegrityError(f"{store.where(name)}: sha256 {digest.hexdigest()} differs from the index's {sha256}")
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
