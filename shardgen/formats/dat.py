"""Prophesee DAT: ``%`` header, one event-type byte and one event-size byte, 8-byte LE events.

Each event is a little-endian u32 timestamp (µs) and a u32 address word. Two address layouts exist:

* ``"v2"`` (``% Version 2`` and later; Prophesee's tools, N-CARS): x = bits 0-13, y = bits 14-27,
  polarity = bits 28-31;
* ``"atis"`` (older ATIS/kAER ``td.dat`` files such as NAV Gesture's): x = bits 0-8, y = bits 9-16,
  polarity = bit 17.

``layout="auto"`` picks ``"v2"`` when the header says ``% Version`` >= 2, else ``"atis"``. A file
without a ``%`` header has no type/size bytes either (as SpikingJelly and Prophesee read it).
Geometry comes from ``% Width`` / ``% Height`` lines when present.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from .blocks import at_least_one_chunk, record_blocks
from .errors import FormatError, guarded
from .prophesee_header import parse_header_bytes, read_header
from .registry import FormatSpec, explicit_sensor_size, register_format

EVENT_BYTES = 8
LAYOUTS = {
    # name: (x mask, y shift, y mask, polarity shift, polarity mask)
    "v2": (0x3FFF, 14, 0x3FFF, 28, 0xF),
    "atis": (0x1FF, 9, 0xFF, 17, 0x1),
}
_RECORD = np.dtype([("t", "<u4"), ("address", "<u4")])


class DatReader:
    format_name = "dat"

    def __init__(
        self,
        stream: BinaryIO,
        *,
        source: str,
        sensor_size: tuple[int, int] | None = None,
        layout: str = "auto",
    ):
        if layout != "auto" and layout not in LAYOUTS:  # the caller's mistake (ValueError), before any byte is read
            raise ValueError(f"unknown DAT layout {layout!r}; use one of {sorted(LAYOUTS)} or 'auto'")
        self.stream, self.source = stream, source
        self._open(stream, source, explicit_sensor_size(sensor_size), layout)

    @guarded()
    def _open(self, stream: BinaryIO, source: str, sensor_size: tuple[int, int] | None, layout: str) -> None:
        self.header = read_header(stream, source=source)
        if self.header.encoding() is not None:
            raise FormatError(source, 0, f"header declares {self.header.encoding()!r}: a RAW file, not DAT")
        if layout == "auto":
            version = self.header.fields.get("Version", "0").strip()
            layout = "v2" if version.isdigit() and int(version) >= 2 else "atis"
        self.layout = layout
        self.sensor_size = sensor_size or self.header.sensor_size(source)
        self.data_offset, self.pending = self.header.data_offset, self.header.pending
        if self.header.present:
            while len(self.pending) < 2:
                more = stream.read(2 - len(self.pending))
                if not more:
                    raise FormatError(source, self.data_offset + len(self.pending), "file ends before the event type/size bytes")
                self.pending += more
            event_size = self.pending[1]
            if event_size != EVENT_BYTES:
                raise FormatError(source, self.data_offset + 1, f"event size {event_size}, expected {EVENT_BYTES}")
            self.data_offset += 2
            self.pending = self.pending[2:]

    @guarded()
    @at_least_one_chunk
    def chunks(self, max_events: int = 1 << 20) -> Iterator[dict[str, np.ndarray]]:
        x_mask, y_shift, y_mask, p_shift, p_mask = LAYOUTS[self.layout]
        width, height = self.sensor_size or (0, 0)
        blocks = record_blocks(
            self.stream,
            source=self.source,
            record_bytes=EVENT_BYTES,
            records_per_block=max_events,
            offset=self.data_offset,
            pending=self.pending,
        )
        for offset, data in blocks:
            records = np.frombuffer(data, _RECORD)
            address = records["address"]
            events = {
                "t": records["t"].astype(np.int64),
                "x": (address & x_mask).astype(np.uint16),
                "y": ((address >> y_shift) & y_mask).astype(np.uint16),
                "p": ((address >> p_shift) & p_mask).astype(np.uint8),
            }
            self._check(events, offset, width, height)
            yield events

    def _check(self, events: dict[str, np.ndarray], offset: int, width: int, height: int) -> None:
        for name, limit, what in (
            ("p", 2, "polarity above 1"),
            ("x", width, f"x >= the sensor width {width}"),
            ("y", height, f"y >= the sensor height {height}"),
        ):
            if limit and len(events[name]) and events[name].max() >= limit:  # one cheap pass when all is well
                bad = np.flatnonzero(events[name] >= limit)
                raise FormatError(self.source, offset + int(bad[0]) * EVENT_BYTES, f"DAT event with {what}: corrupt data")


def _sniff(head: bytes) -> bool:
    header = parse_header_bytes(head)
    return (
        header.present
        and header.encoding() is None
        and ("Version" in header.fields or head.startswith(b"% Data file containing"))
    )


register_format(
    FormatSpec(
        name="dat",
        suffixes=(".dat",),
        open=DatReader,
        sniff=_sniff,
        description="Prophesee DAT (v2 and ATIS td.dat layouts)",
    )
)
