"""Files that appear whole or not at all: written under a fresh temporary name beside their final
one, created exclusively (``O_EXCL``: never a file or a symlink planted there by someone else, as
``O_NOFOLLOW`` also refuses), then renamed over it. Shards, index files and spools all use it.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from typing import BinaryIO


def create_exclusive(path: Path) -> BinaryIO:
    """A new file opened for writing, created here; mode 0666 less the umask, as ``open`` gives."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.fdopen(os.open(path, flags, 0o666), "wb")


def temporary_beside(path: Path) -> tuple[Path, BinaryIO]:
    """(temporary path, open file) for ``path``'s content: a fresh name beside it, created exclusively."""
    for _attempt in range(100):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return temporary, create_exclusive(temporary)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def naming_path(error: OSError, path: Path | str) -> OSError:
    """``error`` with ``path`` as its file name when it has none (a write error names no file)."""
    if error.filename is None:
        return type(error)(error.errno, error.strerror or str(error), str(path))
    return error


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """``path`` holds ``data``, all of it or (after a failure) what it held before."""
    temporary, stream = temporary_beside(path)
    try:
        with stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise naming_path(error, path) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
