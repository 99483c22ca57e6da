"""Every raw event format by name: how to recognise it and how to open a chunked reader on it.

A reader streams: ``chunks(max_events)`` yields event dicts (t int64 µs, x/y uint16, p uint8, in
file order) of at most ``max_events`` events, so a multi-GB recording is never held whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from neuroshards.events import Events

from .errors import MAX_SENSOR_SIDE, FormatError


class EventReader(Protocol):
    #: (W, H) read from the file's header, or None when the format does not record it.
    sensor_size: tuple[int, int] | None

    def chunks(self, max_events: int = 1 << 20) -> Iterator[Events]: ...


@dataclass(frozen=True)
class FormatSpec:
    name: str
    #: File name endings that suggest the format (lower case, with the dot).
    suffixes: tuple[str, ...]
    #: ``open(stream, source=..., **options)`` -> EventReader.
    open: Callable[..., EventReader]
    #: True when the first bytes of a file (up to 4 KiB) identify this format for certain.
    sniff: Callable[[bytes], bool] = field(default=lambda head: False)
    description: str = ""


FORMATS: dict[str, FormatSpec] = {}


def register_format(spec: FormatSpec) -> FormatSpec:
    if spec.name in FORMATS:
        raise ValueError(f"format {spec.name!r} registered twice")
    FORMATS[spec.name] = spec
    return spec


def format_spec(format_name: str, *, source: str) -> FormatSpec:
    """The registered format ``format_name``; a FormatError naming ``source`` when there is none."""
    try:
        return FORMATS[format_name]
    except KeyError:
        raise FormatError(source, None, f"unknown format {format_name!r}; known: {', '.join(sorted(FORMATS))}") from None


def open_reader(stream: BinaryIO, format_name: str, *, source: str, **options) -> EventReader:
    return format_spec(format_name, source=source).open(stream, source=source, **options)


def starts_with(magic: bytes) -> Callable[[bytes], bool]:
    """A format's sniff test: the file's first bytes are ``magic``."""
    return lambda head: head.startswith(magic)


def explicit_sensor_size(sensor_size) -> tuple[int, int] | None:
    """A sensor size given by the caller, (W, H[, P]), as a reader's (W, H); None when not given;
    a ValueError when a side is outside 1..65535 (coordinates are uint16)."""
    if not sensor_size:
        return None
    size = (int(sensor_size[0]), int(sensor_size[1]))
    if not all(1 <= side <= MAX_SENSOR_SIDE for side in size):
        raise ValueError(f"sensor size {size[0]} x {size[1]}: each side must lie in 1..{MAX_SENSOR_SIDE}")
    return size
