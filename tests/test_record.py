"""The event record: exact round trips, compact storage, clear errors for damaged records."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neuroshards.record import FORMAT_VERSION, RecordError, decode_events, decode_record, encode_events
from shardgen.formats import encode_atis_bin
from shardgen.synthetic import synthetic_recording


@st.composite
def event_arrays(draw, max_events: int = 300):
    n = draw(st.integers(0, max_events))
    width = draw(st.sampled_from([1, 34, 128, 256, 257, 1280]))
    height = draw(st.sampled_from([1, 34, 180, 720]))
    base = draw(st.integers(0, 1 << 50))
    span = draw(st.sampled_from([0, 1000, (1 << 32) - 1, 1 << 40]))
    t = base + np.sort(draw(hnp.arrays(np.int64, n, elements=st.integers(0, span))))
    if draw(st.booleans()):  # unsorted input must survive too
        t = draw(st.permutations(t)) if n else t
        t = np.asarray(t, dtype=np.int64)
    x = draw(hnp.arrays(np.uint16, n, elements=st.integers(0, width - 1)))
    y = draw(hnp.arrays(np.uint16, n, elements=st.integers(0, height - 1)))
    p = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, 1)))
    return {"t": t, "x": x, "y": y, "p": p}, (width, height, 2)


@settings(max_examples=150, deadline=None)
@given(event_arrays(), st.sampled_from([None, "zstd"]))
def test_round_trip_is_exact(sample, compression):
    events, sensor = sample
    decoded = decode_events(encode_events(events, sensor, compression=compression))
    assert sorted(decoded) == ["p", "t", "x", "y"]
    for name, dtype in (("t", np.int64), ("x", np.uint16), ("y", np.uint16), ("p", np.uint8)):
        assert decoded[name].dtype == dtype
        np.testing.assert_array_equal(decoded[name], events[name])


def documented_record(events: dict, sensor: tuple) -> bytes:
    """What msgpack writes for the schema in record.py's docstring, built here from numpy alone."""
    t0 = int(events["t"].min()) if len(events["t"]) else 0
    span = int(events["t"].max()) - t0 if len(events["t"]) else 0
    narrow = {"t": (events["t"] - t0).astype("<u4" if span < 1 << 32 else "<u8")}
    for name, limit in (("x", sensor[0]), ("y", sensor[1])):
        if name in events:
            largest = max(limit - 1, int(events[name].max()) if len(events[name]) else 0)
            narrow[name] = events[name].astype("|u1" if largest < 256 else "<u2")
    fields = {
        name: {"dtype": values.dtype.str, "data": values.tobytes(), "delta": False, "codec": None}
        for name, values in narrow.items()
    }
    if "p" in events:
        bits = np.packbits(events["p"], bitorder="little").tobytes()
        fields["p"] = {"dtype": "bit", "data": bits, "delta": False, "codec": None}
    expected = {
        "format": "neuroshards.events",
        "version": FORMAT_VERSION,
        "sensor_size": [int(v) for v in sensor],
        "n": len(events["t"]),
        "t0": t0,
        "fields": fields,
    }
    return msgpack.packb(expected, use_bin_type=True)


@settings(max_examples=100, deadline=None)
@given(event_arrays(), st.booleans())
def test_record_is_the_documented_msgpack_map(sample, one_dimensional):
    """The record, laid out around its fields in place, is byte for byte the documented map."""
    events, sensor = sample
    if one_dimensional:
        events, sensor = {"t": events["t"], "x": events["x"]}, (sensor[0], 1, 1)
    assert encode_events(events, sensor) == documented_record(events, sensor)


@pytest.mark.parametrize("n", [1, 31, 32, 255, 256, 16_383, 16_384, 70_000])
def test_record_layout_across_msgpack_bin_header_sizes(n):
    """Fields of under 256 bytes, under 64 KiB and more take bin 8, 16 and 32 headers."""
    events = synthetic_recording(n % 10, np.random.default_rng(n), n)
    assert len(events["t"]) == n
    assert encode_events(events, (34, 34, 2)) == documented_record(events, (34, 34, 2))


def test_one_dimensional_sensor_keeps_only_its_fields():
    events = {"t": np.array([5, 9, 9], dtype=np.int64), "x": np.array([699, 0, 3], dtype=np.uint16)}
    decoded = decode_events(encode_events(events, (700, 1, 1)))
    assert sorted(decoded) == ["t", "x"]
    np.testing.assert_array_equal(decoded["x"], events["x"])


def test_field_dtypes_follow_sensor_and_time_span():
    rng = np.random.default_rng(1)
    small = synthetic_recording(3, rng, 2000)
    fields = decode_record(encode_events(small, (34, 34, 2)))["fields"]
    assert (fields["x"]["dtype"], fields["y"]["dtype"], fields["t"]["dtype"], fields["p"]["dtype"]) == (
        "|u1",
        "|u1",
        "<u4",
        "bit",
    )
    wide = {**small, "x": small["x"] + 600}
    assert decode_record(encode_events(wide, (1280, 720, 2)))["fields"]["x"]["dtype"] == "<u2"
    long = {**small, "t": small["t"] * 100_000}
    assert decode_record(encode_events(long, (34, 34, 2)))["fields"]["t"]["dtype"] == "<u8"


def test_events_beyond_the_sensor_widen_the_dtype_instead_of_being_lost():
    events = {"t": np.arange(3), "x": np.array([0, 300, 5]), "y": np.array([1, 2, 3]), "p": np.array([0, 1, 1])}
    decoded = decode_events(encode_events(events, (34, 34, 2)))
    np.testing.assert_array_equal(decoded["x"], [0, 300, 5])


def test_uncompressed_storage_is_at_most_1_5x_the_raw_atis_bytes_and_zstd_goes_below():
    rng = np.random.default_rng(7)
    events = synthetic_recording(8, rng, 5000)
    raw = len(encode_atis_bin(events))
    plain = len(encode_events(events, (34, 34, 2)))
    packed = len(encode_events(events, (34, 34, 2), compression="zstd"))
    assert plain <= 1.5 * raw
    assert packed < raw


def test_uncompressed_fields_decode_without_copying():
    events = synthetic_recording(1, np.random.default_rng(0), 100)
    record = decode_record(encode_events(events, (34, 34, 2)))
    raw = np.frombuffer(record["fields"]["x"]["data"], dtype=record["fields"]["x"]["dtype"])
    assert raw.base is not None and not raw.flags.owndata


@pytest.mark.parametrize(
    "events, message",
    [
        ({"t": np.arange(3), "x": np.arange(2)}, "shape"),
        ({"t": np.arange(3), "x": np.arange(3), "p": np.array([0, 2, 1])}, "polarity"),
        ({"t": np.arange(3), "x": np.array([0, -1, 2])}, "negative"),
        ({"t": np.arange(3.0), "x": np.arange(3)}, "non-integer"),
        ({"x": np.arange(3)}, "at least"),
    ],
)
def test_bad_events_are_refused_with_the_sample_key(events, message):
    with pytest.raises(RecordError, match=message) as error:
        encode_events(events, (34, 34, 2), key="Train_0_00001")
    assert "Train_0_00001" in str(error.value)


def test_damaged_records_name_the_sample():
    good = encode_events(
        {"t": np.arange(10), "x": np.arange(10), "y": np.arange(10), "p": np.ones(10, dtype=np.uint8)}, (34, 34, 2)
    )
    with pytest.raises(RecordError, match="s1.*msgpack"):
        decode_events(good[: len(good) // 2], key="s1")
    with pytest.raises(RecordError, match="s2.*not a neuroshards"):
        decode_events(msgpack.packb({"hello": 1}), key="s2")
    record = msgpack.unpackb(good)
    record["version"] = FORMAT_VERSION + 1
    with pytest.raises(RecordError, match="s3.*version"):
        decode_events(msgpack.packb(record), key="s3")
    record = msgpack.unpackb(good)
    record["fields"]["x"]["data"] = record["fields"]["x"]["data"][:-1]
    with pytest.raises(RecordError, match="s4.*'x'"):
        decode_events(msgpack.packb(record), key="s4")
