"""The event record: one msgpack map per sample, the contract between shardgen and streams.

Schema (``FORMAT_VERSION`` 1), a msgpack map with string keys::

    format       "neuroshards.events"
    version      1
    sensor_size  [W, H, P]        (tonic's order; a 1-D sensor such as SHD is [700, 1, 1])
    n            number of events
    t0           base timestamp in µs; t = t0 + stored t
    fields       {name: {"dtype": str, "data": bytes, "delta": bool, "codec": str | None}}

``fields`` holds ``t``, ``x`` and, where the sensor has them, ``y`` and ``p``. ``dtype`` is a numpy
type string ("<u4", "|u1", ...) of little-endian raw bytes, or ``"bit"`` for one bit per event
packed little-endian-bitwise (``np.packbits(..., bitorder="little")``). ``delta`` means the values
are stored as successive differences (modulo the dtype) and ``codec`` names a lossless byte codec
("zstd"); both are only used when compression is asked for, so an uncompressed field decodes with
a zero-copy ``np.frombuffer``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import msgpack
import numpy as np

from .errors import RecordError
from .events import CANONICAL_DTYPES, FIELDS, Events

FORMAT_NAME = "neuroshards.events"
FORMAT_VERSION = 1
# Tar member extensions of a sample: <key>.events.msgpack and <key>.cls (webdataset's label convention).
EVENTS_MEMBER = "events.msgpack"
LABEL_MEMBER = "cls"


def coordinate_dtype(limit: int, observed_max: int) -> np.dtype:
    """The stored dtype of a coordinate below ``limit`` (the sensor's extent) whose largest value is
    ``observed_max``: the sensor decides the width; data beyond the sensor widens it rather than
    being lost."""
    need = max(limit - 1, observed_max)
    return np.dtype("<u1") if need < 1 << 8 else np.dtype("<u2")


def time_dtype(span: int) -> np.dtype:
    """The stored dtype of ``t - t0`` for events spanning ``span`` µs."""
    return np.dtype("<u4") if span < 1 << 32 else np.dtype("<u8")


def _full_sensor(sensor_size: tuple[int, ...]) -> list[int]:
    sensor = [int(v) for v in sensor_size]
    return sensor + [1] * (3 - len(sensor))


@dataclass(slots=True)
class PackedEvents:
    """A sample's events in the record's field layout: ``t`` holds ``t - t0`` in :func:`time_dtype`,
    ``x``/``y`` the coordinates in :func:`coordinate_dtype`, ``p`` the polarities as bits
    (``np.packbits(p, bitorder="little")``). The four are views into ``record``, the uncompressed
    record itself, so filling them writes the record: :func:`pack_events` fills one from any event
    arrays; a reader that decodes straight into this layout fills one made by :meth:`allocate`
    (sparing a copy of every event)."""

    n: int
    t0: int
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray | None
    p: np.ndarray | None
    x_max: int
    y_max: int
    record: memoryview

    @classmethod
    def allocate(
        cls,
        sensor_size: tuple[int, ...],
        n: int,
        t_min: int,
        t_max: int,
        x_max: int,
        y_max: int,
        *,
        has_y: bool = True,
        has_p: bool = True,
    ) -> PackedEvents:
        """The record of ``n`` events whose t, x and y extremes are known, with its fields to be filled."""
        sensor = _full_sensor(sensor_size)
        t0 = t_min if n else 0
        dtypes = [time_dtype(t_max - t0 if n else 0), coordinate_dtype(sensor[0], x_max)]
        if has_y:
            dtypes.append(coordinate_dtype(sensor[1], y_max))
        fields = [(name, dtype.str, n * dtype.itemsize) for name, dtype in zip("txy", dtypes)]
        if has_p:
            fields.append(("p", "bit", (n + 7) // 8))
        # The msgpack map that encode_packed's packb writes, laid out around a hole for each field's data.
        head = b"".join(
            (
                _record_head(tuple(sensor)),
                msgpack.packb("n"),
                msgpack.packb(n),
                msgpack.packb("t0"),
                msgpack.packb(t0),
                msgpack.packb("fields"),
                _PACKER.pack_map_header(len(fields)),
            )
        )
        segments = []  # the bytes before each hole
        for name, dtype, size in fields:
            segments.append(head + _field_head(name, dtype) + _bin_header(size))
            head = _FIELD_TAIL
        buffer = np.empty(sum(map(len, segments)) + sum(size for _, _, size in fields) + len(_FIELD_TAIL), np.uint8)
        writable = memoryview(buffer)
        holes = []
        position = 0
        for segment, (_name, _dtype, size) in zip(segments, fields):
            writable[position : position + len(segment)] = segment
            position += len(segment)
            holes.append(buffer[position : position + size])
            position += size
        writable[position:] = _FIELD_TAIL
        views = [hole.view(dtype) for hole, dtype in zip(holes, dtypes)]
        return cls(
            n,
            t0,
            views[0],
            views[1],
            views[2] if has_y else None,
            holes[-1] if has_p else None,
            x_max,
            y_max,
            writable,
        )

    def outside(self, sensor_size: tuple[int, ...]) -> bool:
        """Whether any event lies beyond the sensor's width or height."""
        sensor = _full_sensor(sensor_size)
        return self.n > 0 and (self.x_max >= sensor[0] or (self.y is not None and self.y_max >= sensor[1]))


_PACKER = msgpack.Packer(use_bin_type=True)
_FIELD_TAIL = b"".join(map(msgpack.packb, ("delta", False, "codec", None)))


@functools.lru_cache(maxsize=64)
def _record_head(sensor: tuple[int, ...]) -> bytes:
    """The record map's header and its first entries (format, version, sensor_size)."""
    entries = ("format", FORMAT_NAME, "version", FORMAT_VERSION, "sensor_size", list(sensor))
    return _PACKER.pack_map_header(6) + b"".join(map(msgpack.packb, entries))


@functools.lru_cache(maxsize=64)
def _field_head(name: str, dtype: str) -> bytes:
    """A field's key and its map up to the data's bin header."""
    return msgpack.packb(name) + _PACKER.pack_map_header(4) + b"".join(map(msgpack.packb, ("dtype", dtype, "data")))


def _bin_header(size: int) -> bytes:
    """The msgpack bin 8/16/32 header of ``size`` bytes (as msgpack's packer writes it)."""
    if size < 1 << 8:
        return b"\xc4" + size.to_bytes(1, "big")
    if size < 1 << 16:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def pack_events(events: Mapping[str, np.ndarray], sensor_size: tuple[int, ...], *, key: str = "?") -> PackedEvents:
    """Events (any integer dtypes, fields t, x[, y][, p]) in the record's field layout.

    Raises RecordError, naming ``key``, for mismatched lengths, negative or non-integer values.
    """
    names = [name for name in FIELDS if name in events]
    if "t" not in names or "x" not in names:
        raise RecordError(f"sample {key!r}: events need at least fields 't' and 'x', got {sorted(events)}")
    arrays = {name: np.asarray(events[name]) for name in names}
    n = len(arrays["t"])
    for name, array in arrays.items():
        if array.ndim != 1 or len(array) != n:
            raise RecordError(f"sample {key!r}: field {name!r} has shape {array.shape}, expected ({n},)")
        if n and array.dtype.kind not in "iub":
            raise RecordError(f"sample {key!r}: field {name!r} has non-integer dtype {array.dtype}")
    t = arrays["t"] if arrays["t"].dtype.kind != "b" else arrays["t"].astype(np.uint8)
    highest = {}
    for name in ("x", "y"):
        if name in arrays:
            values = arrays[name]
            if n and values.dtype.kind == "i" and values.min() < 0:
                raise RecordError(f"sample {key!r}: field {name!r} has negative coordinates")
            highest[name] = int(values.max()) if n else 0
            if highest[name] >= 1 << 16:
                raise RecordError(f"sample {key!r}: field {name!r} value {highest[name]} does not fit 16 bits")
    if "p" in arrays:
        p = arrays["p"]
        if n and (p.min() < 0 or p.max() > 1):
            raise RecordError(f"sample {key!r}: polarity must be 0 or 1, got values in [{p.min()}, {p.max()}]")
    packed = PackedEvents.allocate(
        sensor_size,
        n,
        int(t.min()) if n else 0,
        int(t.max()) if n else 0,
        highest["x"],
        highest.get("y", 0),
        has_y="y" in arrays,
        has_p="p" in arrays,
    )
    # t - t0 computed in the narrow dtype, modulo its size: exact, as the difference lies in [0, span].
    np.subtract(t, t.dtype.type(packed.t0), out=packed.t, casting="unsafe")
    for name in ("x", "y", "p"):
        target = getattr(packed, name)
        if target is not None:
            values = arrays[name] if name != "p" else np.packbits(arrays["p"].astype(np.uint8, copy=False), bitorder="little")
            np.copyto(target, values, casting="unsafe")
    return packed


def encode_packed(
    packed: PackedEvents, sensor_size: tuple[int, ...], *, compression: str | None = None, key: str = "?"
) -> bytes | memoryview:
    """The record of events already in the field layout: ``packed.record`` itself, or with
    ``compression`` a record of the compressed fields (msgpack bytes)."""
    if compression is None:
        return packed.record
    if compression != "zstd":
        raise RecordError(f"sample {key!r}: unknown compression {compression!r} (use None or 'zstd')")
    fields = {"t": _pack_field(packed.t, compression), "x": _pack_field(packed.x, compression)}
    if packed.y is not None:
        fields["y"] = _pack_field(packed.y, compression)
    if packed.p is not None:
        fields["p"] = _pack_bytes(memoryview(packed.p), "bit", False, compression)
    record = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "sensor_size": _full_sensor(sensor_size),
        "n": packed.n,
        "t0": packed.t0,
        "fields": fields,
    }
    return msgpack.packb(record, use_bin_type=True)


def encode_events(
    events: Mapping[str, np.ndarray],
    sensor_size: tuple[int, ...],
    *,
    compression: str | None = None,
    key: str = "?",
) -> bytes:
    """Encode events (any integer dtypes, fields t, x[, y][, p]) as a record (msgpack bytes).

    Raises RecordError, naming ``key``, for mismatched lengths, negative or non-integer values.
    """
    return bytes(encode_packed(pack_events(events, sensor_size, key=key), sensor_size, compression=compression, key=key))


def _zstd():
    try:
        import zstandard
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RecordError("zstd compression needs the 'zstandard' package: pip install neuroshards[zstd]") from error
    return zstandard


def _pack_field(values: np.ndarray, compression: str | None) -> dict:
    delta = compression is not None and len(values) > 1
    if delta:
        # Differences modulo the dtype compress far better and invert exactly with a wrapping cumsum.
        values = np.diff(values, prepend=values.dtype.type(0))
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    # A byte view, not a copy: msgpack packs any buffer as bin.
    return _pack_bytes(memoryview(np.ascontiguousarray(little)).cast("B"), little.dtype.str, delta, compression)


def _pack_bytes(data: bytes | memoryview, dtype: str, delta: bool, compression: str | None) -> dict:
    if compression == "zstd":
        data = _zstd().ZstdCompressor(level=9).compress(data)
    return {"dtype": dtype, "data": data, "delta": delta, "codec": compression}


def decode_record(data: bytes, *, key: str = "?") -> dict:
    """Unpack and validate a record's map (format, version); fields stay raw bytes."""
    try:
        record = msgpack.unpackb(data, raw=False)
    except Exception as error:
        raise RecordError(f"sample {key!r}: events record is not valid msgpack ({error})") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise RecordError(f"sample {key!r}: not a {FORMAT_NAME} record")
    if record.get("version") != FORMAT_VERSION:
        raise RecordError(
            f"sample {key!r}: record version {record.get('version')} is not supported (this reader: {FORMAT_VERSION})"
        )
    return record


def decode_events(data: bytes | dict, *, key: str = "?") -> Events:
    """Decode a record into canonical arrays: t int64 µs, x/y uint16, p uint8 in {0, 1}."""
    record = data if isinstance(data, dict) else decode_record(data, key=key)
    try:
        return _decode_fields(record, key)
    except RecordError:
        raise
    except Exception as error:  # noqa: BLE001 - a malformed map (missing or mistyped entries, bad codec data)
        raise RecordError(f"sample {key!r}: malformed events record ({type(error).__name__}: {error})") from None


def _decode_fields(record: dict, key: str) -> Events:
    n = int(record["n"])
    if n < 0:
        raise RecordError(f"sample {key!r}: negative event count {n}")
    events: Events = {}
    for name in FIELDS:
        field = record["fields"].get(name)
        if field is None:
            continue
        raw = field["data"]
        bit = field["dtype"] == "bit"
        expected = (n + 7) // 8 if bit else n * np.dtype(field["dtype"]).itemsize
        if field.get("codec") == "zstd":
            # Bounded by what the record declares: a damaged frame cannot expand without limit.
            raw = _zstd().ZstdDecompressor().decompress(raw, max_output_size=max(expected, 1))
        elif field.get("codec") is not None:
            raise RecordError(f"sample {key!r}: field {name!r} has unknown codec {field['codec']!r}")
        if bit:
            packed = np.frombuffer(raw, dtype=np.uint8)
            if len(packed) * 8 < n:
                raise RecordError(f"sample {key!r}: field {name!r} holds {len(packed) * 8} bits for {n} events")
            values = np.unpackbits(packed, count=n, bitorder="little")
        else:
            dtype = np.dtype(field["dtype"])
            if len(raw) != expected:
                raise RecordError(f"sample {key!r}: field {name!r} holds {len(raw)} bytes, expected {n} x {dtype.itemsize}")
            values = np.frombuffer(raw, dtype=dtype)
            if field.get("delta"):
                values = np.cumsum(values, dtype=dtype)
        if name == "t":
            events["t"] = values.astype(np.int64) + np.int64(record["t0"])
        else:
            events[name] = values.astype(CANONICAL_DTYPES[name], copy=False)
    if "t" not in events:
        raise RecordError(f"sample {key!r}: record has no 't' field")
    return events
