"""AEDAT 3.1 (cAER / jAER): ``#`` header up to ``#!END-HEADER``, then packets.

Each packet is a 28-byte little-endian header (i16 type, i16 source, i32 event size, i32
timestamp offset, i32 timestamp overflow, i32 capacity, i32 number, i32 valid) followed by
``capacity * size`` bytes of events. Only polarity packets (type 1) are decoded, every event of
them as SpikingJelly's ``load_aedat_v3`` reads them (also those not marked valid, unless
``valid_only``): data u32 with x = bits 17-31, y = bits 2-16, p = bit 1, and
t = timestamp | overflow << 31. Other packet types are skipped by their declared length.

The file is read in blocks of a few MiB, each decoded with one vectorised step.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

import numpy as np

from .errors import FormatError
from .blocks import rechunk
from .inivation import TextHeader, chip_facts, read_exact, read_text_header, starts_with, stream_size
from .registry import Events, FormatSpec, register_format

MAGIC = b"#!AER-DAT3"
END_HEADER = b"#!END-HEADER"
PACKET_HEADER = struct.Struct("<HHIIIIII")
POLARITY_EVENT = 1
READ_BYTES = 1 << 22


def decode_block(pending: bytes, valid_only: bool = False) -> tuple[Events, int, int | None, int]:
    """Decode the whole packets at the start of ``pending``: a Python step per packet header, one
    vectorised decode of all their polarity events. Returns (events, bytes consumed, offset of a
    polarity packet whose events are not 8 bytes with the timestamp at 4 or None, bytes needed
    for the next packet, 0 when the block ends on a packet boundary)."""
    payloads: list[memoryview] = []
    counts: list[int] = []
    overflows: list[int] = []
    view = memoryview(pending)
    position, end, need, bad = 0, len(pending), 0, None
    while position < end:
        if position + PACKET_HEADER.size > end:
            need = PACKET_HEADER.size
            break
        kind, _source, size, ts_offset, overflow, capacity, _number, _valid = PACKET_HEADER.unpack_from(pending, position)
        length = PACKET_HEADER.size + capacity * size
        if position + length > end:
            need = length
            break
        if kind == POLARITY_EVENT and capacity:
            if size != 8 or ts_offset != 4:
                bad = position
                break
            payloads.append(view[position + PACKET_HEADER.size : position + length])
            counts.append(capacity)
            overflows.append(overflow)
        position += length
    data = b"".join(payloads)
    # Each event: u32 data (bit 0 valid, 1 polarity, 2-16 y, 17-31 x), u32 timestamp. Reading the
    # data word as two little-endian u16 halves yields x and y without 32-bit temporaries.
    halves = np.frombuffer(data, dtype="<u2").reshape(-1, 4)
    low, high = halves[:, 0], halves[:, 1]
    t = np.frombuffer(data, dtype="<u4")[1::2].astype(np.int64)
    if any(overflows):
        t |= np.repeat(np.array(overflows, dtype=np.int64) << 31, counts)
    events = {
        "t": t,
        "x": high >> 1,
        "y": (low >> 2) | ((high & 1) << 14),
        "p": (np.frombuffer(data, dtype=np.uint8)[::8] >> 1) & 1,
    }
    if valid_only:
        keep = (low & 1) == 1
        events = {name: values[keep] for name, values in events.items()}
    return events, position, bad, need


class Aedat3Reader:
    """Chunked reader of one AEDAT 3.1 stream (consumed once)."""

    def __init__(self, stream: BinaryIO, *, source: str, valid_only: bool = False):
        self.stream, self.source, self.valid_only = stream, source, valid_only
        self.header: TextHeader = read_text_header(stream, source, end_marker=END_HEADER)
        if not self.header.lines[0].startswith(MAGIC.decode()):
            raise FormatError(source, 0, f"not an AEDAT 3.x file (first line {self.header.lines[0].strip()!r})")
        self.chip = self.header.value(r"^#-?Source\s+\d+:\s*(\S+)")
        facts = chip_facts(self.chip)
        #: (width, height) of the chip named by the header's ``#Source`` line, else None.
        self.sensor_size: tuple[int, int] | None = facts[1] if facts else None
        self._size = stream_size(stream)

    def _packet_problem(self, pending: bytes, offset: int, available: str) -> FormatError:
        if len(pending) < PACKET_HEADER.size:
            return FormatError(self.source, offset, f"truncated packet header: {len(pending)} of {PACKET_HEADER.size} bytes")
        _kind, _source, size, _ts, _overflow, capacity, _number, _valid = PACKET_HEADER.unpack_from(pending)
        return FormatError(
            self.source, offset, f"truncated packet: header declares {capacity} events of {size} bytes, {available}"
        )

    def blocks(self) -> Iterator[Events]:
        """The polarity events of successive blocks of whole packets, in file order."""
        pending = self.header.rest
        offset = self.header.end  # file offset of pending[0]
        need = PACKET_HEADER.size
        at_end = False
        while True:
            if len(pending) < max(need, READ_BYTES // 2) and not at_end:
                wanted = max(need - len(pending), READ_BYTES)
                more = read_exact(self.stream, wanted)
                at_end = len(more) < wanted
                pending += more
            events, consumed, bad, need = decode_block(pending, self.valid_only)
            if bad is not None:
                _kind, _source, size, ts_offset, *_rest = PACKET_HEADER.unpack_from(pending, bad)
                raise FormatError(
                    self.source, offset + bad,
                    f"polarity packet with event size {size} and timestamp offset {ts_offset} (expected 8 and 4)",
                )
            if len(events["t"]):
                yield events
            pending = pending[consumed:]
            offset += consumed
            if not need:
                if at_end:
                    return
                need = PACKET_HEADER.size
            elif self._size is not None and offset + need > self._size:
                raise self._packet_problem(pending, offset, f"the file ends at byte {self._size}")
            elif at_end:
                raise self._packet_problem(pending, offset, f"{len(pending) - PACKET_HEADER.size} bytes remain")

    def chunks(self, max_events: int = 1 << 20) -> Iterator[Events]:
        return rechunk(self.blocks(), max_events)


AEDAT3 = register_format(
    FormatSpec(
        name="aedat3",
        suffixes=(".aedat", ".aedat3"),
        open=Aedat3Reader,
        sniff=starts_with(MAGIC),
        description="AEDAT 3.1 (cAER/jAER): polarity packets, timestamp | overflow << 31",
    )
)
