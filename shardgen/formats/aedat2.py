"""AEDAT 2.0 (jAER): ``#`` header lines, then big-endian (u32 address, u32 timestamp µs) records.

The header ends at the first line that does not start with ``#`` (jAER's rule; lines end in
CRLF or LF). The address layout decides what an address means:

* ``dvs128``: x = (a >> 1) & 0x7F, y = (a >> 8) & 0x7F, p = a & 1 (DVS128, MNIST-DVS,
  CIFAR10-DVS), every record an event, as SpikingJelly's and Tonic's readers take them.
* ``davis``: jAER's DAVIS chips (DAVIS240, DAVIS346, ...): x = (a >> 12) & 0x3FF,
  y = (a >> 22) & 0x1FF, p = (a >> 11) & 1; only polarity events are kept: APS and IMU samples
  (bit 31 set) and external-input events (bit 10 set) are dropped.

Coordinates are the address bits as stored; jAER's viewer shows DAVIS columns mirrored
(x' = width - 1 - x). Timestamps are the file's unsigned 32-bit values (no wrap handling).
The layout defaults to the one of the chip named by the header's ``# AEChip:`` line, else dvs128.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from .aedat_common import TextHeader, chip_facts, read_text_header
from .blocks import record_blocks
from .errors import FormatError, guarded
from .registry import Events, FormatSpec, register_format, starts_with

RECORD_BYTES = 8
MAGIC = b"#!AER-DAT2"

DAVIS_NOT_POLARITY = np.uint32(0x8000_0400)  # bit 31: APS/IMU sample; bit 10: external input


def _words(records: np.ndarray) -> np.ndarray:
    """The (address, timestamp) big-endian u32 pairs of records given as an [n, 8] uint8 array."""
    return records.view(">u4")


def decode_dvs128(records: np.ndarray) -> Events:
    # Only the low 16 address bits matter: bytes 2 (y) and 3 (x, p) of each big-endian record.
    low = records[:, 3]
    return {
        "t": _words(records)[:, 1].astype(np.int64),
        "x": (low >> 1).astype(np.uint16),
        "y": (records[:, 2] & 0x7F).astype(np.uint16),
        "p": low & 1,
    }


def decode_davis(records: np.ndarray) -> Events:
    words = _words(records)
    address = words[:, 0].astype(np.uint32)
    keep = (address & DAVIS_NOT_POLARITY) == 0
    address = address[keep]
    return {
        "t": words[keep, 1].astype(np.int64),
        "x": ((address >> 12) & 0x3FF).astype(np.uint16),
        "y": ((address >> 22) & 0x1FF).astype(np.uint16),
        "p": ((address >> 11) & 1).astype(np.uint8),
    }


ADDRESS_LAYOUTS: dict[str, Callable[[np.ndarray], Events]] = {
    "dvs128": decode_dvs128,
    "davis": decode_davis,
}


class Aedat2Reader:
    """Chunked reader of one AEDAT 2.0 stream (consumed once)."""

    format_name = "aedat2"

    @guarded()
    def __init__(self, stream: BinaryIO, *, source: str, layout: str | None = None):
        self.stream, self.source = stream, source
        self.header: TextHeader = read_text_header(stream, source)
        if self.header.lines and not self.header.lines[0].startswith(MAGIC.decode()):
            version = self.header.lines[0].strip()
            if version.startswith("#!AER-DAT"):
                raise FormatError(source, 0, f"not AEDAT 2.0 but {version[2:]!r}")
        self.chip = self.header.value(r"^#\s*AEChip:\s*(\S+)")
        facts = chip_facts(self.chip)
        if layout is None:
            layout = facts[0] if facts else "dvs128"
        if layout not in ADDRESS_LAYOUTS:
            raise FormatError(source, None, f"unknown AEDAT 2.0 address layout {layout!r}; known: {', '.join(ADDRESS_LAYOUTS)}")
        self.layout = layout
        #: (width, height) of the chip named in the header; for dvs128 without a chip line, 128 x 128.
        self.sensor_size: tuple[int, int] | None = facts[1] if facts else ((128, 128) if layout == "dvs128" else None)

    @guarded()
    def records(self, max_events: int = 1 << 20) -> Iterator[np.ndarray]:
        """Blocks of at most ``max_events`` records as [n, 8] uint8 arrays; one empty block for
        an empty recording."""
        produced = False
        for _offset, block in record_blocks(
            self.stream,
            source=self.source,
            record_bytes=RECORD_BYTES,
            records_per_block=max_events,
            offset=self.header.end,
            pending=self.header.rest,
        ):
            produced = True
            yield np.frombuffer(block, dtype=np.uint8).reshape(-1, RECORD_BYTES)
        if not produced:
            yield np.empty((0, RECORD_BYTES), dtype=np.uint8)

    @guarded()
    def raw_chunks(self, max_events: int = 1 << 20) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(address, timestamp)`` uint32 arrays of every record, in file order (any layout)."""
        for records in self.records(max_events):
            words = _words(records)
            yield words[:, 0].astype(np.uint32), words[:, 1].astype(np.uint32)

    @guarded()
    def chunks(self, max_events: int = 1 << 20) -> Iterator[Events]:
        yield from map(ADDRESS_LAYOUTS[self.layout], self.records(max_events))


register_format(
    FormatSpec(
        name="aedat2",
        suffixes=(".aedat",),
        open=Aedat2Reader,
        sniff=starts_with(MAGIC),
        description="AEDAT 2.0 (jAER): big-endian address/timestamp records; layouts dvs128, davis",
    )
)
