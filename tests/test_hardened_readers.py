"""Faults found by mutating recordings (issue 11), one test each: every bad input is a FormatError
naming the file and the format, never a crash, a foreign error or a silent wrap.

Inputs that used to crash the interpreter are read in a subprocess, so the test fails instead of
killing pytest.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shardgen.formats import FormatError, concatenate, open_reader
from shardgen.formats.errors import MAX_TIMESTAMP_US
from shardgen.synthetic import event_files as writers
from shardgen.synthetic import inivation as inivation_writers

ROOT = Path(__file__).resolve().parents[1]


def read_all(path: Path, format_name: str, **options) -> dict[str, np.ndarray]:
    with open(path, "rb") as stream:
        reader = open_reader(stream, format_name, source=str(path), **options)
        try:
            return concatenate(reader.chunks())
        finally:
            if hasattr(reader, "close"):
                reader.close()


def read_in_subprocess(path: Path, code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    script = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\nPATH = {str(path)!r}\n{code}"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)


def events(n: int = 50, width: int = 128, height: int = 128, t_start: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "t": np.sort(rng.integers(t_start, t_start + 10_000, n)).astype(np.int64),
        "x": rng.integers(0, width, n).astype(np.uint16),
        "y": rng.integers(0, height, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def test_aedat3_packet_length_that_wraps_int64_is_an_error_not_a_segfault(tmp_path):
    """capacity * size of 2**32 - 1 each wraps int64: the scan once went backwards and the kernel
    read out of bounds (SIGSEGV), also through the DVS128 Gesture route."""
    e = events()
    good = inivation_writers.polarity_packets(e["x"], e["y"], e["p"], e["t"], per_packet=25)
    wrapping = struct.pack("<HHIIIIII", 2, 1, 0xFFFF_FFFF, 4, 0, 0xFFFF_FFFF, 0, 0) + b"\0" * 64
    path = tmp_path / "wrap.aedat"
    path.write_bytes(inivation_writers.aedat3_bytes(good + [wrapping]))
    for route in (
        "from shardgen.formats import concatenate, open_reader\n"
        "concatenate(open_reader(open(PATH, 'rb'), 'aedat3', source=PATH).chunks())",
        "from shardgen.formats.aedat3 import Aedat3Reader\n"
        "import numpy as np\n"
        "list(Aedat3Reader(open(PATH, 'rb'), source=PATH).whole().windows(np.array([0]), np.array([10**6]), (128, 128, 2)))",
    ):
        done = read_in_subprocess(
            path, f"try:\n    exec({route!r})\nexcept Exception as error:\n    print(type(error).__name__, error)"
        )
        assert done.returncode == 0, f"crashed with {done.returncode}: {done.stderr[-500:]}"
        assert "FormatError" in done.stdout and "wrap.aedat" in done.stdout and "format aedat3" in done.stdout
        assert f"at byte {len(path.read_bytes()) - 92}" in done.stdout, done.stdout


def test_aedat4_damaged_description_length_is_a_format_error_not_a_panic(tmp_path):
    """The Rust decoder panics (PanicException, a BaseException) on a description length that
    splits a UTF-8 character; it must come out as a FormatError."""
    pytest.importorskip("aedat", reason="the aedat4 extra is not installed")
    e = events(20, 320, 240)
    data = bytearray(inivation_writers.aedat4_bytes({0: ("EVTS", 320, 240)}, [(0, (e["t"], e["x"], e["y"], e["p"]))]))
    at = data.index(b"<dv version")
    data[at + 1 : at + 3] = "é".encode()  # a two-byte character ...
    (length,) = struct.unpack_from("<I", data, at - 4)
    struct.pack_into("<I", data, at - 4, 2)  # ... cut in half by the declared length
    path = tmp_path / "description.aedat4"
    path.write_bytes(bytes(data))
    done = read_in_subprocess(
        path,
        "from shardgen.formats import concatenate, open_reader\n"
        "try:\n    concatenate(open_reader(open(PATH, 'rb'), 'aedat4', source=PATH).chunks())\n"
        "except BaseException as error:\n    print(type(error).__name__, error)",
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.startswith("FormatError") and "description.aedat4" in done.stdout and "format aedat4" in done.stdout, (
        done.stdout
    )


@pytest.mark.parametrize("value", [2**63, 2**64 - 1, 10**30])
def test_text_timestamps_beyond_int64_are_errors_not_wraps(tmp_path, value):
    path = tmp_path / "big.csv"
    path.write_text(f"t,x,y,p\n1,2,3,1\n{value},4,5,0\n")
    with pytest.raises(FormatError, match=r"big\.csv: .*timestamps outside.*\(format text\)"):
        read_all(path, "text")


def test_text_timestamps_that_overflow_after_the_unit_conversion(tmp_path):
    path = tmp_path / "ms.csv"
    path.write_text(f"0,1,1,1\n{2**61},1,1,0\n")  # in ms: 2**61 * 1000 µs wraps int64
    with pytest.raises(FormatError, match=r"ms\.csv.*timestamps outside"):
        read_all(path, "text", time_unit="ms")


def test_npy_and_hdf5_timestamps_beyond_int64_are_errors(tmp_path):
    e = events()
    e["t"] = e["t"].astype(np.uint64)
    e["t"][-1] = 2**63 + 5
    path = tmp_path / "big.npy"
    array = np.empty(len(e["t"]), [("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
    for name in "txyp":
        array[name] = e[name]
    np.save(path, array)
    with pytest.raises(FormatError, match=r"big\.npy: .*timestamps outside.*\(format npy\)"):
        read_all(path, "npy")
    pytest.importorskip("h5py")
    path = tmp_path / "big.h5"
    path.write_bytes(writers.write_hdf5(e, group="events", width=128, height=128))
    with pytest.raises(FormatError, match=r"big\.h5: .*timestamps outside.*\(format hdf5\)"):
        read_all(path, "hdf5")
    e["t"] = -e["t"].astype(np.int64)  # negative timestamps within range read as they are
    path.write_bytes(
        writers.write_hdf5({**e, "t": np.sort(np.asarray(-np.arange(50), np.int64))}, group="events", width=128, height=128)
    )
    assert read_all(path, "hdf5")["t"].min() == -49


@pytest.mark.parametrize("size", [(0, 240), (65537, 240), (2**31, 2**31), (304, 0)])
def test_header_sensor_sizes_outside_1_to_65535_are_errors(tmp_path, size):
    e = events(20, 100, 100)
    width, height = size
    cases = {
        "evt2": writers.write_evt2(e, width=width, height=height),
        "dat": writers.write_dat(e, layout="v2", width=width, height=height),
    }
    for format_name, data in cases.items():
        path = tmp_path / f"sensor.{format_name}"
        path.write_bytes(data)
        with pytest.raises(FormatError, match=rf"sensor\.{format_name}: .*sensor size.*\(format {format_name}\)"):
            read_all(path, format_name)
    if pytest.importorskip("h5py"):
        path = tmp_path / "sensor.h5"
        path.write_bytes(writers.write_hdf5(e, group=None, width=width, height=height))
        with pytest.raises(FormatError, match=r"sensor\.h5: .*sensor size.*\(format hdf5\)"):
            read_all(path, "hdf5")


def test_aedat3_timestamp_overflow_counter_beyond_2_to_62_is_an_error(tmp_path):
    e = events()
    packet = struct.pack("<HHIIIIII", 1, 1, 8, 4, 2**31, 1, 1, 1) + bytes(8)  # overflow 2**31: t >= 2**62
    path = tmp_path / "overflow.aedat"
    path.write_bytes(
        inivation_writers.aedat3_bytes(inivation_writers.polarity_packets(e["x"], e["y"], e["p"], e["t"]) + [packet])
    )
    with pytest.raises(FormatError, match=r"overflow\.aedat at byte \d+: timestamp overflow counter.*\(format aedat3\)"):
        read_all(path, "aedat3")


def test_errors_pickle_with_their_facts():
    import pickle

    error = FormatError("a.bin", 12, "broken", format="atis", sample="k1")
    again = pickle.loads(pickle.dumps(error))
    assert (again.source, again.offset, again.problem, again.format, again.sample) == ("a.bin", 12, "broken", "atis", "k1")
    assert str(again) == "a.bin at byte 12: broken (format atis, sample k1)"


def test_timestamp_bound_is_documented_and_symmetric():
    assert MAX_TIMESTAMP_US == 2**62
    reader = open_reader(io.BytesIO(f"{-(2**62) + 1},1,1,1\n".encode()), "text", source="edge.csv")
    assert concatenate(reader.chunks())["t"][0] == -(2**62) + 1


def test_spike_times_and_channels_beyond_int64_are_errors_not_wraps():
    """SHD/SSC store float seconds: 1e30 s once became a wrapped negative int64."""
    from shardgen.datasets.hdf5_datasets import spike_events

    with pytest.raises(FormatError, match=r"shd\.h5 recording 3: spike times hold NaN, infinity or values beyond"):
        spike_events(np.array([0.5, 1e30]), np.array([1, 2], np.uint16), source="shd.h5 recording 3")
    with pytest.raises(FormatError, match=r"shd\.h5 recording 4: field 'units' value 18446744073709551615 does not fit"):
        spike_events(np.array([0.5, 0.6]), np.array([1, 2**64 - 1], np.uint64), source="shd.h5 recording 4")
    assert spike_events(np.array([0.5, 0.6], np.float32), np.array([1, 2]), source="ok")["t"].tolist() == [500000, 600000]


def test_aedat4_description_that_is_not_utf8_is_a_format_error_not_an_abort(tmp_path):
    """The Rust decoder aborts the process (SIGABRT: a panic while raising its error) when the
    stream description holds invalid UTF-8; the framing check refuses it first."""
    pytest.importorskip("aedat", reason="the aedat4 extra is not installed")
    e = events(20, 320, 240)
    data = bytearray(inivation_writers.aedat4_bytes({0: ("EVTS", 320, 240)}, [(0, (e["t"], e["x"], e["y"], e["p"]))]))
    at = data.index(b"</node></node></dv>")
    data[at + 3] = 0xEF  # a lead byte without its continuation bytes, in a closing tag (as a fuzzed file had it)
    path = tmp_path / "latin.aedat4"
    path.write_bytes(bytes(data))
    done = read_in_subprocess(
        path,
        "from shardgen.formats import concatenate, open_reader\n"
        "try:\n    concatenate(open_reader(open(PATH, 'rb'), 'aedat4', source=PATH).chunks())\n"
        "except BaseException as error:\n    print(type(error).__name__, error)",
    )
    assert done.returncode == 0, f"crashed with {done.returncode}"
    assert (
        done.stdout.startswith("FormatError")
        and "latin.aedat4 at byte 18: IOHeader stream description is not UTF-8" in done.stdout
    )


def test_shd_global_heap_with_a_zero_sized_free_space_object_is_an_error_not_a_hang(tmp_path):
    """HDF5 loops forever reading a variable-length element whose global heap collection has a
    zero-sized free-space object (found by fuzzing SHD files); the heap is checked first."""
    pytest.importorskip("h5py")
    from shardgen.synthetic import containers as container_writers

    container_writers.write_shd(tmp_path)
    path = tmp_path / "shd_test.h5"
    data = bytearray(path.read_bytes())
    heap = data.index(b"GCOL")
    at = heap + 16
    while int.from_bytes(data[at : at + 2], "little"):  # to the free-space object (index 0)
        at += 16 + (int.from_bytes(data[at + 8 : at + 16], "little") + 7) // 8 * 8
    data[at + 8 : at + 16] = bytes(8)
    path.write_bytes(bytes(data))
    code = (
        "from shardgen.datasets.hdf5_datasets import HeidelbergTask\n"
        "try:\n    HeidelbergTask(PATH, 'test', 0, 3).run()\nexcept Exception as error:\n    print(type(error).__name__, error)"
    )
    try:
        done = read_in_subprocess(path, code, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("reading the damaged heap hung")
    assert done.stdout.startswith("FormatError") and f"at byte {at}: /spikes/times: damaged global heap free space" in done.stdout


def test_shd_variable_length_datatype_that_is_not_a_sequence_is_an_error_not_a_segfault(tmp_path):
    """A damaged sequence-type field in the datatype of spikes/units made HDF5 crash (SIGSEGV)."""
    pytest.importorskip("h5py")
    from shardgen.synthetic import containers as container_writers

    container_writers.write_shd(tmp_path)
    path = tmp_path / "shd_test.h5"
    data = bytearray(path.read_bytes())
    vlen_types = [
        at for at in range(len(data) - 8) if data[at : at + 8] == b"\x03\x00\x18\x00\x01\x00\x00\x00" and data[at + 8] == 0x19
    ]  # datatype messages of a variable-length type (class 9)
    assert vlen_types
    data[vlen_types[-1] + 9] = 2  # the sequence type: 0 sequence, 1 string, 2 undefined
    path.write_bytes(bytes(data))
    done = read_in_subprocess(
        path,
        "from shardgen.datasets.hdf5_datasets import HeidelbergTask\n"
        "try:\n    HeidelbergTask(PATH, 'test', 0, 3).run()\n"
        "except Exception as error:\n    print(type(error).__name__, error)",
        timeout=60,
    )
    assert done.returncode == 0, f"crashed with {done.returncode}"
    assert done.stdout.startswith("FormatError") and "damaged variable-length datatype" in done.stdout, done.stdout


def test_shd_dataset_storage_beyond_the_file_is_an_error_not_a_hang(tmp_path):
    """A contiguous layout claiming more storage than the file holds is refused: a fuzzed SHD file
    with such a layout (and another damaged byte) hung HDF5; this one alone was read silently."""
    pytest.importorskip("h5py")
    import h5py

    from shardgen.synthetic import containers as container_writers

    container_writers.write_shd(tmp_path)
    path = tmp_path / "shd_test.h5"
    with h5py.File(path, "r") as h5:
        offset, storage = h5["spikes/times"].id.get_offset(), h5["spikes/times"].id.get_storage_size()
    data = bytearray(path.read_bytes())
    layout = data.index(offset.to_bytes(8, "little") + storage.to_bytes(8, "little"))  # address, size
    data[layout + 8 : layout + 16] = (1 << 40).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    code = (
        "from shardgen.datasets.hdf5_datasets import HeidelbergTask\n"
        "try:\n    HeidelbergTask(PATH, 'test', 0, 3).run()\nexcept Exception as error:\n    print(type(error).__name__, error)"
    )
    try:
        done = read_in_subprocess(path, code, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("reading the damaged layout hung")
    assert done.stdout.startswith("FormatError") and f"{1 << 40} bytes of storage at byte {offset} do not fit" in done.stdout, (
        done.stdout
    )
