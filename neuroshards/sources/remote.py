"""What every remote read shares: timeouts, a bounded retry budget with exponential backoff, and a
stream that survives a broken connection by asking again from the byte it reached.

The settings come from ``RemoteOptions`` (defaults, or ``NEUROSHARDS_*`` environment variables so
that DataLoader workers and every rank see the same ones without plumbing):

    NEUROSHARDS_CONNECT_TIMEOUT   seconds to connect                          (default 10)
    NEUROSHARDS_READ_TIMEOUT      seconds to wait for the next bytes          (default 60)
    NEUROSHARDS_RETRIES           failed attempts in a row before giving up   (default 5)
    NEUROSHARDS_RETRY_SECONDS     longest time spent retrying one read        (default 120)
    NEUROSHARDS_RETRY_BACKOFF     first wait before a retry, doubled each time (default 0.2, at most 10)
"""

from __future__ import annotations

import http.client
import io
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from neuroshards.errors import ShardError

LONGEST_BACKOFF_S = 10.0
READ_CHUNK = 1 << 20


class TransientError(Exception):
    """A failure worth another attempt (a dropped connection, a timeout, a 5xx answer, a body that
    does not match what was asked): raised by the openers, counted by ``Attempts``."""


def _environment_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name}={text!r} must not be negative")
    return value


@dataclass(frozen=True)
class RemoteOptions:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 5  # failed attempts in a row (no byte received between them) before giving up
    retry_seconds: float = 120.0  # longest time spent retrying one read, backoff included
    backoff: float = 0.2  # first wait before a retry; doubles with each failure in a row

    @classmethod
    def from_environment(cls) -> RemoteOptions:
        return cls(
            connect_timeout=_environment_number("NEUROSHARDS_CONNECT_TIMEOUT", cls.connect_timeout),
            read_timeout=_environment_number("NEUROSHARDS_READ_TIMEOUT", cls.read_timeout),
            retries=int(_environment_number("NEUROSHARDS_RETRIES", cls.retries)),
            retry_seconds=_environment_number("NEUROSHARDS_RETRY_SECONDS", cls.retry_seconds),
            backoff=_environment_number("NEUROSHARDS_RETRY_BACKOFF", cls.backoff),
        )

    def describe(self) -> str:
        return f"connect timeout {self.connect_timeout:g} s, read timeout {self.read_timeout:g} s"


# Errors of the network layers that another attempt may cure; anything else is a bug or a refusal.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    TimeoutError,
    socket.timeout,
    ConnectionError,
    http.client.HTTPException,
    OSError,
)
# OSErrors that no retry cures.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (FileNotFoundError, PermissionError, IsADirectoryError)


def describe_error(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, (TimeoutError, socket.timeout)) and "timed out" not in text:
        text = f"timed out ({text})"
    return text if isinstance(error, TransientError) else f"{type(error).__name__}: {text}"


class Attempts:
    """The retry budget of one read: at most ``retries`` failures in a row and ``retry_seconds``
    since the first of them; any byte received starts a new budget. Waits back off exponentially
    (with jitter, so that many workers do not hammer a recovering server in step)."""

    def __init__(self, where: str, what: str, options: RemoteOptions):
        self.where, self.what, self.options = where, what, options
        self.total = 0
        self._in_a_row = 0
        self._since: float | None = None

    def failed(self, error: BaseException) -> None:
        """Sleep before the next attempt, or raise ``ShardError`` naming what was tried."""
        self.total += 1
        self._in_a_row += 1
        now = time.monotonic()
        if self._since is None:
            self._since = now
        delay = min(LONGEST_BACKOFF_S, self.options.backoff * 2 ** (self._in_a_row - 1)) * random.uniform(0.5, 1.0)
        spent = now - self._since
        if self._in_a_row > self.options.retries or spent + delay > self.options.retry_seconds:
            raise ShardError(
                f"{self.where}: {self.what} failed after {self.total} attempts in {spent:.1f} s "
                f"({self.options.describe()}, at most {self.options.retries} retries in a row within "
                f"{self.options.retry_seconds:g} s, resuming with Range requests); last error: {describe_error(error)}"
            ) from None
        time.sleep(delay)

    def progressed(self) -> None:
        self._in_a_row = 0
        self._since = None


# Opens bytes ``position`` to ``end`` (None: to the end of the file) of one file; returns the
# stream and the end of what it will deliver (the file's size when ``end`` is None and known).
RangeOpener = Callable[[int, "int | None"], "tuple[BinaryIO, int | None]"]


class ResumableStream(io.RawIOBase):
    """Bytes ``start:end`` of a remote file. A connection that breaks, stalls past the read timeout
    or ends before ``end`` is opened again from the byte reached (a Range request), within the
    retry budget; what is delivered is only ever the bytes asked for, in order."""

    def __init__(
        self,
        where: str,
        opener: RangeOpener,
        start: int,
        end: int | None,
        options: RemoteOptions,
        retry_on: tuple[type[BaseException], ...] = NETWORK_ERRORS,
    ):
        super().__init__()
        self.where, self.opener, self.options, self.retry_on = where, opener, options, retry_on
        self.position, self.end = start, end
        self.attempts = Attempts(where, f"reading from byte {start}", options)
        self._raw: BinaryIO | None = None
        self._open()  # fail early: a missing file is reported by open(), not by the first read

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        while self._raw is None:
            try:
                self._raw, end = self.opener(self.position, self.end)
                if self.end is None:
                    self.end = end
            except ShardError:
                raise
            except PERMANENT_ERRORS as error:
                raise ShardError(f"{self.where}: {describe_error(error)}") from None
            except self.retry_on as error:
                self.attempts.failed(error)

    def _drop(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped anyway
                pass

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self.end is not None:
            view = view[: max(0, self.end - self.position)]
        if not len(view):
            return 0
        while True:
            self._open()
            try:
                got = self._raw.readinto(view)  # type: ignore[union-attr]
            except ShardError:
                raise
            except PERMANENT_ERRORS as error:
                raise ShardError(f"{self.where} at byte {self.position}: {describe_error(error)}") from None
            except self.retry_on as error:
                self._drop()
                self.attempts.failed(error)
                continue
            if got:
                self.position += got
                self.attempts.progressed()
                return got
            if self.end is None:
                return 0  # the file's end (its size was not announced)
            self._drop()
            self.attempts.failed(
                TransientError(
                    f"the connection closed at byte {self.position}, {self.end - self.position} bytes before the end asked for"
                )
            )

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(READ_CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._drop()
        super().close()
