"""Reference outputs of SpikingJelly 2.0 / Tonic 1.7 on the container-format test fixtures.

Writes the fixtures of ``shardgen.synthetic.containers`` into a temporary folder, runs SpikingJelly's
own dataset classes on them (Tonic's for POKER-DVS and N-TIDIGITS18, and Tonic's SHD/SSC as a
second opinion), and saves what they return under ``tests/references/containers/<dataset>.npz``:
per sample its identity (path or index as the oracle knows it), split, label and events in the
oracle's own dtypes. ``shd_frames.npz`` holds SpikingJelly's SHD frame integration of the SHD
fixtures and of a few edge cases. Run it where spikingjelly and tonic are installed:

    .venv-oracle/bin/python scripts/references/make_container_references.py
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from shardgen.synthetic import containers as writers  # noqa: E402

OUT = ROOT / "tests" / "references" / "containers"
FIELDS = ("t", "x", "y", "p")


def save(name: str, samples: list[tuple[str, str, int, dict]], **extra) -> None:
    """samples: (identity, split, label, events) in the oracle's order."""
    present = [field for field in FIELDS if field in samples[0][3]]
    arrays = {
        "identity": np.array([s[0] for s in samples]),
        "split": np.array([s[1] for s in samples]),
        "label": np.array([s[2] for s in samples], np.int64),
        "n_events": np.array([np.atleast_1d(s[3][present[0]]).size for s in samples], np.int64),
    }
    for field in present:
        arrays[field] = np.concatenate([np.atleast_1d(np.asarray(s[3][field])) for s in samples])
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / f"{name}.npz", **arrays, **extra)
    print(f"{name}: {len(samples)} samples, {int(arrays['n_events'].sum())} events, fields {present}")


def relative(path: str | Path, root: Path) -> str:
    return Path(path).relative_to(root).with_suffix("").as_posix()


def prepare_spikingjelly(cls, root: Path) -> None:
    """SpikingJelly's own extract and raw-tree steps, without its MD5 check (fixtures differ)."""
    download, extract, raw = root / "download", root / "extract", root / "events_np"
    extract.mkdir(exist_ok=True)
    cls.extract_downloaded_files(download, extract)
    raw.mkdir()
    cls.create_raw_from_extracted(extract, raw)


def folder_samples(dataset, events_root: Path, split: str) -> list:
    samples = []
    for index, (path, _label) in enumerate(dataset.samples):
        events, target = dataset[index]
        if isinstance(events, np.ndarray):  # a structured .npy (DVS-Lip): fields by name
            events = {field: events[field] for field in events.dtype.names}
        samples.append((relative(path, events_root), split, int(target), events))
    return samples


@contextlib.contextmanager
def sorted_listings():
    """Directory listings in name order, as SpikingJelly would see them on such a file system."""
    listdir, walk = os.listdir, os.walk

    def sorted_walk(top, *args, **kwargs):
        for path, dirs, files in walk(top, *args, **kwargs):
            dirs.sort()
            yield path, dirs, sorted(files)

    os.listdir = lambda path=".": sorted(listdir(path))
    os.walk = sorted_walk
    try:
        yield
    finally:
        os.listdir, os.walk = listdir, walk


@contextlib.contextmanager
def allow_empty_classes():
    """The fixtures fill a few of a dataset's class folders; torchvision refuses empty ones unless
    allowed. Labels stay each folder's index among all of them, as with the full dataset."""
    from torchvision.datasets import DatasetFolder

    original = DatasetFolder.__dict__["make_dataset"]
    DatasetFolder.make_dataset = staticmethod(lambda *args, **kwargs: original.__func__(*args, **{**kwargs, "allow_empty": True}))
    try:
        yield
    finally:
        DatasetFolder.make_dataset = original


def asldvs(work: Path) -> None:
    from spikingjelly.datasets.asl_dvs import ASLDVS

    root = work / "asldvs"
    writers.write_asldvs_archive(root / "download")
    prepare_spikingjelly(ASLDVS, root)
    dataset = ASLDVS(str(root), data_type="event")
    save("asldvs", folder_samples(dataset, root / "events_np", "all"), classes=np.array(dataset.classes))


def dvslip(work: Path) -> None:
    from spikingjelly.datasets.dvs_lip import DVSLip

    root = work / "dvslip"
    writers.write_dvslip(root / "download")
    prepare_spikingjelly(DVSLip, root)
    samples = []
    for split in ("train", "test"):
        dataset = DVSLip(str(root), train=split == "train", data_type="event")
        samples += folder_samples(dataset, root / "events_np", split)
    save("dvslip", samples, classes=np.array(dataset.classes))


def hardvs(work: Path) -> None:
    from spikingjelly.datasets.hardvs import HARDVS

    root = work / "hardvs"
    writers.write_hardvs_archive(root / "download")
    prepare_spikingjelly(HARDVS, root)
    samples = []
    with allow_empty_classes():
        for split in ("train", "val", "test"):
            dataset = HARDVS(str(root), train_test_val=split, data_type="event")
            samples += folder_samples(dataset, root / "events_np", split)
    save("hardvs", samples, classes=np.array(dataset.classes))


def bullying10k(work: Path) -> None:
    """The split under sorted listings (what neuroshards reproduces) and, for the README, under this
    machine's own listing order."""
    from spikingjelly.datasets.bullying10k import Bullying10kClassification

    outputs = {}
    for mode in ("sorted", "filesystem"):
        root = work / f"bullying10k_{mode}"
        writers.write_bullying10k(root / "download")
        with sorted_listings() if mode == "sorted" else contextlib.nullcontext():
            prepare_spikingjelly(Bullying10kClassification, root)
        samples = []
        with allow_empty_classes():
            for split in ("train", "test"):
                dataset = Bullying10kClassification(str(root), train=split == "train", data_type="event")
                samples += folder_samples(dataset, root / "events_np", split)
        outputs[mode] = samples
    filesystem_test = sorted(identity.rsplit("/", 1)[-1] for identity, split, _, _ in outputs["filesystem"] if split == "test")
    save("bullying10k", outputs["sorted"], filesystem_order_test=np.array(filesystem_test))


def esimagenet(work: Path) -> None:
    from spikingjelly.datasets.es_imagenet import ESImageNet

    root = work / "esimagenet"
    writers.write_esimagenet(root / "extract")
    (root / "events_np").mkdir()
    ESImageNet.create_raw_from_extracted(root / "extract", root / "events_np")
    samples = []
    with allow_empty_classes():
        for split in ("train", "test"):
            dataset = ESImageNet(str(root), train=split == "train", data_type="event")
            samples += folder_samples(dataset, root / "events_np", split)
    save("esimagenet", samples, classes=np.array(dataset.classes))


def heidelberg(work: Path, name: str) -> None:
    import tonic.datasets
    from spikingjelly.datasets.shd import SpikingHeidelbergDigits, SpikingSpeechCommands

    root = work / name
    getattr(writers, f"write_{name}")(root / "events_h5")
    splits = ("train", "test") if name == "shd" else ("train", "valid", "test")
    samples, tonic_t = [], []
    for split in splits:
        if name == "shd":
            dataset = SpikingHeidelbergDigits(str(root), train=split == "train", data_type="event")
            tonic_class, tonic_args = tonic.datasets.SHD, {"train": split == "train"}
        else:
            dataset = SpikingSpeechCommands(str(root), split=split, data_type="event")
            tonic_class, tonic_args = tonic.datasets.SSC, {"split": split}
        tonic_class._check_exists = lambda self: True
        location = work / f"tonic_{name}"
        (location / tonic_class.__name__).mkdir(parents=True, exist_ok=True)
        target = location / tonic_class.__name__ / f"{name}_{split}.h5"
        if not target.exists():
            target.symlink_to(root / "events_h5" / f"{name}_{split}.h5")
        reference = tonic_class(str(location), **tonic_args)
        for index in range(len(dataset)):
            events, label = dataset[index]
            tonic_events, tonic_label = reference[index]
            assert int(tonic_label) == int(label)
            samples.append((f"{split}/{index}", split, int(label), {"t": events["t"], "x": events["x"]}))
            tonic_t.append(tonic_events["t"].astype(np.int64))
    save(name, samples, tonic_t=np.concatenate(tonic_t))


def pokerdvs(work: Path) -> None:
    import tarfile

    import tonic.datasets

    location = work / "pokerdvs"
    writers.write_pokerdvs(location / "raw")
    tonic.datasets.POKERDVS._check_exists = lambda self: True
    samples = []
    for split in ("train", "test"):
        folder = location / "POKERDVS"
        with tarfile.open(location / "raw" / f"pips_{split}.tar.gz") as tar:
            tar.extractall(folder, filter="data")
        dataset = tonic.datasets.POKERDVS(str(location), train=split == "train")
        paths = []
        for path, _dirs, files in os.walk(folder / f"pips_{split}"):  # Tonic's own walk, same order
            files.sort()
            paths += [relative(Path(path) / file, folder) for file in files if file.endswith("npy")]
        for index in range(len(dataset)):
            events, target = dataset[index]
            samples.append((paths[index], split, int(target), {field: events[field] for field in FIELDS}))
    save("pokerdvs", samples)


def ntidigits18(work: Path) -> None:
    import tonic.datasets

    location = work / "ntidigits"
    writers.write_ntidigits18(location / "NTIDIGITS18")
    samples = []
    for split in ("train", "test"):
        dataset = tonic.datasets.NTIDIGITS18(str(location), train=split == "train", single_digits=True)
        for index in range(len(dataset)):
            events, target = dataset[index]
            samples.append((f"{split}/{dataset._samples[index]}", split, int(target), {"t": events["t"], "x": events["x"]}))
    save("ntidigits18", samples)


def shd_frames(work: Path) -> None:
    """SpikingJelly's SHD integration of each SHD fixture recording and a few edge cases, in every
    mode it has; a case where SpikingJelly raises is stored with ``raised`` set."""
    from spikingjelly.datasets import shd

    recordings = [
        (f"shd_{split}_{i}", t, x)
        for split, seed, count in (("train", 7, 6), ("test", 8, 3))
        for i, (t, x, _) in enumerate(writers.heidelberg_recordings(seed, count, 20))
    ]
    rng = np.random.default_rng(13)
    recordings += [
        ("one_time", np.full(5, 0.5, np.float16), rng.integers(0, 700, 5).astype(np.uint16)),
        ("sparse", np.array([0.01, 0.011, 0.9, 1.3], np.float16), np.array([0, 5, 5, 699], np.uint16)),
        ("dense", np.sort(rng.uniform(0.2, 0.21, 300)).astype(np.float16), rng.integers(0, 700, 300).astype(np.uint16)),
    ]
    arrays: dict[str, np.ndarray] = {}
    for name, t, x in recordings:
        events = {"t": t, "x": x}
        arrays[f"{name}/t"], arrays[f"{name}/x"] = t, x
        modes = [("number", frames_num) for frames_num in (1, 4, 16)] + [("time", frames_num) for frames_num in (1, 4, 16)]
        for split_by, frames_num in modes:
            case = f"{name}/{split_by}_{frames_num}"
            try:
                frames = shd._integrate_events_by_fixed_frames_number(events, split_by, frames_num, 700)
                arrays[case] = frames.astype(np.uint16)
            except (IndexError, ValueError):
                arrays[case] = np.zeros(0, np.uint16)
                arrays[f"{case}/raised"] = np.ones(1, bool)
        for duration in (7, 60, 400):
            case = f"{name}/duration_{duration}"
            try:
                arrays[case] = shd._integrate_events_by_fixed_duration(events, duration, 700).astype(np.uint16)
            except (IndexError, ValueError):
                arrays[case] = np.zeros(0, np.uint16)
                arrays[f"{case}/raised"] = np.ones(1, bool)
    np.savez_compressed(OUT / "shd_frames.npz", **arrays)
    print(
        f"shd_frames: {len(recordings)} recordings, {sum(1 for k in arrays if k.endswith('/raised'))} cases where SpikingJelly raises"
    )


def main() -> None:
    import spikingjelly
    import tonic

    print(
        f"spikingjelly {spikingjelly.__version__ if hasattr(spikingjelly, '__version__') else '?'}, tonic {tonic.__version__}, numpy {np.__version__}"
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        asldvs(work)
        dvslip(work)
        hardvs(work)
        bullying10k(work)
        esimagenet(work)
        heidelberg(work, "shd")
        heidelberg(work, "ssc")
        pokerdvs(work)
        ntidigits18(work)
        shd_frames(work)


if __name__ == "__main__":
    main()
