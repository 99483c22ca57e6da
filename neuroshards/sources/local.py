"""Shards in a local folder, and (opt-in) ``pipe:`` commands whose standard output is a file."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import BinaryIO

from neuroshards.errors import ShardError, ShardNotFoundError

SKIP_CHUNK = 1 << 20


class LocalFiles:
    kind = "local"

    def __init__(self, location: str):
        self.location = location

    def where(self, name: str) -> str:
        return os.path.join(self.location, name)

    def open(self, name: str, start: int, end: int | None = None, size: int | None = None) -> BinaryIO:
        """The file itself, unbuffered and seekable: the run reader fills its own buffer straight
        from it (no copy in between)."""
        where = self.where(name)
        try:
            handle = open(where, "rb", buffering=0)
        except FileNotFoundError:
            raise ShardNotFoundError(f"{where}: cannot open shard (no such file)") from None
        except OSError as error:
            raise ShardError(f"{where}: cannot open shard ({error.strerror})") from None
        handle.seek(start)
        return handle


class PipeFiles:
    """``pipe:`` templates: a shell command with ``{path}`` standing for a file of the directory
    (``"pipe:aws s3 cp s3://bucket/nmnist/{path} -"``)."""

    kind = "pipe"

    def __init__(self, location: str):
        self.location = location

    def where(self, name: str) -> str:
        return self.location.replace("{path}", shlex.quote(name))

    def open(self, name: str, start: int, end: int | None = None, size: int | None = None) -> BinaryIO:
        where = self.where(name)
        process = subprocess.Popen(where[len("pipe:") :], shell=True, stdout=subprocess.PIPE)
        stream = _PipeStream(process, where)
        count = start
        while count > 0:
            skipped = len(stream.read(min(count, SKIP_CHUNK)))
            if skipped == 0:
                stream.close()
                raise ShardError(f"{where}: ended {count} bytes before the requested offset")
            count -= skipped
        return stream  # type: ignore[return-value]


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

    def __enter__(self) -> _PipeStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
