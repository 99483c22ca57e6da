"""AEDAT 4.0 (iniVation DV): ``#!AER-DAT4.0\\r\\n``, a flatbuffer IOHeader (compression, packet
table position, XML stream description), then packets (i32 stream id, i32 size, a compressed
flatbuffer) and at the end a table of the packets.

The packets are decoded by the ``aedat`` package (a Rust decoder: LZ4 and Zstd, all packet
types), installed with the ``aedat4`` extra: ``pip install neuroshards[aedat4]``. This module
checks the framing itself first, so a truncated or damaged file fails with the byte offset of
the packet at fault. Events come from the event stream with the lowest id (as Tonic reads it);
the sensor size is that stream's width and height.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from .aedat_common import stream_size
from .blocks import new_events, rechunk
from .errors import FormatError, checked_sensor_size, guarded
from .registry import Events, FormatSpec, register_format, starts_with

MAGIC = b"#!AER-DAT4.0\r\n"
PACKET_HEADER = struct.Struct("<ii")


def _aedat_module():
    try:
        import aedat
    except ImportError:
        raise ImportError("reading AEDAT 4.0 needs the 'aedat' package: pip install neuroshards[aedat4]") from None
    return aedat


def _table_field(buffer: bytes, table: int, field: int, fmt: str, default):
    """A scalar field of a flatbuffer table (``fmt`` a struct code), or ``default`` when absent."""
    vtable = table - struct.unpack_from("<i", buffer, table)[0]
    vtable_size = struct.unpack_from("<H", buffer, vtable)[0]
    slot = 4 + 2 * field
    if slot + 2 > vtable_size:
        return default
    where = struct.unpack_from("<H", buffer, vtable + slot)[0]
    return struct.unpack_from("<" + fmt, buffer, table + where)[0] if where else default


def _description(buffer: bytes, table: int) -> str:
    """The IOHeader's XML stream description (field 2, a flatbuffer string), checked to lie inside
    the header and to be UTF-8: the ``aedat`` decoder aborts the whole process (a panic while
    raising its error) on a description that is not."""
    vtable = table - struct.unpack_from("<i", buffer, table)[0]
    vtable_size = struct.unpack_from("<H", buffer, vtable)[0]
    slot = 4 + 2 * 2
    where = struct.unpack_from("<H", buffer, vtable + slot)[0] if slot + 2 <= vtable_size else 0
    if not where:
        return ""
    start = table + where + struct.unpack_from("<I", buffer, table + where)[0]
    (length,) = struct.unpack_from("<I", buffer, start)
    if start + 4 + length > len(buffer):
        raise struct.error("description beyond the IOHeader")
    return buffer[start + 4 : start + 4 + length].decode("utf-8")


def packet_offsets(stream: BinaryIO, source: str) -> list[int]:
    """Byte offsets of every packet, after checking the header and that each packet is whole."""
    head = stream.read(len(MAGIC) + 4)
    if not head.startswith(MAGIC):
        raise FormatError(source, 0, f"not an AEDAT 4.0 file (starts with {head[:14]!r})")
    if len(head) < len(MAGIC) + 4:
        raise FormatError(source, len(MAGIC), "truncated IOHeader")
    (header_size,) = struct.unpack_from("<I", head, len(MAGIC))
    header = stream.read(header_size)
    if len(header) < header_size or header_size < 8:
        raise FormatError(source, len(MAGIC), f"truncated IOHeader: {len(header)} of {header_size} bytes")
    try:
        root = struct.unpack_from("<I", header, 0)[0]
        table_position = _table_field(header, root, 1, "q", -1)
        _description(header, root)
    except struct.error:
        raise FormatError(source, len(MAGIC) + 4, "damaged IOHeader flatbuffer") from None
    except UnicodeDecodeError as error:
        raise FormatError(source, len(MAGIC) + 4, f"IOHeader stream description is not UTF-8 ({error.reason})") from None
    offset = len(MAGIC) + 4 + header_size
    end = table_position if table_position >= 0 else None
    offsets = []
    while end is None or offset < end:
        stream.seek(offset)
        packet = stream.read(PACKET_HEADER.size)
        if not packet and end is None:
            break
        if len(packet) < PACKET_HEADER.size:
            limit = f"before the packet table at byte {end}" if end is not None else "inside a packet header"
            raise FormatError(source, offset, f"file ends {limit} (truncated)")
        stream_id, size = PACKET_HEADER.unpack(packet)
        if size <= 0 or stream_id < 0 or (end is not None and offset + PACKET_HEADER.size + size > end):
            raise FormatError(source, offset, f"damaged packet header (stream {stream_id}, {size} bytes)")
        stream.seek(offset + PACKET_HEADER.size + size - 1)
        if len(stream.read(1)) != 1:
            raise FormatError(source, offset, f"truncated packet: {size} bytes declared, the file ends first")
        offsets.append(offset)
        offset += PACKET_HEADER.size + size
    return offsets


class Aedat4Reader:
    """Chunked reader of one AEDAT 4.0 file (a stream that is not a file on disk is copied to a
    temporary file first: the decoder reads paths)."""

    format_name = "aedat4"

    @guarded()
    def __init__(self, stream: BinaryIO, *, source: str):
        self.source = source
        aedat = _aedat_module()
        self._temporary: str | None = None
        if stream_size(stream) is not None and os.path.isfile(getattr(stream, "name", "")):
            self.path = stream.name
            handle = stream
        else:
            handle = tempfile.NamedTemporaryFile(prefix="neuroshards-", suffix=".aedat4", delete=False)
            with handle:
                shutil.copyfileobj(stream, handle, 1 << 22)
            self.path = self._temporary = handle.name
            handle = open(self.path, "rb")
        try:
            handle.seek(0)
            self.offsets = packet_offsets(handle, source)
        finally:
            if handle is not stream:
                handle.close()
        try:
            self._decoder = aedat.Decoder(self.path)
            streams = self._decoder.id_to_stream()
        except RuntimeError as error:
            raise FormatError(source, len(MAGIC), f"cannot read the IOHeader ({error})") from None
        event_streams = sorted(key for key, value in streams.items() if value.get("type") == "events")
        self.stream_id: int | None = event_streams[0] if event_streams else None
        self.sensor_size: tuple[int, int] | None = None
        if self.stream_id is not None:
            info = streams[self.stream_id]
            self.sensor_size = checked_sensor_size(
                info.get("width"), info.get("height"), source=source, where=f"stream {self.stream_id} description"
            )

    @guarded()
    def packets(self) -> Iterator[Events]:
        read = 0
        try:
            for packet in self._decoder:
                read += 1
                if packet.get("stream_id") == self.stream_id and "events" in packet:
                    events = packet["events"]
                    yield {
                        "t": events["t"].astype(np.int64),
                        "x": events["x"].astype(np.uint16),
                        "y": events["y"].astype(np.uint16),
                        "p": events["on"].astype(np.uint8),
                    }
        except RuntimeError as error:
            at = self.offsets[min(read, len(self.offsets) - 1)] if self.offsets else len(MAGIC)
            raise FormatError(self.source, at, f"cannot decode the packet at or after this offset ({error})") from None
        finally:
            self.close()

    def close(self) -> None:
        """Remove the temporary copy, if one was made."""
        if getattr(self, "_temporary", None):
            os.unlink(self._temporary)
            self._temporary = None

    __del__ = close

    @guarded()
    def chunks(self, max_events: int = 1 << 20) -> Iterator[Events]:
        if self.stream_id is None:
            yield new_events(0)
            return
        yield from rechunk(self.packets(), max_events)


register_format(
    FormatSpec(
        name="aedat4",
        suffixes=(".aedat4",),
        open=Aedat4Reader,
        sniff=starts_with(MAGIC),
        description="AEDAT 4.0 (iniVation DV): LZ4/Zstd flatbuffer packets; needs neuroshards[aedat4]",
    )
)
