"""AEDAT 3.1 (cAER / jAER): ``#`` header up to ``#!END-HEADER``, then packets.

Each packet is a 28-byte little-endian header (u16 type, u16 source, u32 event size, u32
timestamp offset, u32 timestamp overflow, u32 capacity, u32 number, u32 valid) followed by
``capacity * size`` bytes of events. Only polarity packets (type 1) are decoded, every event of
them as SpikingJelly's ``load_aedat_v3`` reads them (also those not marked valid, unless
``valid_only``): data u32 with x = bits 17-31, y = bits 2-16, p = bit 1, and
t = timestamp | overflow << 31. Other packet types are skipped by their declared length.

The file is read in blocks of whole packets (or whole, for cutting time windows); numba kernels
list the polarity packets of a block, then decode their events, or cut time windows straight into
the record's field layout (:class:`~neuroshards.record.PackedEvents`).

Bad input is a FormatError at the packet's byte offset: a packet over ``MAX_PACKET_BYTES`` (checked
before ``capacity * size`` is formed, so no length wraps), a truncated packet, a polarity packet
whose events are not 8 bytes, or an overflow counter above ``MAX_OVERFLOW`` (times past 2**62 µs).
These checks run once per packet, not per event.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from numba import njit

from neuroshards.record import PackedEvents

from .aedat_common import TextHeader, chip_facts, read_exact, read_text_header, stream_size
from .blocks import NO_TIME, new_events, rechunk, set_bit
from .errors import FormatError, guarded
from .registry import Events, FormatSpec, register_format, starts_with

MAGIC = b"#!AER-DAT3"
END_HEADER = b"#!END-HEADER"
PACKET_HEADER = struct.Struct("<HHIIIIII")
PACKET_HEADER_BYTES = PACKET_HEADER.size
POLARITY_EVENT = 1
READ_BYTES = 1 << 22
#: Largest packet accepted (cAER writes packets of kilobytes to a few MB). Bounding it before the
#: product capacity * size is formed keeps that product far from int64 overflow: a wrapped length
#: once sent the scan backwards and the kernels out of bounds (SIGSEGV).
MAX_PACKET_BYTES = 1 << 31
# Problems ``_scan_packets`` reports.
_NOT_POLARITY_LAYOUT, _TOO_LARGE, _TIME_BEYOND = 1, 2, 3
#: Largest timestamp overflow counter: t = timestamp | overflow << 31 stays below 2**62 µs.
MAX_OVERFLOW = (1 << 31) - 1


@njit(cache=True, inline="always")
def _u32(data, at):
    return np.int64(data[at]) | (np.int64(data[at + 1]) << 8) | (np.int64(data[at + 2]) << 16) | (np.int64(data[at + 3]) << 24)


@njit(cache=True, nogil=True)
def _scan_packets(data, position):
    """The polarity packets among the whole packets of ``data`` from ``position``, as table rows
    (byte offset of the first event, events, overflow << 31). Returns (table, end of the last whole
    packet, bytes the next packet needs or 0 at the end of ``data``, offset of the first bad packet
    header or -1, its problem: ``_NOT_POLARITY_LAYOUT`` (a polarity packet whose events are not 8
    bytes with the timestamp at 4) or ``_TOO_LARGE`` (over MAX_PACKET_BYTES))."""
    end = len(data)
    table = np.empty((64, 3), np.int64)
    count, need, bad, problem = 0, 0, -1, 0
    while position < end:
        if position + PACKET_HEADER_BYTES > end:
            need = PACKET_HEADER_BYTES
            break
        kind = np.int64(data[position]) | (np.int64(data[position + 1]) << 8)
        size, capacity = _u32(data, position + 4), _u32(data, position + 16)
        if size and capacity > MAX_PACKET_BYTES // size:
            bad, problem = position, _TOO_LARGE
            break
        length = PACKET_HEADER_BYTES + capacity * size
        if position + length > end:
            need = length
            break
        if kind == POLARITY_EVENT and capacity:
            if size != 8 or _u32(data, position + 8) != 4:
                bad, problem = position, _NOT_POLARITY_LAYOUT
                break
            if _u32(data, position + 12) > MAX_OVERFLOW:
                bad, problem = position, _TIME_BEYOND
                break
            if count == len(table):
                grown = np.empty((2 * count, 3), np.int64)
                grown[:count] = table
                table = grown
            table[count, 0] = position + PACKET_HEADER_BYTES
            table[count, 1] = capacity
            table[count, 2] = _u32(data, position + 12) << 31
            count += 1
        position += length
    return table[:count], position, need, bad, problem


# The kernels loop over per-packet sub-arrays from index 0: with ``range(a, b)`` indices numba
# must allow for negative ones, which stops vectorisation and costs several times the time.


@njit(cache=True, nogil=True)
def _gather(data, words, parity, table, events, packets):
    """Copy the polarity events of the table's packets contiguously into ``events``, each a native
    u64 (data word | timestamp << 32; AEDAT is little-endian, as are the hosts numba runs on), and
    fill ``packets`` rows: first event, smallest t, largest t, largest x, largest y (to skip packets
    or take them whole). ``words`` is the u32 view of ``data`` from byte ``parity``; packets at
    another byte parity (after an odd-sized packet of another type) are copied bytewise."""
    halves, raw = events.view(np.uint32), events.view(np.uint8)
    n = 0
    for row in range(len(table)):
        offset, count, overflow = table[row, 0], table[row, 1], table[row, 2]
        if (offset - parity) % 4 == 0:
            source, target = words[(offset - parity) // 4 :][: 2 * count], halves[2 * n :][: 2 * count]
            for i in range(2 * count):
                target[i] = source[i]
        else:
            source, target = data[offset:][: 8 * count], raw[8 * n :][: 8 * count]
            for i in range(8 * count):
                target[i] = source[i]
        chunk = events[n:][:count]  # still in cache
        low, high, x_bits, y_bits = NO_TIME, np.int64(-1), np.int64(0), np.int64(0)
        for i in range(count):
            value = np.int64(chunk[i])
            low, high = min(low, value >> 32), max(high, value >> 32)
            x_bits, y_bits = max(x_bits, value & 0xFFFE0000), max(y_bits, value & 0x1FFFC)
        packets[row, 0], packets[row, 1], packets[row, 2] = n, low | overflow, high | overflow
        packets[row, 3], packets[row, 4] = x_bits >> 17, y_bits >> 2
        n += count


@njit(cache=True, nogil=True)
def _decode(events, table, packets, valid_only, t, x, y, p):
    n = 0
    for row in range(len(table)):
        count, overflow = table[row, 1], table[row, 2]
        chunk = events[packets[row, 0] :][:count]
        if not valid_only:
            pt, px, py, pp = t[n:][:count], x[n:][:count], y[n:][:count], p[n:][:count]
            for i in range(count):
                value = np.int64(chunk[i])
                pt[i] = (value >> 32) | overflow
                px[i] = (value >> 17) & 0x7FFF
                py[i] = (value >> 2) & 0x7FFF
                pp[i] = (value >> 1) & 1
            n += count
            continue
        for i in range(count):
            value = np.int64(chunk[i])
            if value & 1:
                t[n] = (value >> 32) | overflow
                x[n] = (value >> 17) & 0x7FFF
                y[n] = (value >> 2) & 0x7FFF
                p[n] = (value >> 1) & 1
                n += 1
    return n


@njit(cache=True, nogil=True)
def _window_facts(events, table, packets, starts, ends):
    """Per window [start, end): events, smallest and largest t, largest x and y."""
    facts = np.zeros((len(starts), 5), np.int64)
    for window in range(len(starts)):
        start, end = starts[window], ends[window]
        n, low, high, x_max, y_max = np.int64(0), NO_TIME, np.int64(-1), np.int64(0), np.int64(0)
        for row in range(len(table)):
            count, overflow = table[row, 1], table[row, 2]
            if packets[row, 2] < start or packets[row, 1] >= end:
                continue
            if packets[row, 1] >= start and packets[row, 2] < end:  # the whole packet
                n += count
                low, high = min(low, packets[row, 1]), max(high, packets[row, 2])
                x_max, y_max = max(x_max, packets[row, 3]), max(y_max, packets[row, 4])
                continue
            chunk = events[packets[row, 0] :][:count]
            for i in range(count):
                value = np.int64(chunk[i])
                stamp = (value >> 32) | overflow
                if start <= stamp < end:
                    n += 1
                    low, high = min(low, stamp), max(high, stamp)
                    x_max, y_max = max(x_max, (value >> 17) & 0x7FFF), max(y_max, (value >> 2) & 0x7FFF)
        facts[window, 0], facts[window, 1], facts[window, 2] = n, low, high
        facts[window, 3], facts[window, 4] = x_max, y_max
    return facts


@njit(cache=True, nogil=True)
def _fill_window(events, table, packets, start, end, t0, t, x, y, bits):
    """The events with start <= t < end, in file order, as t - t0, x, y and polarity bits packed
    little-endian (``np.packbits(p, bitorder="little")``)."""
    n = 0
    for row in range(len(table)):
        count, overflow = table[row, 1], table[row, 2]
        if packets[row, 2] < start or packets[row, 1] >= end:
            continue
        chunk = events[packets[row, 0] :][:count]
        if packets[row, 1] >= start and packets[row, 2] < end:  # the whole packet
            pt, px, py = t[n:][:count], x[n:][:count], y[n:][:count]
            for i in range(count):
                value = np.int64(chunk[i])
                pt[i] = ((value >> 32) | overflow) - t0
                px[i] = (value >> 17) & 0x7FFF
                py[i] = (value >> 2) & 0x7FFF
            for i in range(count):
                set_bit(bits, n + i, (np.int64(chunk[i]) >> 1) & 1)
            n += count
            continue
        for i in range(count):
            value = np.int64(chunk[i])
            stamp = (value >> 32) | overflow
            if start <= stamp < end:
                t[n] = stamp - t0
                x[n] = (value >> 17) & 0x7FFF
                y[n] = (value >> 2) & 0x7FFF
                set_bit(bits, n, (value >> 1) & 1)
                n += 1


@dataclass(frozen=True)
class PolarityPackets:
    """The polarity events of whole packets of an AEDAT 3.1 stream, contiguous in memory (see
    ``_gather``), with their packets: ``table`` rows (byte offset in the file block, events,
    overflow << 31) and ``packets`` rows (first event, smallest t, largest t, largest x, largest y)."""

    events: np.ndarray
    table: np.ndarray
    packets: np.ndarray

    @classmethod
    def gather(cls, data: np.ndarray, table: np.ndarray) -> PolarityPackets:
        """The events of the packets ``table`` lists in ``data`` (see ``_scan_packets``)."""
        parity = int(table[0, 0]) % 4 if len(table) else 0
        words = np.frombuffer(data, dtype="<u4", offset=parity, count=max(0, len(data) - parity) // 4)
        # Allocated by numpy, which asks for huge pages: far fewer page faults than numba's allocator.
        events, packets = np.empty(int(table[:, 1].sum()), np.uint64), np.empty((len(table), 5), np.int64)
        _gather(data, words, parity, table, events, packets)
        return cls(events, table, packets)

    def decode(self, valid_only: bool = False) -> Events:
        """Every polarity event (only those marked valid with ``valid_only``), in file order."""
        events = new_events(len(self.events))
        n = _decode(self.events, self.table, self.packets, valid_only, events["t"], events["x"], events["y"], events["p"])
        return {name: values[:n] for name, values in events.items()}

    def windows(self, starts: np.ndarray, ends: np.ndarray, sensor_size: tuple[int, ...]) -> Iterator[PackedEvents]:
        """For each window i, the events with ``starts[i] <= t < ends[i]`` in file order, decoded
        straight into the record's field layout (windows may overlap or be empty). Lazy: each window
        is cut as it is asked for, so the writer stores one while the next is cut."""
        starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
        facts = _window_facts(self.events, self.table, self.packets, starts, ends)
        for start, end, (n, low, high, x_max, y_max) in zip(starts, ends, facts):
            packed = PackedEvents.allocate(sensor_size, int(n), int(low), int(high), int(x_max), int(y_max))
            _fill_window(self.events, self.table, self.packets, start, end, packed.t0, packed.t, packed.x, packed.y, packed.p)
            yield packed


class Aedat3Reader:
    """Chunked reader of one AEDAT 3.1 stream (consumed once)."""

    format_name = "aedat3"

    @guarded()
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
        if len(pending) < PACKET_HEADER_BYTES:
            return FormatError(self.source, offset, f"truncated packet header: {len(pending)} of {PACKET_HEADER_BYTES} bytes")
        _kind, _source, size, _ts, _overflow, capacity, _number, _valid = PACKET_HEADER.unpack_from(pending)
        return FormatError(
            self.source, offset, f"truncated packet: header declares {capacity} events of {size} bytes, {available}"
        )

    @guarded()
    def packets(self, block_bytes: int | None = READ_BYTES) -> Iterator[PolarityPackets]:
        """Successive blocks of whole packets of about ``block_bytes`` (``None``: the rest of the
        stream in one block), in file order."""
        pending = self.header.rest
        offset = self.header.end  # file offset of pending[0]
        need = PACKET_HEADER_BYTES
        at_end = False
        while True:
            if block_bytes is None and not at_end:
                pending = self._with_the_rest(pending)
                at_end = True
            elif len(pending) < max(need, block_bytes // 2) and not at_end:
                wanted = max(need - len(pending), block_bytes)
                more = read_exact(self.stream, wanted)
                at_end = len(more) < wanted
                pending += more
            data = np.frombuffer(pending, np.uint8)
            table, consumed, need, bad, problem = _scan_packets(data, 0)
            if bad >= 0:
                _kind, _source, size, ts_offset, _overflow, capacity, *_rest = PACKET_HEADER.unpack_from(pending, bad)
                if problem == _TIME_BEYOND:
                    raise FormatError(
                        self.source, offset + bad, f"timestamp overflow counter {_overflow} puts times beyond 2**62 µs: corrupt"
                    )
                if problem == _TOO_LARGE:
                    raise FormatError(
                        self.source,
                        offset + bad,
                        f"packet header declares {capacity} events of {size} bytes, "
                        f"over the {MAX_PACKET_BYTES}-byte limit: corrupt",
                    )
                raise FormatError(
                    self.source,
                    offset + bad,
                    f"polarity packet with event size {size} and timestamp offset {ts_offset} (expected 8 and 4)",
                )
            if len(table):
                yield PolarityPackets.gather(data, table)
            pending = pending[consumed:]
            offset += consumed
            if not need:
                if at_end:
                    return
                need = PACKET_HEADER_BYTES
            elif self._size is not None and offset + need > self._size:
                raise self._packet_problem(pending, offset, f"the file ends at byte {self._size}")
            elif at_end:
                raise self._packet_problem(pending, offset, f"{len(pending) - PACKET_HEADER_BYTES} bytes remain")

    def _with_the_rest(self, pending: bytes) -> bytes | np.ndarray:
        """``pending`` followed by the rest of the stream: read straight into one array when the
        file's size is known (no copy of a whole recording), else joined."""
        if self._size is None:
            return pending + self.stream.read()
        data = np.empty(len(pending) + max(0, self._size - self.stream.tell()), np.uint8)
        data[: len(pending)] = np.frombuffer(pending, np.uint8)
        filled = len(pending) + (self.stream.readinto(memoryview(data)[len(pending) :]) or 0)
        grown = self.stream.read()  # empty unless the file grew since its size was taken
        return np.concatenate([data[:filled], np.frombuffer(grown, np.uint8)]) if grown else data[:filled]

    @guarded()
    def whole(self) -> PolarityPackets:
        """All the packets at once (a recording of tens of MB, cut into windows in one pass each)."""
        blocks = list(self.packets(block_bytes=None))  # to the end: a truncated last packet raises
        return blocks[0] if blocks else PolarityPackets.gather(np.empty(0, np.uint8), np.empty((0, 3), np.int64))

    def blocks(self) -> Iterator[Events]:
        """The polarity events of successive blocks of whole packets, in file order."""
        for packets in self.packets():
            events = packets.decode(self.valid_only)
            if len(events["t"]):
                yield events

    @guarded()
    def chunks(self, max_events: int = 1 << 20) -> Iterator[Events]:
        yield from rechunk(self.blocks(), max_events)


register_format(
    FormatSpec(
        name="aedat3",
        suffixes=(".aedat", ".aedat3"),
        open=Aedat3Reader,
        sniff=starts_with(MAGIC),
        description="AEDAT 3.1 (cAER/jAER): polarity packets, timestamp | overflow << 31",
    )
)
