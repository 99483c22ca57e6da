"""The guard that makes every reader raise only ``FormatError`` for bad input, and the plausible ranges.

``FormatError`` itself lives with the project's other errors in ``neuroshards.errors``.

Error behaviour of every raw reader (``shardgen.formats.*``) and of the dataset adapters' parsing:
bytes that are not a valid recording raise :class:`FormatError` naming the file, the format and,
where known, the byte offset; nothing else escapes a reader for bad input. Native decoders
(the Rust ``aedat`` package, h5py, zstandard, scipy.io, zipfile/zlib) raise their own types, and
a Rust panic is a ``BaseException`` that passes every ``except Exception``: :func:`guarded`
turns all of those into a FormatError (the original kept as ``__cause__``). Lengths, counts and
offsets read from a file are bounded before use (numba kernels do not check indices), so no input
can crash the process.

Plausible ranges (anything outside is a FormatError, never a silent wrap):

* sensor sides read from a header: 1 .. 65535 (coordinates are stored as uint16);
* timestamps: int64 µs. Where reading converts them in a way that could wrap (unsigned 64-bit
  values, a unit conversion such as ms -> µs, decimal text, AEDAT 3.1 overflow counters) the
  result must lie within ``|t| < 2**62`` µs (about 146,000 years), so that differences between
  timestamps fit int64; signed 64-bit µs values are taken as stored (AEDAT 4, int64 columns).
  Formats whose timestamps are unsigned by definition cannot produce negative ones.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from neuroshards.errors import FormatError

MAX_SENSOR_SIDE = 65535
#: Timestamps (µs) must lie strictly within ±MAX_TIMESTAMP_US.
MAX_TIMESTAMP_US = 1 << 62


def is_native_panic(error: BaseException) -> bool:
    """A panic of a Rust extension (pyo3's ``PanicException``, a BaseException subclass)."""
    return type(error).__name__ == "PanicException"


def as_format_error(error: BaseException, source: str, format: str | None) -> FormatError:
    """``error`` raised while reading ``source`` as a FormatError (a FormatError gains the format)."""
    if isinstance(error, FormatError):
        if error.format is None:
            error.format = format
        return error
    what = "the native decoder panicked" if is_native_panic(error) else f"{type(error).__name__}"
    message = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
    converted = FormatError(source, None, f"unreadable ({what}: {message[:300]})", format=format)
    converted.__cause__ = error
    return converted


F = TypeVar("F", bound=Callable[..., Any])


def _reraise(error: BaseException, source: str, format: str | None) -> None:
    """Raise ``error`` as a FormatError; interrupts and exits pass through unchanged."""
    if isinstance(error, FormatError):
        if error.format is None:
            error.format = format
        raise error
    if isinstance(error, ImportError):  # a missing optional package, not a bad file
        raise error
    if isinstance(error, Exception) or is_native_panic(error):
        raise as_format_error(error, source, format) from error
    raise error


def _source_of(args, kwargs) -> str:
    """The file a reader method or read function works on: a ``source`` argument, else the
    ``source`` (reader, task) or ``location`` (RawFile) of its first argument."""
    if kwargs.get("source"):
        return str(kwargs["source"])
    first = args[0] if args else None
    return str(getattr(first, "source", None) or getattr(first, "location", None) or "<stream>")


def guarded(format: str | None = None) -> Callable[[F], F]:
    """Decorate a reader method or read function (plain or generator) so every error it raises for
    bad bytes is a FormatError naming the file (see ``_source_of``) and ``format`` (None: the
    reader's ``format_name`` attribute); interrupts (KeyboardInterrupt, SystemExit, GeneratorExit)
    pass through unchanged."""

    def decorate(method: F) -> F:
        def format_of(args) -> str | None:
            return format or getattr(args[0] if args else None, "format_name", None)

        if inspect.isgeneratorfunction(method):

            @functools.wraps(method)
            def generator(*args, **kwargs):
                try:
                    yield from method(*args, **kwargs)
                except BaseException as error:  # noqa: BLE001 - a Rust panic is a BaseException
                    _reraise(error, _source_of(args, kwargs), format_of(args))

            return generator  # type: ignore[return-value]

        @functools.wraps(method)
        def plain(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - a Rust panic is a BaseException
                _reraise(error, _source_of(args, kwargs), format_of(args))

        return plain  # type: ignore[return-value]

    return decorate


def checked_sensor_size(width: Any, height: Any, *, source: str, where: str) -> tuple[int, int]:
    """A sensor size read from a file: both sides whole numbers in 1..65535, else a FormatError."""
    try:
        size = (int(width), int(height))
    except (TypeError, ValueError, OverflowError):
        raise FormatError(source, None, f"{where}: sensor size {width!r} x {height!r} is not a pair of whole numbers") from None
    if not all(1 <= side <= MAX_SENSOR_SIDE for side in size):
        raise FormatError(source, None, f"{where}: sensor size {size[0]} x {size[1]} outside 1..{MAX_SENSOR_SIDE} per side")
    return size
