"""Writers of tiny raw datasets in their distributed formats (.mat, .npy, .npz, HDF5, zip, tar.gz).

Each ``write_<dataset>(root)`` lays out a few recordings, edge cases included, exactly as the
authors ship them and returns the path to pass as ``--raw``. The output depends only on the code
(fixed seeds), so ``scripts/references/make_container_references.py`` (SpikingJelly / Tonic) and the tests
(neuroshards) read identical files.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _zip_to(target, members: dict[str, bytes]) -> None:
    """A zip (path or binary buffer) of ``members`` with fixed timestamps."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _zip_to(path, members)
    return path


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    _zip_to(buffer, members)
    return buffer.getvalue()


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _sorted_times(rng: np.random.Generator, n: int, span: int, start: int = 0) -> np.ndarray:
    return np.sort(rng.integers(start, start + span, size=n))


# ASL-DVS ---------------------------------------------------------------------------------------


def _mat(columns: dict[str, np.ndarray]) -> bytes:
    import scipy.io

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {name: values.reshape(-1, 1) for name, values in columns.items()})
    return buffer.getvalue()


def asl_dvs_letter_zips() -> dict[str, dict[str, bytes]]:
    """{letter zip name: {member: .mat bytes}}: MATLAB doubles mostly, one file of integer types."""
    rng = _rng(1)
    zips: dict[str, dict[str, bytes]] = {}
    for letter, counts in (("a", (40, 1)), ("k", (25,)), ("y", (30, 12))):
        members = {}
        for number, n in enumerate(counts, start=1):
            ts = _sorted_times(rng, n, 200_000, start=1_000)
            x, y, pol = rng.integers(0, 240, n), rng.integers(0, 180, n), rng.integers(0, 2, n)
            if n > 2:
                x[:2], y[:2] = (0, 239), (0, 179)  # both edges of the sensor
            if letter == "y" and number == 2:  # integer-typed variables
                columns = {
                    "ts": ts.astype(np.int32),
                    "x": x.astype(np.uint8),
                    "y": y.astype(np.uint8),
                    "pol": pol.astype(np.uint8),
                }
            else:
                columns = {"ts": ts.astype(float), "x": x.astype(float), "y": y.astype(float), "pol": pol.astype(float)}
            members[f"{letter}/{letter}_{number:04d}.mat"] = _mat(columns)
        zips[f"{letter}.zip"] = members
    return zips


def _write_zips(root: Path, zips: dict[str, dict[str, bytes]]) -> Path:
    for name, members in zips.items():
        _zip(root / name, members)
    return root


def write_asldvs(root: Path) -> Path:
    """The folder you get from ``unzip ICCV2019_DVS_dataset.zip``: one zip per letter."""
    return _write_zips(root, asl_dvs_letter_zips())


def write_asldvs_archive(root: Path) -> Path:
    """``ICCV2019_DVS_dataset.zip`` itself (zips inside a zip), as SpikingJelly expects it."""
    members = {name: _zip_bytes(inner) for name, inner in asl_dvs_letter_zips().items()}
    return _zip(root / "ICCV2019_DVS_dataset.zip", members)


# DVS-Lip ---------------------------------------------------------------------------------------

DVS_LIP_DTYPE = np.dtype([("t", "<i4"), ("x", "i1"), ("y", "i1"), ("p", "i1")])


def write_dvslip(root: Path) -> Path:
    """``DVS-Lip.zip``: DVS-Lip/{train,test}/<word>/<n>.npy structured arrays; one empty recording."""
    rng = _rng(2)
    members = {}
    for split, per_word in (("train", 2), ("test", 1)):
        for word in ("accused", "action", "allowed"):
            for number in range(per_word):
                n = 0 if (split, word, number) == ("test", "action", 0) else int(rng.integers(5, 60))
                array = np.zeros(n, DVS_LIP_DTYPE)
                array["t"] = _sorted_times(rng, n, 1_000_000)
                array["x"], array["y"], array["p"] = rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n)
                members[f"DVS-Lip/{split}/{word}/{number}.npy"] = _npy(array)
    return _zip(root / "DVS-Lip.zip", members)


# HARDVS ----------------------------------------------------------------------------------------

HARDVS_SAMPLES = {
    "train": [
        "action_001/dvSave-2021_10_15_19_18_02",
        "action_002/dvSave-2021_10_15_19_20_11",
        "action_300/dvSave-2021_12_01_10_00_00",
    ],
    "val": ["action_001/dvSave-2021_10_15_19_30_45"],
    "test": ["action_002/dvSave-2021_10_16_08_00_00", "action_300/dvSave-2021_12_01_10_05_00"],
}


def hardvs_files() -> tuple[dict[str, dict[str, bytes]], dict[str, bytes]]:
    """({action_XXX.zip: {npz member: bytes}} for all 300 classes, {<split>_label.txt: bytes})."""
    rng = _rng(3)
    inner: dict[str, dict[str, bytes]] = {f"action_{index:03d}.zip": {} for index in range(1, 301)}
    lists = {}
    for split, entries in HARDVS_SAMPLES.items():
        lines = []
        for entry in entries:
            action, name = entry.split("/")
            n = int(rng.integers(20, 80))
            inner[f"{action}.zip"][f"{name}.npz"] = _npz(
                t=_sorted_times(rng, n, 3_000_000, start=1_634_000_000_000_000).astype(np.int64),
                x=rng.integers(0, 346, n).astype(np.int16),
                y=rng.integers(0, 260, n).astype(np.int16),
                p=rng.integers(0, 2, n).astype(np.int8),
            )
            lines.append(f"{entry} {int(action[-3:]) - 1}\n")
        lists[f"{split}_label.txt"] = ("".join(lines) + "\n").encode()  # a trailing blank line, as SpikingJelly skips
    return inner, lists


def write_hardvs(root: Path) -> Path:
    """The folder you get from ``unzip MINI_HARDVS_files.zip`` plus the three label lists."""
    inner, lists = hardvs_files()
    _write_zips(root / "MINI_HARDVS_files", inner)
    for name, data in lists.items():
        (root / name).write_bytes(data)
    return root


def write_hardvs_archive(root: Path) -> Path:
    """``MINI_HARDVS_files.zip`` and the lists, as SpikingJelly's download folder holds them."""
    inner, lists = hardvs_files()
    _zip(root / "MINI_HARDVS_files.zip", {f"MINI_HARDVS_files/{name}": _zip_bytes(files) for name, files in inner.items()})
    for name, data in lists.items():
        (root / name).write_bytes(data)
    return root


# Bullying10K -----------------------------------------------------------------------------------

# dv-python's event packet layout (timestamp, x, y, polarity), as Bullying10K's np.save stored it.
DV_EVENT_DTYPE = np.dtype([("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "i1")])


def _packets(rng: np.random.Generator, sizes: list[int], start: int) -> list[np.ndarray]:
    packets, t = [], start
    for size in sizes:
        packet = np.zeros(size, DV_EVENT_DTYPE)
        packet["timestamp"] = t + np.sort(rng.integers(0, 10_000, size))
        packet["x"], packet["y"], packet["polarity"] = (
            rng.integers(0, 346, size),
            rng.integers(0, 260, size),
            rng.integers(0, 2, size),
        )
        packets.append(packet)
        t += 10_000
    return packets


def bullying10k_files() -> dict[str, dict[str, bytes]]:
    """{<class>.zip: {<class>/<take>/<name>.npy: bytes}}: ragged packets (pickled object arrays),
    one file of equal-length packets (a plain 2-D structured array) and one with an empty packet."""
    rng = _rng(4)
    layout = {
        "handshake": [
            ("1", "dvSave-2022_01_01_10_00_00", [5, 9, 3]),
            ("1", "dvSave-2022_01_01_10_01_00", [4, 4, 4]),
            ("2", "dvSave-2022_01_02_09_00_00", [7]),
        ],
        "kicking": [
            ("1", "dvSave-2022_02_01_10_00_00", [6, 0, 8]),
            ("3", "dvSave-2022_02_03_10_00_00", [2, 11]),
            ("3", "dvSave-2022_02_03_10_09_00", [3, 5]),
        ],
        "walking": [("1", "dvSave-2022_03_01_10_00_00", [10, 1]), ("2", "dvSave-2022_03_02_10_00_00", [4, 6, 2])],
    }
    zips = {}
    for cls, files in layout.items():
        members = {}
        for take, name, sizes in files:
            packets = _packets(rng, sizes, start=1_640_000_000_000_000)
            if len(set(sizes)) == 1:
                array = np.stack(packets)
            else:
                array = np.empty(len(packets), dtype=object)
                for index, packet in enumerate(packets):
                    array[index] = packet
            members[f"{cls}/{take}/{name}.npy"] = _npy(array, allow_pickle=True)
        zips[f"{cls}.zip"] = members
    return zips


def write_bullying10k(root: Path) -> Path:
    """The downloaded class zips."""
    return _write_zips(root, bullying10k_files())


# ES-ImageNet -----------------------------------------------------------------------------------


def write_esimagenet(root: Path) -> Path:
    """The extracted ``ES-imagenet-0.18`` tree: train/class<N>/*.npz, val/*.npz, vallabel.txt.

    Classes 0, 1, 10 and 2 exercise the string order of the folder names; t holds many ties.
    """
    rng = _rng(5)
    base = root / "ES-imagenet-0.18"

    def sample(n_pos: int, n_neg: int) -> bytes:
        def columns(n):
            return np.stack([rng.integers(0, 224, n), rng.integers(0, 224, n), rng.integers(1, 9, n)], axis=1).astype(np.int16)

        return _npz(pos=columns(n_pos), neg=columns(n_neg))

    for cls, counts in (("class0", [(30, 25)]), ("class1", [(12, 0), (20, 18)]), ("class10", [(15, 15)]), ("class2", [(9, 30)])):
        for number, (n_pos, n_neg) in enumerate(counts):
            path = base / "train" / cls / f"n{cls[5:]:0>8}_{number}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sample(n_pos, n_neg))
    (base / "val").mkdir(parents=True)
    lines = []
    for number, label in enumerate((10, 0, 2, 10)):
        name = f"ILSVRC2012_val_{number + 1:08d}.npz"
        (base / "val" / name).write_bytes(sample(int(rng.integers(5, 30)), int(rng.integers(5, 30))))
        lines.append(f"{name} {label}\n")
    (base / "vallabel.txt").write_text("".join(lines))
    return root


# POKER-DVS -------------------------------------------------------------------------------------


def write_pokerdvs(root: Path) -> Path:
    """``pips_train.tar.gz`` and ``pips_test.tar.gz``: pips_<split>/<suit>/<n>.npy, [N, 4] t, x, y, p.

    Tonic requires at least 20 files per split; one file stores whole numbers as float64.
    """
    rng = _rng(6)
    for split, per_suit in (("train", 5), ("test", 5)):
        archive = root / f"pips_{split}.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz", format=tarfile.USTAR_FORMAT) as tar:
            for suit in ("cl", "he", "di", "sp"):
                for number in range(per_suit):
                    n = int(rng.integers(3, 40))
                    array = np.stack(
                        [_sorted_times(rng, n, 50_000), rng.integers(0, 35, n), rng.integers(0, 35, n), rng.integers(0, 2, n)],
                        axis=1,
                    )
                    if (split, suit, number) == ("train", "di", 2):
                        array = array.astype(np.float64)
                    data = _npy(array)
                    info = tarfile.TarInfo(f"pips_{split}/{suit}/{suit}_{number:02d}.npy")
                    info.size, info.mtime = len(data), 0
                    tar.addfile(info, io.BytesIO(data))
    return root


# SHD, SSC --------------------------------------------------------------------------------------


def heidelberg_recordings(seed: int, count: int, n_classes: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(float16 seconds, uint16 channel, label): sorted times with repeats, one empty recording,
    times below 2**-9 s (closer than 1 µs in float16) and a channel 699."""
    rng = _rng(seed)
    recordings = []
    for index in range(count):
        n = 0 if index == 1 else int(rng.integers(50, 400))
        times = np.sort(rng.uniform(0.0, 1.4, n)).astype(np.float16)
        if index == 2 and n:
            times[:4] = np.array([0.0, 2**-24, 0.0009, 0.0019], np.float16)
            times.sort()
        units = rng.integers(0, 700, n).astype(np.uint16)
        if n:
            units[-1] = 699
        recordings.append((times, units, int(rng.integers(0, n_classes))))
    return recordings


def _write_heidelberg(path: Path, recordings, keys: list[str]) -> None:
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        times = h5.create_dataset("spikes/times", (len(recordings),), dtype=h5py.vlen_dtype(np.float16))
        units = h5.create_dataset("spikes/units", (len(recordings),), dtype=h5py.vlen_dtype(np.uint16))
        for index, (t, x, _) in enumerate(recordings):
            times[index], units[index] = t, x
        h5.create_dataset("labels", data=np.array([label for _, _, label in recordings], np.uint16))
        h5.create_dataset("extra/keys", data=np.array([key.encode() for key in keys]))
        h5.create_dataset("extra/speaker", data=np.arange(len(recordings), dtype=np.uint16) % 3)


SHD_KEYS = [
    f"{language}-{word}"
    for language in ("english", "german")
    for word in ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
]
SSC_KEYS = [
    "backward",
    "bed",
    "bird",
    "cat",
    "dog",
    "down",
    "eight",
    "five",
    "follow",
    "forward",
    "four",
    "go",
    "happy",
    "house",
    "learn",
    "left",
    "marvin",
    "nine",
    "no",
    "off",
    "on",
    "one",
    "right",
    "seven",
    "sheila",
    "six",
    "stop",
    "three",
    "tree",
    "two",
    "up",
    "visual",
    "wow",
    "yes",
    "zero",
]


def write_shd(root: Path) -> Path:
    for seed, split, count in ((7, "train", 6), (8, "test", 3)):
        _write_heidelberg(root / f"shd_{split}.h5", heidelberg_recordings(seed, count, 20), SHD_KEYS)
    return root


def write_ssc(root: Path) -> Path:
    for seed, split, count in ((9, "train", 4), (10, "valid", 3), (11, "test", 3)):
        _write_heidelberg(root / f"ssc_{split}.h5", heidelberg_recordings(seed, count, 35), SSC_KEYS)
    return root


# N-TIDIGITS18 ----------------------------------------------------------------------------------

NTIDIGITS_UTTERANCES = {
    "train": ["man-ae-o", "man-ae-1a", "woman-bf-z", "man-cd-7", "man-ae-35a", "woman-bf-912z"],
    "test": ["woman-ck-4", "man-dx-o", "man-dx-28"],
}


def write_ntidigits18(root: Path) -> Path:
    """``n-tidigits.hdf5``: <split>_labels (utterance ids), <split>_addresses/<id>, <split>_timestamps/<id>.

    Single digits and digit sequences (left out by the single-digit convention); one id ends in
    'a' so its last field has two characters."""
    import h5py

    rng = _rng(12)
    path = root / "n-tidigits.hdf5"
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        for split, ids in NTIDIGITS_UTTERANCES.items():
            h5.create_dataset(f"{split}_labels", data=np.array([name.encode() for name in ids]))
            for name in ids:
                n = int(rng.integers(20, 200))
                h5.create_dataset(f"{split}_timestamps/{name}", data=np.sort(rng.uniform(0.0, 2.5, n)))
                h5.create_dataset(f"{split}_addresses/{name}", data=rng.integers(0, 64, n).astype(np.uint8))
    return root


WRITERS = {
    "asldvs": write_asldvs,
    "dvslip": write_dvslip,
    "hardvs": write_hardvs,
    "bullying10k": write_bullying10k,
    "esimagenet": write_esimagenet,
    "pokerdvs": write_pokerdvs,
    "shd": write_shd,
    "ssc": write_ssc,
    "ntidigits18": write_ntidigits18,
}
