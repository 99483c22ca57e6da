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

from typing import Mapping

import msgpack
import numpy as np

FORMAT_NAME = "neuroshards.events"
FORMAT_VERSION = 1
FIELDS = ("t", "x", "y", "p")
# Tar member extensions of a sample: <key>.events.msgpack and <key>.cls (webdataset's label convention).
EVENTS_MEMBER = "events.msgpack"
LABEL_MEMBER = "cls"
CANONICAL_DTYPES = {"t": np.dtype(np.int64), "x": np.dtype(np.uint16), "y": np.dtype(np.uint16), "p": np.dtype(np.uint8)}

Events = dict[str, np.ndarray]


class RecordError(ValueError):
    """A record that cannot be encoded or decoded; the message names the sample."""


def _coordinate_dtype(limit: int, observed_max: int) -> np.dtype:
    # The sensor decides the width; data beyond the sensor widens it rather than being lost.
    need = max(limit - 1, observed_max)
    return np.dtype("<u1") if need < 1 << 8 else np.dtype("<u2")


def _zstd():
    try:
        import zstandard
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RecordError("zstd compression needs the 'zstandard' package: pip install neuroshards[zstd]") from error
    return zstandard


def encode_events(
    events: Mapping[str, np.ndarray],
    sensor_size: tuple[int, ...],
    *,
    compression: str | None = None,
    key: str = "?",
) -> bytes:
    """Encode events (any integer dtypes, fields t, x[, y][, p]) as a record.

    Raises RecordError, naming ``key``, for mismatched lengths, negative or non-integer values.
    """
    if compression not in (None, "zstd"):
        raise RecordError(f"sample {key!r}: unknown compression {compression!r} (use None or 'zstd')")
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
    sensor = [int(v) for v in sensor_size]
    sensor += [1] * (3 - len(sensor))

    t = arrays["t"].astype(np.int64, copy=False)
    t0 = int(t.min()) if n else 0
    span = int(t.max()) - t0 if n else 0
    fields: dict[str, dict] = {}
    t_dtype = np.dtype("<u4") if span < 1 << 32 else np.dtype("<u8")
    # t - t0 computed in the narrow dtype, modulo its size: exact, as the difference lies in [0, span].
    relative = np.subtract(t, np.int64(t0), dtype=t_dtype, casting="unsafe")
    fields["t"] = _pack_field(relative, compression)
    for name, limit in (("x", sensor[0]), ("y", sensor[1])):
        if name in arrays:
            values = arrays[name]
            if n and values.dtype.kind == "i" and values.min() < 0:
                raise RecordError(f"sample {key!r}: field {name!r} has negative coordinates")
            high = int(values.max()) if n else 0
            if high >= 1 << 16:
                raise RecordError(f"sample {key!r}: field {name!r} value {high} does not fit 16 bits")
            fields[name] = _pack_field(values.astype(_coordinate_dtype(limit, high)), compression)
    if "p" in arrays:
        p = arrays["p"]
        if n and (p.min() < 0 or p.max() > 1):
            raise RecordError(f"sample {key!r}: polarity must be 0 or 1, got values in [{p.min()}, {p.max()}]")
        packed = np.packbits(p.astype(np.uint8, copy=False), bitorder="little")
        fields["p"] = _pack_bytes(packed.tobytes(), "bit", False, compression)
    record = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "sensor_size": sensor,
        "n": n,
        "t0": t0,
        "fields": fields,
    }
    return msgpack.packb(record, use_bin_type=True)


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
    n = int(record["n"])
    events: Events = {}
    for name in FIELDS:
        field = record["fields"].get(name)
        if field is None:
            continue
        raw = field["data"]
        if field.get("codec") == "zstd":
            raw = _zstd().ZstdDecompressor().decompress(raw)
        elif field.get("codec") is not None:
            raise RecordError(f"sample {key!r}: field {name!r} has unknown codec {field['codec']!r}")
        if field["dtype"] == "bit":
            packed = np.frombuffer(raw, dtype=np.uint8)
            if len(packed) * 8 < n:
                raise RecordError(f"sample {key!r}: field {name!r} holds {len(packed) * 8} bits for {n} events")
            values = np.unpackbits(packed, count=n, bitorder="little")
        else:
            dtype = np.dtype(field["dtype"])
            if len(raw) != n * dtype.itemsize:
                raise RecordError(
                    f"sample {key!r}: field {name!r} holds {len(raw)} bytes, expected {n} x {dtype.itemsize}"
                )
            values = np.frombuffer(raw, dtype=dtype)
            if field.get("delta"):
                values = np.cumsum(values, dtype=dtype)
        if name == "t":
            events["t"] = values.astype(np.int64) + int(record["t0"])
        else:
            events[name] = values.astype(CANONICAL_DTYPES[name], copy=False)
    if "t" not in events:
        raise RecordError(f"sample {key!r}: record has no 't' field")
    return events


def sensor_size_of(data: bytes | dict, *, key: str = "?") -> tuple[int, int, int]:
    record = data if isinstance(data, dict) else decode_record(data, key=key)
    return tuple(int(v) for v in record["sensor_size"])  # type: ignore[return-value]
