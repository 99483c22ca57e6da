"""The fuzz targets of the raw formats: for each, seed files and how the project reads one file.

Seeds are the real recordings of the shared samples folder (``NEUROSHARDS_SAMPLES``, default
``../shared/samples`` beside the repository; read in place, never copied) and files made by the
synthetic writers of the tests. A target whose seeds need an absent optional package or folder
says why it is skipped. ``read`` reads a whole file the way a conversion does (every chunk), so
each reader's header parsing and decoding kernels both see the mutated bytes.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from shardgen.formats import FormatError, encode_atis_bin, open_reader, pack_atis_bin
from shardgen.formats.aedat3 import Aedat3Reader
from shardgen.formats.containers import load_mat, load_npy, load_npz
from shardgen.formats.rawtree import RawFile
from shardgen.synthetic import containers as container_writers
from shardgen.synthetic import event_files as event_file_writers
from shardgen.synthetic import inivation as inivation_writers

from .engine import Target

#: The project's error class for bad input (anything else a reader raises is counted as foreign).
EXPECTED = (FormatError,)


def samples_dir() -> Path | None:
    folder = Path(os.environ.get("NEUROSHARDS_SAMPLES", Path(__file__).resolve().parents[3] / "shared" / "samples"))
    return folder if folder.is_dir() else None


def _real(*patterns: str) -> list[tuple[str, bytes]]:
    folder = samples_dir()
    if folder is None:
        return []
    return [(path.name, path.read_bytes()) for pattern in patterns for path in sorted(folder.glob(pattern))]


def _events(seed: int, n: int, width: int, height: int, span: int = 200_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "t": np.sort(rng.integers(0, span, n)).astype(np.int64),
        "x": rng.integers(0, width, n).astype(np.uint16),
        "y": rng.integers(0, height, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


# Reading as the project does ------------------------------------------------------------------


def _read_format(format_name: str, path: str, **options) -> None:
    with open(path, "rb") as stream:
        reader = open_reader(stream, format_name, source=path, **options)
        try:
            for _chunk in reader.chunks(1 << 12):
                pass
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()


def _read_gesture_windows(path: str) -> None:
    """The DVS128 Gesture route: the whole recording, then label windows cut into records."""
    with open(path, "rb") as stream:
        packets = Aedat3Reader(stream, source=path).whole()
    starts = np.array([0, 1_000, 50_000, 1 << 31], np.int64)
    for _packed in packets.windows(starts, starts + 60_000, (128, 128, 2)):
        pass


def _read_atis(path: str) -> None:
    pack_atis_bin(Path(path).read_bytes(), (34, 34, 2), source=path)


def _read_container(loader, path: str, **options) -> None:
    loader(Path(path).read_bytes(), source=path, **options)


def _read_adapter(read, path: str) -> None:
    read(RawFile(Path(path).name, path))


# Seeds -----------------------------------------------------------------------------------------


def _aedat2_seeds() -> list[tuple[str, bytes]]:
    e = _events(1, 300, 128, 128)
    address = inivation_writers.dvs128_address(e["x"], e["y"], e["p"])
    return _real("aedat2/*.aedat") + [
        ("synthetic-dvs128", inivation_writers.aedat2_bytes(address, e["t"], header=inivation_writers.CIFAR_HEADER)),
        ("synthetic-davis", inivation_writers.davis_fixture()),
    ]


def _aedat3_seeds() -> list[tuple[str, bytes]]:
    e = _events(2, 600, 128, 128)
    packets = inivation_writers.polarity_packets(e["x"], e["y"], e["p"], e["t"], per_packet=150)
    mixed = packets[:2] + [inivation_writers.special_packet(5, 100), inivation_writers.frame_like_packet(200, 41)] + packets[2:]
    late = _events(3, 200, 128, 128)
    late["t"] = late["t"] + (1 << 31) - 100_000
    return [
        ("synthetic-gesture", inivation_writers.aedat3_bytes(packets)),
        ("synthetic-mixed", inivation_writers.aedat3_bytes(mixed)),
        (
            "synthetic-overflow",
            inivation_writers.aedat3_bytes(
                inivation_writers.polarity_packets(late["x"], late["y"], late["p"], late["t"], per_packet=64)
            ),
        ),
    ]


def _aedat4_seeds() -> list[tuple[str, bytes]]:
    e = _events(4, 200, 320, 240)
    streams = {0: ("EVTS", 320, 240)}
    packets = [
        (0, (e["t"][:100], e["x"][:100], e["y"][:100], e["p"][:100])),
        (0, (e["t"][100:], e["x"][100:], e["y"][100:], e["p"][100:])),
    ]
    seeds = [("synthetic", inivation_writers.aedat4_bytes(streams, packets))]
    try:
        import zstandard  # noqa: F401

        seeds.append(("synthetic-zstd", inivation_writers.aedat4_bytes(streams, packets, compression="zstd")))
    except ImportError:
        pass
    return _real("aedat4/*.aedat4") + seeds


def _dat_seeds() -> list[tuple[str, bytes]]:
    e = _events(5, 300, 304, 240)
    return _real("prophesee_dat/*.dat") + [
        ("synthetic-v2", event_file_writers.write_dat(e, layout="v2", width=304, height=240)),
        ("synthetic-atis", event_file_writers.write_dat(e, layout="atis")),
    ]


def _evt2_seeds() -> list[tuple[str, bytes]]:
    e = _events(6, 400, 640, 480)
    return _real("prophesee_evt2/*.raw") + [
        ("synthetic", event_file_writers.write_evt2(e, width=640, height=480, noise_every=7, rng=np.random.default_rng(6)))
    ]


def _evt3_seeds() -> list[tuple[str, bytes]]:
    e = _events(7, 400, 1280, 720)
    return _real("prophesee_evt3/*.raw") + [
        ("synthetic", event_file_writers.write_evt3(e, width=1280, height=720, rng=np.random.default_rng(7), stale_time_low=True))
    ]


def _text_seeds() -> list[tuple[str, bytes]]:
    e = _events(8, 200, 346, 260)
    seconds = (
        "# t x y p in seconds\n" + "".join(f"{t / 1e6:.6f} {x} {y} {p}\n" for t, x, y, p in zip(*(e[k].tolist() for k in "txyp")))
    ).encode()
    return [
        ("synthetic-header", event_file_writers.write_csv(e, header=True)),
        ("synthetic-plain", event_file_writers.write_csv(e, header=False, separator=" ")),
        ("synthetic-decimal", seconds),
    ]


def _npy_seeds() -> list[tuple[str, bytes]]:
    e = _events(9, 200, 346, 260)
    return [
        ("synthetic-structured", event_file_writers.write_npy(e, structured=True)),
        ("synthetic-columns", event_file_writers.write_npy(e, structured=False)),
        ("synthetic-npz", event_file_writers.write_npz(e)),
    ]


def _hdf5_seeds() -> list[tuple[str, bytes]]:
    e = _events(10, 200, 346, 260)
    return [
        ("synthetic-group", event_file_writers.write_hdf5(e, group="events", width=346, height=260)),
        ("synthetic-top", event_file_writers.write_hdf5(e, group=None, width=346, height=260)),
    ]


def _atis_seeds() -> list[tuple[str, bytes]]:
    e = _events(11, 300, 34, 34, span=1 << 22)
    return _real("nmnist/*.bs2", "nmnist/*.bin") + [("synthetic", encode_atis_bin(e))]


def _npy_container_seeds() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(12)
    packets = np.zeros((3, 50), dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
    packets["t"] = np.sort(rng.integers(0, 10_000, packets.shape))
    return [
        ("synthetic-packets", container_writers._npy(packets)),
        ("synthetic-columns", container_writers._npy(rng.integers(0, 100, (100, 4)))),
    ]


def _npz_container_seeds() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(13)
    return [
        ("synthetic-es-imagenet", container_writers._npz(pos=rng.integers(0, 200, (60, 3)), neg=rng.integers(0, 200, (40, 3))))
    ]


def _mat_seeds() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(14)
    columns = {
        "ts": np.sort(rng.integers(0, 10_000, 80)).astype(np.float64),
        "x": rng.integers(0, 240, 80).astype(np.float64),
        "y": rng.integers(0, 180, 80).astype(np.float64),
        "pol": rng.integers(0, 2, 80).astype(np.float64),
    }
    return [("synthetic", container_writers._mat(columns))]


def _gesture_labels_seeds() -> list[tuple[str, bytes]]:
    rows = [(1, 100, 5_000), (2, 5_000, 9_000), (11, 9_000, 12_000)]
    return _real("dvs128_gesture/*.csv") + [("synthetic", inivation_writers.labels_csv(rows))]


def _written(write, name: str) -> bytes:
    """The bytes of file ``name`` that ``write(root)`` creates (the tests' tree writers)."""
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        write(Path(root))
        return (Path(root) / name).read_bytes()


def _shd_seeds() -> list[tuple[str, bytes]]:
    return [("synthetic-shd", _written(container_writers.write_shd, "shd_test.h5"))]


def _ntidigits_seeds() -> list[tuple[str, bytes]]:
    return [("synthetic", _written(container_writers.write_ntidigits18, "n-tidigits.hdf5"))]


def _navgesture_seeds() -> list[tuple[str, bytes]]:
    from shardgen.synthetic.navgesture import navgesture_files

    return [(Path(name).name, data) for name, data in sorted(navgesture_files().items())] + _dat_seeds()


def _read_shd(path: str) -> None:
    from shardgen.datasets.hdf5_datasets import HeidelbergTask

    HeidelbergTask(path, "test", 0, 3).run()


def _read_ntidigits(path: str) -> None:
    from shardgen.datasets.hdf5_datasets import N_TIDIGITS_CLASSES, TidigitsTask

    single_digits = [
        name for name in container_writers.NTIDIGITS_UTTERANCES["train"] if name.split("-")[-1] in N_TIDIGITS_CLASSES
    ]
    TidigitsTask(path, "train", tuple(single_digits)).run()


def _optional(module: str) -> str | None:
    try:
        __import__(module)
    except ImportError:
        return f"the optional package {module!r} is not installed"
    return None


def _targets() -> list[Target]:
    from shardgen.datasets.inivation_datasets import read_cifar10dvs, read_label_rows
    from shardgen.datasets.mat_datasets import read_asl_dvs_mat
    from shardgen.datasets.navgesture import read_navgesture_td
    from shardgen.datasets.numpy_datasets import read_es_imagenet_npz, read_numpy_events, read_packet_npy

    return [
        Target("aedat2", _aedat2_seeds, functools.partial(_read_format, "aedat2"), ".aedat"),
        Target("aedat3", _aedat3_seeds, functools.partial(_read_format, "aedat3"), ".aedat"),
        Target("aedat3-gesture-windows", _aedat3_seeds, _read_gesture_windows, ".aedat"),
        Target("aedat4", _aedat4_seeds, functools.partial(_read_format, "aedat4"), ".aedat4", _optional("aedat")),
        Target("atis", _atis_seeds, _read_atis, ".bin"),
        Target("dat", _dat_seeds, functools.partial(_read_format, "dat"), ".dat"),
        Target("evt2", _evt2_seeds, functools.partial(_read_format, "evt2"), ".raw"),
        Target("evt3", _evt3_seeds, functools.partial(_read_format, "evt3"), ".raw"),
        Target("text", _text_seeds, functools.partial(_read_format, "text", time_unit="us"), ".csv"),
        Target("text-seconds", _text_seeds, functools.partial(_read_format, "text", time_unit="s"), ".csv"),
        Target("npy", _npy_seeds, functools.partial(_read_format, "npy"), ".npy"),
        Target("hdf5", _hdf5_seeds, functools.partial(_read_format, "hdf5"), ".h5", _optional("h5py")),
        Target("containers-npy", _npy_container_seeds, functools.partial(_read_container, load_npy), ".npy"),
        Target(
            "containers-npz", _npz_container_seeds, functools.partial(_read_container, load_npz, names=("pos", "neg")), ".npz"
        ),
        Target(
            "containers-mat",
            _mat_seeds,
            functools.partial(_read_container, load_mat, names=("ts", "x", "y", "pol")),
            ".mat",
            _optional("scipy"),
        ),
        Target("cifar10dvs", _aedat2_seeds, functools.partial(_read_adapter, read_cifar10dvs), ".aedat"),
        Target("dvs128gesture-labels", _gesture_labels_seeds, functools.partial(_read_adapter, read_label_rows), ".csv"),
        Target("asldvs-mat", _mat_seeds, functools.partial(_read_adapter, read_asl_dvs_mat), ".mat", _optional("scipy")),
        Target("dvslip-npy", _npy_seeds, functools.partial(_read_adapter, read_numpy_events), ".npy"),
        Target(
            "bullying10k-npy",
            _npy_container_seeds,
            functools.partial(_read_adapter, functools.partial(read_packet_npy, allow_pickle=False)),
            ".npy",
        ),
        Target("esimagenet-npz", _npz_container_seeds, functools.partial(_read_adapter, read_es_imagenet_npz), ".npz"),
        Target("navgesture-dat", _navgesture_seeds, functools.partial(_read_adapter, read_navgesture_td), ".dat"),
        Target("shd-hdf5", _shd_seeds, _read_shd, ".h5", _optional("h5py")),
        Target("ntidigits-hdf5", _ntidigits_seeds, _read_ntidigits, ".hdf5", _optional("h5py")),
    ]


TARGETS = _targets()
