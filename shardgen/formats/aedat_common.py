"""Pieces shared by the iniVation readers (AEDAT 2.0, 3.1, 4.0): the ``#`` text header, the known
chips and their sensor sizes, and bounded reads from a stream of known or unknown size.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import BinaryIO

from .errors import FormatError

# Header lines are short; a longer "line" means the file is not a text header at all.
MAX_HEADER_LINE = 1 << 20
READ_BLOCK = 1 << 16
# Bytes that never occur in a line of header text (tab and CR do).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# jAER chip class names (``# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C``) and cAER source
# names (``#Source 1: DAVIS240C``) -> (address layout of AEDAT 2.0, (width, height)).
_CHIPS: tuple[tuple[re.Pattern, str, tuple[int, int]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), layout, size)
    for pattern, layout, size in (
        (r"DVS128|Tmpdiff128", "dvs128", (128, 128)),
        (r"DAVIS240|DVS240|SBret10", "davis", (240, 180)),
        (r"DAVIS346", "davis", (346, 260)),
        (r"DAVIS128", "davis", (128, 128)),
        (r"DAVIS208", "davis", (208, 192)),
        (r"DAVIS640|DAVISRGBW640", "davis", (640, 480)),
    )
)


def chip_facts(name: str | None) -> tuple[str, tuple[int, int]] | None:
    """(address layout, (width, height)) of a chip named in a header, or None when unknown."""
    if name:
        for pattern, layout, size in _CHIPS:
            if pattern.search(name):
                return layout, size
    return None


@dataclass
class TextHeader:
    lines: list[str]
    #: Byte offset of the first byte after the header.
    end: int
    #: Bytes already read from the stream beyond the header.
    rest: bytes

    def value(self, pattern: str) -> str | None:
        """The first group of ``pattern`` matched against each header line, or None."""
        regex = re.compile(pattern)
        for line in self.lines:
            match = regex.search(line)
            if match:
                return match.group(1).strip()
        return None


def read_text_header(stream: BinaryIO, source: str, *, end_marker: bytes | None = None) -> TextHeader:
    """The ``#`` lines at the start of ``stream`` (ending in CRLF or LF).

    Without ``end_marker`` the header ends at the first line that does not start with ``#``
    (jAER's rule: binary data follows the last header line directly), or that holds a control
    character: binary data whose first byte happens to be ``#`` is not taken for a line (jAER,
    SpikingJelly and Tonic would). With it, the header ends after the line equal to the marker,
    which must come before any other line.
    """
    buffer = b""
    position = 0
    lines: list[str] = []
    at_end = False
    while True:
        if position >= len(buffer) and not at_end:
            block = stream.read(READ_BLOCK)
            at_end = not block
            buffer = buffer[position:] + block
            position = 0
            continue
        if position >= len(buffer) or buffer[position : position + 1] != b"#":
            if end_marker is not None:
                raise FormatError(source, _offset(lines), f"header has no {end_marker.decode()!r} line")
            return TextHeader(lines, _offset(lines), buffer[position:])
        newline = buffer.find(b"\n", position)
        binary = _CONTROL.search(buffer, position, newline if newline >= 0 else len(buffer))
        if binary is not None:  # a record that starts with the byte '#', not a line of text
            if end_marker is not None:
                raise FormatError(source, _offset(lines), f"header has no {end_marker.decode()!r} line")
            return TextHeader(lines, _offset(lines), buffer[position:])
        if newline < 0:
            if at_end:
                raise FormatError(source, _offset(lines), "header line is not terminated (truncated file?)")
            if len(buffer) - position > MAX_HEADER_LINE:
                raise FormatError(source, _offset(lines), f"header line longer than {MAX_HEADER_LINE} bytes")
            block = stream.read(READ_BLOCK)
            at_end = not block
            buffer = buffer[position:] + block
            position = 0
            continue
        raw = buffer[position : newline + 1]
        lines.append(raw.decode("latin-1"))
        position = newline + 1
        if end_marker is not None and raw.rstrip(b"\r\n") == end_marker:
            return TextHeader(lines, _offset(lines), buffer[position:])


def _offset(lines: list[str]) -> int:
    return sum(len(line) for line in lines)  # latin-1: one character per byte


def read_exact(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the stream), read in bounded blocks so a
    corrupted length cannot allocate more memory than the file holds."""
    if size <= READ_BLOCK:
        return stream.read(size)
    parts = []
    remaining = size
    while remaining:
        block = stream.read(min(remaining, 1 << 24))
        if not block:
            break
        parts.append(block)
        remaining -= len(block)
    return b"".join(parts)


def stream_size(stream: BinaryIO) -> int | None:
    """The size in bytes of a stream that is a plain file on disk, else None (archive members)."""
    if not isinstance(getattr(stream, "raw", stream), io.FileIO):
        return None
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, ValueError):
        return None
