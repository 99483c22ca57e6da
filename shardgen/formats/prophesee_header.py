"""The ``%`` text header shared by Prophesee RAW (EVT 2.0/3.0) and DAT files.

A header is a run of lines starting with ``%`` (``% key value``), ended by the first byte that is
not ``%`` or by a ``% end`` line (newer RAW files). What it may record:

* encoding: ``% evt 3.0`` (older RAW) or ``% format EVT3;height=720;width=1280`` (newer RAW);
* geometry: ``% geometry 1280x720``, the ``format`` line's ``height``/``width``, or DAT's
  ``% Height 240`` / ``% Width 304``;
* for RAW files without geometry (older ones), the camera plugin
  (``% plugin_name hal_plugin_gen3_fx3``), whose sensor generation has a known geometry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from .blocks import at_least_one_chunk, new_events, record_blocks, split_chunk
from .errors import FormatError, checked_sensor_size, guarded
from .registry import FormatSpec, explicit_sensor_size, register_format

MAX_HEADER_BYTES = 1 << 20
_READ = 4096

# Sensor generations named in RAW plugin names, most specific first: (substring, (W, H)).
_PLUGIN_GEOMETRY = (
    ("gen41", (1280, 720)),
    ("imx636", (1280, 720)),
    ("gen4", (1280, 720)),
    ("gen31", (640, 480)),
    ("gen3", (640, 480)),
)


@dataclass
class PropheseeHeader:
    #: ``key -> value`` of every ``% key value`` line (first occurrence wins).
    fields: dict[str, str] = field(default_factory=dict)
    #: Byte offset of the first byte after the header.
    data_offset: int = 0
    #: Bytes already read past the header (hand them to the payload reader first).
    pending: bytes = b""

    @property
    def present(self) -> bool:
        return self.data_offset > 0

    def encoding(self) -> str | None:
        """``"evt2"``, ``"evt3"``, ``"evt21"``, ... as declared, else None."""
        fmt = self.fields.get("format")
        if fmt:
            return fmt.split(";", 1)[0].strip().lower() or None
        evt = self.fields.get("evt")
        if evt:
            return "evt" + evt.strip().removesuffix(".0").replace(".", "")
        return None

    def sensor_size(self, source: str = "<header>") -> tuple[int, int] | None:
        """(W, H) as recorded, else from the plugin's sensor generation, else None; a recorded size
        outside 1..65535 per side is a FormatError naming ``source``."""
        size = self._recorded_size()
        return checked_sensor_size(*size, source=source, where="'%' header geometry") if size else None

    def _recorded_size(self) -> tuple[int, int] | None:
        options = dict(part.split("=", 1) for part in self.fields.get("format", "").split(";")[1:] if "=" in part)
        if "width" in options and "height" in options:
            return _size(options["width"], options["height"])
        geometry = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", self.fields.get("geometry", ""))
        if geometry:
            return _size(*geometry.groups())
        lowered = {key.lower(): value for key, value in self.fields.items()}
        if "width" in lowered and "height" in lowered:
            return _size(lowered["width"], lowered["height"])
        plugin = self.fields.get("plugin_name", "").lower()
        for needle, size in _PLUGIN_GEOMETRY:
            if needle in plugin:
                return size
        return None


def _size(width: str, height: str) -> tuple[int, int] | None:
    try:
        return int(width), int(height)
    except ValueError:
        return None


def parse_header_bytes(head: bytes) -> PropheseeHeader:
    """Parse the header lines wholly contained in ``head`` (for sniffing; never raises)."""
    header = PropheseeHeader()
    position = 0
    while head[position : position + 1] == b"%":
        end = head.find(b"\n", position)
        if end < 0 or not _is_text(head[position:end]):
            break
        line = head[position:end]
        _add_line(header, line)
        position = header.data_offset = end + 1
        if line.strip() == b"% end":
            break
    return header


def read_header(stream: BinaryIO, *, source: str) -> PropheseeHeader:
    """Read the header from the start of ``stream``; the returned ``pending`` bytes follow it."""
    buffer = bytearray()
    exhausted = False

    def read_more() -> None:
        nonlocal exhausted
        if len(buffer) > MAX_HEADER_BYTES:
            raise FormatError(source, len(buffer), f"'%' header longer than {MAX_HEADER_BYTES} bytes")
        more = stream.read(_READ)
        exhausted = not more
        buffer.extend(more)

    header = PropheseeHeader()
    position = 0
    while True:
        while len(buffer) <= position and not exhausted:
            read_more()
        if buffer[position : position + 1] != b"%":
            break
        end = buffer.find(b"\n", position)
        while end < 0 and not exhausted and _is_text(buffer[position:]):
            read_more()
            end = buffer.find(b"\n", position)
        if end < 0 and _is_text(buffer[position:]):
            raise FormatError(source, position, "file ends inside the '%' header: truncated")
        line = bytes(buffer[position:end])
        if end < 0 or not _is_text(line):
            break  # binary data that happens to start with '%' (files without a '% end' line)
        _add_line(header, line)
        position = end + 1
        if line.strip() == b"% end":
            break
    header.data_offset = position
    header.pending = bytes(buffer[position:])
    return header


_TEXT = frozenset(range(0x20, 0x7F)) | {0x09, 0x0D}


def _is_text(line: bytes | bytearray) -> bool:
    """Header lines are printable ASCII; event words almost never are for a whole line."""
    return all(byte in _TEXT for byte in line)


def _add_line(header: PropheseeHeader, line: bytes) -> None:
    text = line[1:].decode("latin-1").strip()
    if not text:
        return
    key, _, value = text.partition(" ")
    header.fields.setdefault(key, value.strip())


# Word-stream decoding shared by EVT 2.0 and EVT 3.0 ----------------------------------------

#: Slots of a kernel's ``state`` array that report an error (the rest is the decoder's own state).
ERROR_CODE, ERROR_WORD = 0, 1
Kernel = Callable[..., tuple[int, int]]


class WordStreamReader:
    """A RAW file: ``%`` header, then little-endian words decoded by a stateful numba kernel.

    ``kernel(words, state, t, x, y, p, width, height) -> (events written, words consumed)``
    stops early when the output is full and sets ``state[ERROR_CODE]`` / ``state[ERROR_WORD]``
    on invalid input. ``errors`` maps the kernel's error codes to messages.
    """

    encoding: str
    word_dtype: np.dtype
    kernel: Kernel
    state_size: int
    #: Most events one word can produce (the output is never smaller).
    events_per_word: int
    errors: dict[int, str]

    @property
    def format_name(self) -> str:
        return self.encoding

    def __init__(self, stream: BinaryIO, *, source: str, sensor_size: tuple[int, int] | None = None):
        self.stream, self.source = stream, source
        self._open(explicit_sensor_size(sensor_size))  # a bad explicit size is the caller's ValueError

    @guarded()
    def _open(self, sensor_size: tuple[int, int] | None) -> None:
        source, stream = self.source, self.stream
        self.header = read_header(stream, source=source)
        declared = self.header.encoding()
        if declared is not None and declared != self.encoding:
            raise FormatError(source, 0, f"header declares {declared!r}, not {self.encoding!r}")
        self.sensor_size = sensor_size or self.header.sensor_size(source)

    @guarded()
    @at_least_one_chunk
    def chunks(self, max_events: int = 1 << 20) -> Iterator[dict[str, np.ndarray]]:
        word_bytes = self.word_dtype.itemsize
        capacity = max(max_events, self.events_per_word)
        width, height = self.sensor_size or (0, 0)
        state = np.zeros(self.state_size, np.int64)
        out, filled = new_events(capacity), 0
        blocks = record_blocks(
            self.stream,
            source=self.source,
            record_bytes=word_bytes,
            records_per_block=max(capacity // self.events_per_word, 1 << 16),
            offset=self.header.data_offset,
            pending=self.header.pending,
        )
        for offset, data in blocks:
            words = np.frombuffer(data, self.word_dtype)
            start = 0
            while start < len(words):
                n, used = type(self).kernel(
                    words[start:],
                    state,
                    out["t"][filled:],
                    out["x"][filled:],
                    out["y"][filled:],
                    out["p"][filled:],
                    width,
                    height,
                )
                filled += n
                if state[ERROR_CODE]:
                    word = start + int(state[ERROR_WORD])
                    problem = self.errors[int(state[ERROR_CODE])].format(word=int(words[word]), width=width, height=height)
                    raise FormatError(self.source, offset + word * word_bytes, problem)
                start += used
                if start < len(words):  # the output is full
                    yield from split_chunk({k: v[:filled] for k, v in out.items()}, max_events)
                    out, filled = new_events(capacity), 0
        if filled:
            yield from split_chunk({k: v[:filled] for k, v in out.items()}, max_events)


def register_raw_encoding(reader: type[WordStreamReader], description: str) -> FormatSpec:
    """Register a RAW encoding's reader, recognised by the encoding its header declares."""
    return register_format(
        FormatSpec(
            name=reader.encoding,
            suffixes=(".raw",),
            open=reader,
            sniff=lambda head: parse_header_bytes(head).encoding() == reader.encoding,
            description=description,
        )
    )
