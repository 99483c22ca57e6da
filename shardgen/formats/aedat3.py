"""AEDAT 3.1 (cAER / jAER): ``#`` header up to ``#!END-HEADER``, then packets.

Each packet is a 28-byte little-endian header (i16 type, i16 source, i32 event size, i32
timestamp offset, i32 timestamp overflow, i32 capacity, i32 number, i32 valid) followed by
``capacity * size`` bytes of events. Only polarity packets (type 1) are decoded, every event of
them as SpikingJelly's ``load_aedat_v3`` reads them (also those not marked valid, unless
``valid_only``): data u32 with x = bits 17-31, y = bits 2-16, p = bit 1, and
t = timestamp | overflow << 31. Other packet types are skipped.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

import numpy as np

from .errors import FormatError
from .inivation import TextHeader, chip_facts, read_exact, read_text_header, rechunk, stream_size
from .registry import Events, FormatSpec, register_format

MAGIC = b"#!AER-DAT3"
END_HEADER = b"#!END-HEADER"
PACKET_HEADER = struct.Struct("<HHIIIIII")
POLARITY_EVENT = 1
POLARITY_EVENT_BYTES = 8
POLARITY_TS_OFFSET = 4


def decode_polarity_packet(data: bytes, overflow: int, *, valid_only: bool = False) -> Events:
    words = np.frombuffer(data, dtype="<u4").reshape(-1, 2)
    address = words[:, 0]
    if valid_only:
        keep = (address & 1) == 1
        words, address = words[keep], address[keep]
    return {
        "t": words[:, 1].astype(np.int64) | np.int64(overflow << 31),
        "x": ((address >> 17) & 0x7FFF).astype(np.uint16),
        "y": ((address >> 2) & 0x7FFF).astype(np.uint16),
        "p": ((address >> 1) & 1).astype(np.uint8),
    }


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
        self._pending = b""

    def _read(self, size: int) -> bytes:
        if self._pending:
            taken, self._pending = self._pending[:size], self._pending[size:]
            if len(taken) < size:
                taken += read_exact(self.stream, size - len(taken))
            return taken
        return read_exact(self.stream, size)

    def packets(self) -> Iterator[Events]:
        """The events of each polarity packet, in file order."""
        self._pending = self.header.rest
        offset = self.header.end
        while True:
            head = self._read(PACKET_HEADER.size)
            if not head:
                return
            if len(head) < PACKET_HEADER.size:
                raise FormatError(self.source, offset, f"truncated packet header: {len(head)} of {PACKET_HEADER.size} bytes")
            kind, _source_id, size, ts_offset, overflow, capacity, _number, _valid = PACKET_HEADER.unpack(head)
            length = capacity * size
            if self._size is not None and offset + PACKET_HEADER.size + length > self._size:
                raise FormatError(
                    self.source, offset, f"truncated packet: header declares {capacity} events of {size} bytes, the file ends at byte {self._size}"
                )
            if kind == POLARITY_EVENT and capacity and (size != POLARITY_EVENT_BYTES or ts_offset != POLARITY_TS_OFFSET):
                raise FormatError(
                    self.source, offset, f"polarity packet with event size {size} and timestamp offset {ts_offset} (expected 8 and 4)"
                )
            data = self._read(length)
            if len(data) < length:
                raise FormatError(
                    self.source, offset, f"truncated packet: header declares {capacity} events of {size} bytes, {len(data)} bytes remain"
                )
            if kind == POLARITY_EVENT and capacity:
                yield decode_polarity_packet(data, overflow, valid_only=self.valid_only)
            offset += PACKET_HEADER.size + length

    def chunks(self, max_events: int = 1 << 20) -> Iterator[Events]:
        return rechunk(self.packets(), max_events)


def _sniff(head: bytes) -> bool:
    return head.startswith(MAGIC)


AEDAT3 = register_format(
    FormatSpec(
        name="aedat3",
        suffixes=(".aedat", ".aedat3"),
        open=Aedat3Reader,
        sniff=_sniff,
        description="AEDAT 3.1 (cAER/jAER): polarity packets, timestamp | overflow << 31",
    )
)
