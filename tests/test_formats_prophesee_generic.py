"""Prophesee (EVT 2.0, EVT 3.0, DAT) and generic (HDF5, NumPy, text) readers.

Real recordings must equal REFERENCE.json (decoded by faery, an independent decoder); random
events written by the independent writers in ``shardgen.synthetic.event_files`` must come back exactly, in
any chunking; truncated or corrupted files must raise FormatError naming the file and the offset.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardgen.formats import FORMATS, FormatError, concatenate, detect_format, open_reader
from shardgen.formats.blocks import record_blocks
from shardgen.synthetic import event_files as writers

from conftest import assert_matches_reference

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL = {
    "prophesee_evt2/gen3_sample.raw": "evt2",
    "prophesee_evt3/gen41_evk3_sample.raw": "evt3",
    "prophesee_evt3/gen41_pedestrians_cut.raw": "evt3",
    "prophesee_dat/ncars_obj_004397_td.dat": "dat",
    "prophesee_dat/ncars_sample.dat": "dat",
}


def read(data: bytes, format_name: str, max_events: int = 1 << 20, **options) -> dict[str, np.ndarray]:
    reader = open_reader(io.BytesIO(data), format_name, source="test-file", **options)
    chunks = list(reader.chunks(max_events))
    assert all(len(chunk["t"]) <= max_events for chunk in chunks)
    assert len(chunks) == 1 or all(len(chunk["t"]) for chunk in chunks), "no events: exactly one empty chunk"
    return concatenate(iter(chunks))


def random_events(rng, n: int, width: int, height: int, *, t0: int, max_gap: int) -> dict[str, np.ndarray]:
    gaps = rng.integers(0, max_gap, n) * (rng.random(n) < 0.7)  # many equal timestamps
    return {
        "t": (t0 + np.cumsum(gaps)).astype(np.int64),
        "x": rng.integers(0, width, n).astype(np.uint16),
        "y": rng.integers(0, height, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def assert_same(actual: dict, expected: dict) -> None:
    for name in "txyp":
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
        assert actual[name].dtype == {"t": np.int64, "x": np.uint16, "y": np.uint16, "p": np.uint8}[name]


# Real recordings ---------------------------------------------------------------------------


@pytest.mark.parametrize("relpath", sorted(REAL))
@pytest.mark.parametrize("max_events", [1 << 20, 4093])
def test_real_recording_matches_reference(samples_dir, reference, relpath, max_events):
    data = (samples_dir / relpath).read_bytes()
    assert detect_format(data[:4096], relpath, source=relpath) == REAL[relpath]
    assert_matches_reference(read(data, REAL[relpath], max_events), reference[relpath])


@pytest.mark.parametrize(
    "relpath, size",
    [("prophesee_evt2/gen3_sample.raw", (640, 480)), ("prophesee_evt3/gen41_evk3_sample.raw", (1280, 720))],
)
def test_raw_sensor_size_from_the_plugin_name(samples_dir, relpath, size):
    with open(samples_dir / relpath, "rb") as stream:
        assert open_reader(stream, REAL[relpath], source=relpath).sensor_size == size


def test_evt3_late_time_low_is_not_an_overflow(samples_dir):
    """gen41_evk3_sample.raw holds late TIME_LOW words (799, 811, 800); counting each decrease as an
    overflow would push time by 16.8 s steps. Its 8.8 ms span must stay 8.8 ms."""
    events = read((samples_dir / "prophesee_evt3/gen41_evk3_sample.raw").read_bytes(), "evt3")
    assert events["t"][-1] - events["t"][0] < 10_000


# Round trips -------------------------------------------------------------------------------


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), chunk=st.integers(1, 500))
def test_evt2_round_trip(seed, n, chunk):
    rng = np.random.default_rng(seed)
    width, height = int(rng.integers(1, 2048)), int(rng.integers(1, 2048))
    # Start anywhere in the 34-bit range so some cases cross its wrap-around.
    events = random_events(rng, n, width, height, t0=int(rng.integers(0, 1 << 34)), max_gap=1 << 31)
    truth = dict(events, t=events["t"] - (events["t"][:1] >> 34 << 34) if n else events["t"])
    data = writers.write_evt2(events, width=width, height=height, noise_every=int(rng.integers(0, 5)), rng=rng)
    assert_same(read(data, "evt2", chunk), truth)


def _evt3_order(events):
    order = np.lexsort((events["x"], events["p"], events["y"], events["t"]))
    return {k: v[order] for k, v in events.items()}


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), chunk=st.integers(1, 500), stale=st.booleans())
def test_evt3_round_trip(seed, n, chunk, stale):
    rng = np.random.default_rng(seed)
    width, height = int(rng.integers(1, 2048)), int(rng.integers(1, 2048))
    # Dense x so that vectors hold several events; gaps below half the 24-bit range (8.4 s).
    events = random_events(rng, n, min(width, 40), height, t0=int(rng.integers(0, 1 << 24)), max_gap=1 << 22)
    events = _evt3_order(events)
    data = writers.write_evt3(events, width=width, height=height, rng=rng, stale_time_low=stale)
    # The file cannot tell how many 24-bit periods passed before its first event.
    truth = dict(events, t=events["t"] - (events["t"][:1] >> 24 << 24) if n else events["t"])
    assert_same(read(data, "evt3", chunk), truth)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), chunk=st.integers(1, 500), layout=st.sampled_from(["v2", "atis"]))
def test_dat_round_trip(seed, n, chunk, layout):
    rng = np.random.default_rng(seed)
    width, height = (int(rng.integers(1, 1 << 14)), int(rng.integers(1, 1 << 14))) if layout == "v2" else (512, 256)
    events = random_events(rng, n, width, height, t0=int(rng.integers(0, 1 << 31)), max_gap=1 << 20)
    data = writers.write_dat(events, layout=layout, width=width, height=height)
    assert_same(read(data, "dat", chunk), events)
    assert detect_format(data[:4096], "x.bin", source="x") == "dat"


GENERIC = {
    "csv": lambda events, rng: writers.write_csv(
        events, header=bool(rng.integers(2)), separator=[",", " ", "\t", ";"][rng.integers(4)]
    ),
    "npy-structured": lambda events, rng: writers.write_npy(events, structured=True),
    "npy-columns": lambda events, rng: writers.write_npy(events, structured=False),
    "npz": lambda events, rng: writers.write_npz(events),
    "hdf5": lambda events, rng: writers.write_hdf5(events, group=[None, "events"][rng.integers(2)], width=640, height=480),
}
GENERIC_FORMAT = {"csv": "text", "npy-structured": "npy", "npy-columns": "npy", "npz": "npy", "hdf5": "hdf5"}


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), chunk=st.integers(1, 400), kind=st.sampled_from(sorted(GENERIC)))
def test_generic_round_trip(seed, n, chunk, kind):
    rng = np.random.default_rng(seed)
    events = random_events(rng, n, 640, 480, t0=int(rng.integers(0, 1 << 40)), max_gap=1 << 20)
    assert_same(read(GENERIC[kind](events, rng), GENERIC_FORMAT[kind], chunk), events)


def test_text_seconds_and_signed_polarity():
    data = b"% x y made up\n0.000001 3 4 -1\n0.5 5 6 1\n1.25e0 7 8 -1\n"
    events = read(data, "text", time_unit="s")
    assert events["t"].tolist() == [1, 500_000, 1_250_000]
    assert events["p"].tolist() == [0, 1, 0]
    with pytest.raises(FormatError, match="time unit"):
        read(data, "text")


@pytest.mark.parametrize("second_time", [b"20", b"20.0"])  # integers, or decimals (the general parser)
def test_text_header_names_the_column_order(second_time):
    events = read(b"x;y;polarity;timestamp\n3;4;1;10\n5;6;0;" + second_time + b"\n", "text")
    assert events["t"].tolist() == [10, 20] and events["x"].tolist() == [3, 5] and events["y"].tolist() == [4, 6]
    assert events["p"].tolist() == [1, 0]


# Truncated and corrupted files -------------------------------------------------------------


def _evt2_file(rng, n):
    data = writers.write_evt2(random_events(rng, n, 640, 480, t0=0, max_gap=1 << 10), width=640, height=480)
    return data, len(writers.raw_header("2.0", 640, 480))


def _evt3_file(rng, n):
    events = _evt3_order(random_events(rng, n, 40, 480, t0=0, max_gap=1 << 10))
    return writers.write_evt3(events, width=640, height=480, rng=rng), len(writers.raw_header("3.0", 640, 480))


def _dat_file(rng, n):
    events = random_events(rng, n, 640, 480, t0=0, max_gap=1 << 10)
    data = writers.write_dat(events, width=640, height=480)
    return data, len(data) - 8 * n


# format: (writer returning (bytes, payload offset), record size)
BINARY = {"evt2": (_evt2_file, 4), "evt3": (_evt3_file, 2), "dat": (_dat_file, 8)}


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), format_name=st.sampled_from(sorted(BINARY)), cut=st.floats(0, 1))
def test_truncated_binary_file(seed, format_name, cut):
    rng = np.random.default_rng(seed)
    make, record = BINARY[format_name]
    data, start = make(rng, 50)
    end = start + int(cut * (len(data) - start))
    whole = read(data, format_name)
    if (end - start) % record:
        with pytest.raises(FormatError) as error:
            read(data[:end], format_name)
        assert error.value.source == "test-file"
        assert error.value.offset == end - (end - start) % record
    else:  # cut between records: a prefix of the events, never wrong ones
        prefix = read(data[:end], format_name)
        for name in "txyp":
            np.testing.assert_array_equal(prefix[name], whole[name][: len(prefix[name])])


UNDEFINED_TYPES = {"evt2": [2, 3, 4, 5, 6, 7, 9, 0xB, 0xC, 0xD], "evt3": [1, 9, 0xB, 0xC, 0xD]}


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), format_name=st.sampled_from(["evt2", "evt3"]), where=st.floats(0, 1))
def test_undefined_word_type_names_its_offset(seed, format_name, where):
    rng = np.random.default_rng(seed)
    make, size = BINARY[format_name]
    data, start = make(rng, 50)
    data = bytearray(data)
    word = int(where * ((len(data) - start) // size - 1))
    offset = start + word * size
    kind = int(rng.choice(UNDEFINED_TYPES[format_name]))
    value = kind << (8 * size - 4) | int(rng.integers(0, 1 << (8 * size - 4)))
    data[offset : offset + size] = value.to_bytes(size, "little")
    with pytest.raises(FormatError, match="undefined type") as error:
        read(bytes(data), format_name)
    assert error.value.offset == offset and "test-file" in str(error.value)


@pytest.mark.parametrize("format_name", ["evt2", "evt3", "dat"])
def test_coordinates_beyond_the_header_geometry_are_corrupt(format_name):
    events = {
        "t": np.array([5, 9]),
        "x": np.array([3, 700], np.uint16),
        "y": np.array([2, 2], np.uint16),
        "p": np.array([1, 0], np.uint8),
    }
    if format_name == "evt3":
        data = writers.write_evt3(events, width=640, height=480, rng=np.random.default_rng(0))
    elif format_name == "evt2":
        data = writers.write_evt2(events, width=640, height=480)
    else:
        data = writers.write_dat(events, width=640, height=480)
    with pytest.raises(FormatError, match="sensor width 640") as error:
        read(data, format_name)
    assert error.value.offset is not None and error.value.offset > 0


@settings(max_examples=60, deadline=2000)
@given(data=st.binary(max_size=600), format_name=st.sampled_from(sorted(FORMATS)))
def test_garbage_never_crashes_or_hangs(data, format_name):
    """Arbitrary bytes: events or a FormatError, never another exception or a hang."""
    for prefix in (b"", b"% evt 3.0\n", b"% evt 2.0\n", b"% Version 2\n"):
        try:
            read(prefix + data, format_name, 64)
        except FormatError as error:
            assert error.source == "test-file"


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["csv", "npy-structured", "npz", "hdf5"]), cut=st.floats(0, 1))
def test_truncated_generic_file(seed, kind, cut):
    rng = np.random.default_rng(seed)
    events = random_events(rng, 40, 640, 480, t0=1000, max_gap=100)
    data = GENERIC[kind](events, rng)
    end = int(cut * len(data))
    try:
        prefix = read(data[:end], GENERIC_FORMAT[kind])
    except FormatError as error:
        assert error.source.startswith("test-file")
        return
    for name in "txyp":  # what reads must be a prefix, never wrong events
        np.testing.assert_array_equal(prefix[name], events[name][: len(prefix[name])])


def test_truncated_csv_line_names_its_offset():
    data = b"t x y p\n10 1 2 1\n20 3 4 0\n30 5"
    with pytest.raises(FormatError, match="4 values") as error:
        read(data, "text")
    assert error.value.offset == data.index(b"30 5")


def test_raw_without_declared_encoding_needs_the_format():
    with pytest.raises(FormatError, match="give the format"):
        detect_format(b"% Date 2020-01-01\n" + bytes(8), "recording.raw", source="recording.raw")
    assert detect_format(b"x", "events.CSV", source="events.CSV") == "text"
    assert detect_format(np.lib.format.MAGIC_PREFIX + b"\x01\x00", "a.bin", source="a.bin") == "npy"


@pytest.mark.parametrize("format_name", ["evt2", "evt3", "dat", "text"])
def test_readers_take_a_given_sensor_size_with_polarities(format_name):
    """(W, H, P) as a dataset's sensor size reads, as (W, H), by every reader that takes one."""
    rng = np.random.default_rng(0)
    events = random_events(rng, 50, 640, 480, t0=0, max_gap=100)
    if format_name == "evt3":
        events = _evt3_order(events)
    data = {
        "evt2": lambda: writers.write_evt2(events, width=640, height=480),
        "evt3": lambda: writers.write_evt3(events, width=640, height=480, rng=rng),
        "dat": lambda: writers.write_dat(events, width=640, height=480),
        "text": lambda: "".join(f"{t} {x} {y} {p}\n" for t, x, y, p in zip(*(events[k] for k in "txyp"))).encode(),
    }[format_name]()
    reader = open_reader(io.BytesIO(data), format_name, source="test-file", sensor_size=(640, 480, 2))
    assert reader.sensor_size == (640, 480)
    assert_same(concatenate(reader.chunks()), events)


class _Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read (pipes, sockets, archive members)."""

    def __init__(self, data: bytes, step: int):
        self.data, self.step, self.position = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.position : self.position + size]
        self.position += len(chunk)
        return chunk


@PROPERTY
@given(
    data=st.binary(max_size=300),
    pending=st.binary(max_size=40),
    record=st.integers(1, 9),
    per_block=st.integers(1, 12),
    step=st.integers(1, 50),
)
def test_record_blocks_cut_whole_records_from_any_stream(data, pending, record, per_block, step):
    """Blocks hold whole records, in order, at their byte offsets, from short reads and read-ahead
    bytes alike; a file that ends inside a record is an error at that record's offset."""
    whole = pending + data
    blocks = record_blocks(
        _Trickle(data, step), source="f", record_bytes=record, records_per_block=per_block, offset=100, pending=pending
    )
    got, position = [], 100
    try:
        for offset, block in blocks:
            assert offset == position and len(block) % record == 0 and 0 < len(block) <= max(per_block * record, len(pending))
            got.append(bytes(block))
            position += len(block)
    except FormatError as error:
        assert len(whole) % record and error.offset == 100 + len(whole) - len(whole) % record
    else:
        assert len(whole) % record == 0
    assert b"".join(got) == whole[: len(b"".join(got))]
