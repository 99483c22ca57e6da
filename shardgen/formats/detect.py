"""Which format a recording is in (header bytes first, then the file name), and opening it.

``open_recording`` opens a reader on a file on disk or inside an archive, passes it only the
options its format takes (``time_unit`` means nothing to EVT 3.0), and settles the sensor size:
an explicit ``sensor_size`` wins, else the header's, else a FormatError asks for one.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from .errors import FormatError
from .rawtree import RawFile
from .registry import FORMATS, EventReader, explicit_sensor_size, format_spec, open_reader

SNIFF_BYTES = 4096


def detect_format(head: bytes, name: str, *, source: str) -> str:
    """The registered format that ``head`` (the first bytes) or else ``name``'s suffix identifies."""
    for spec in FORMATS.values():
        if spec.sniff(head):
            return spec.name
    lowered = name.lower()
    by_suffix = [spec.name for spec in FORMATS.values() if lowered.endswith(spec.suffixes)]
    if len(by_suffix) == 1:
        return by_suffix[0]
    if by_suffix:
        raise FormatError(source, 0, f"the header does not say which of {by_suffix} this is; give the format explicitly")
    raise FormatError(source, 0, f"unknown event file format; known: {', '.join(sorted(FORMATS))}")


def reader_options(format_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``options`` that ``format_name``'s reader accepts."""
    accepted = inspect.signature(FORMATS[format_name].open).parameters
    return {key: value for key, value in options.items() if key in accepted and value is not None}


@contextlib.contextmanager
def open_recording(
    file: RawFile,
    format_name: str | None = None,
    *,
    sensor_size: tuple[int, int] | None = None,
    require_sensor_size: bool = True,
    **options: Any,
) -> Iterator[EventReader]:
    with file.open() as stream:
        if format_name is None:
            head = stream.read(SNIFF_BYTES)
            stream.seek(0)
            format_name = detect_format(head, file.name, source=file.location)
        else:
            format_spec(format_name, source=file.location)  # a known format, before any option is checked
        chosen = reader_options(format_name, {"sensor_size": sensor_size, **options})
        reader = open_reader(stream, format_name, source=file.location, **chosen)
        if sensor_size is not None:
            reader.sensor_size = explicit_sensor_size(sensor_size)
        if require_sensor_size and reader.sensor_size is None:
            raise FormatError(file.location, None, f"{format_name} header records no sensor size; give it (--sensor-size W H)")
        try:
            yield reader
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()
