"""SpikingJelly 2.0's dataset classes on the fixture raw trees -> tests/references/spikingjelly_datasets/.

Run where SpikingJelly 2.0.0 and torchvision are installed, with this checkout first on the path:

    .venv-oracle/bin/python scripts/references/make_spikingjelly_dataset_references.py [CASE ...]

(neuroshards' own dependencies must import there too: where the oracle environment lacks one, such
as xxhash, ``pip install --target DIR xxhash`` and add DIR to PYTHONPATH). The case ``nmnist-real``
reads the real recordings of ../shared/samples (or NEUROSHARDS_SAMPLES) and stores digests only.

For every case of ``shardgen.synthetic.spikingjelly_cases`` it writes the raw tree, lets SpikingJelly
prepare it in a temporary root exactly as it would the download (``extract_downloaded_files`` and
``create_raw_from_extracted``; its download step is skipped because it would MD5-check, delete and
re-download the fixture archives), then builds SpikingJelly's own class for each split and each
configuration (events; ``frames_number`` split by number and by time; ``duration``; a custom
integration) and records what ``ds[i]`` returns for every sample: its file (SpikingJelly's order),
the label (type and value) and a digest of the events or frames (dtype, shape and bytes) and a
looser one (``loose_digest``: events whatever their dtype and order; frames' events per frame and per
pixel), plus the arrays of a few samples. ``<dataset>.npz`` holds ``manifest`` (JSON) and those arrays.

Where SpikingJelly raises while integrating a sample (an empty recording, an empty time window:
``IndexError``), its class cannot be built at all. The script then saves, for that sample only,
the frames of neuroshards' documented rule (``streams.functional``) under the name SpikingJelly
would have given it, records the sample under ``raised``, and lets SpikingJelly build the rest.
The fixtures hold few classes of some datasets; torchvision's ``allow_empty`` keeps the labels
each folder's index among all of them, as with the full dataset.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # make_container_references, beside this script

import make_container_references as containers  # noqa: E402  (SpikingJelly's preparation helpers)

from shardgen.synthetic import spikingjelly_cases as cases  # noqa: E402

OUT = ROOT / "tests" / "references" / "spikingjelly_datasets"
STORED_SAMPLES = 2  # full arrays kept per configuration and split (every sample has a digest)

# How SpikingJelly's root is prepared from the case's raw tree.
ARCHIVE_WRITERS = {
    "asldvs": "write_asldvs_archive",
    "dvslip": "write_dvslip",
    "hardvs": "write_hardvs_archive",
    "bullying10k": "write_bullying10k",
}


def prepare(case: cases.Case, root: Path) -> None:
    import spikingjelly.datasets as sj

    from shardgen.synthetic import containers as container_writers

    cls = getattr(sj, case.spikingjelly_class)
    root.mkdir(parents=True)
    if case.dataset in ("shd", "ssc"):
        case.write_raw(root / "events_h5")
    elif case.dataset in ARCHIVE_WRITERS:
        getattr(container_writers, ARCHIVE_WRITERS[case.dataset])(root / "download")
        with containers.sorted_listings() if case.dataset == "bullying10k" else contextlib.nullcontext():
            containers.prepare_spikingjelly(cls, root)
    else:  # the extracted tree
        extract = root / "extract"
        extract.mkdir()
        written = case.write_raw(extract)
        source = written if case.dataset == "navgesture-walk" else extract  # NAV Gesture: the committed fixtures
        (root / "events_np").mkdir()
        cls.create_raw_from_extracted(source, root / "events_np")
        if case.dataset == "nmnist":  # a few real recordings: the digit folders they miss, as the full dataset has
            for split in ("train", "test"):
                for digit in range(10):
                    (root / "events_np" / split / str(digit)).mkdir(exist_ok=True)


@contextlib.contextmanager
def fallback_for_crashes(raised: list[str]):
    """Wrap SpikingJelly's per-file integration: where it raises, save neuroshards' frames instead
    (same file name rule) and note the file."""
    from spikingjelly.datasets import shd as sj_shd
    from spikingjelly.datasets import utils as sj_utils

    from neuroshards.events import seconds_to_microseconds
    from streams import functional
    from streams.functional import one_dimensional as our_shd

    originals = {
        (sj_utils, "integrate_events_file_to_frames_file_by_fixed_frames_number"): None,
        (sj_utils, "integrate_events_file_to_frames_file_by_fixed_duration"): None,
        (sj_shd, "_integrate_events_file_to_frames_file_by_fixed_frames_number"): None,
        (sj_shd, "_integrate_events_file_to_frames_file_by_fixed_duration"): None,
    }
    for module, name in originals:
        originals[module, name] = getattr(module, name)

    def events_of(loader, path):  # 1-D arrays: SpikingJelly's ASL-DVS squeezes a one-event file to 0-D
        events = loader(path)
        return {name: np.atleast_1d(events[name]) for name in ("t", "x", "y", "p")}

    def by_number(loader, events_np_file, output_dir, split_by, frames_num, H, W, print_save=False):
        try:
            return originals[sj_utils, "integrate_events_file_to_frames_file_by_fixed_frames_number"](
                loader, events_np_file, output_dir, split_by, frames_num, H, W, print_save
            )
        except (IndexError, ValueError):
            raised.append(str(events_np_file))
            frames = functional.integrate_events_by_fixed_frames_number(
                events_of(loader, events_np_file), split_by, frames_num, H, W
            )
            sj_utils.np_savez(os.path.join(output_dir, os.path.basename(events_np_file)), frames=frames)

    def by_duration(loader, events_np_file, output_dir, duration, H, W, print_save=False):
        try:
            return originals[sj_utils, "integrate_events_file_to_frames_file_by_fixed_duration"](
                loader, events_np_file, output_dir, duration, H, W, print_save
            )
        except (IndexError, ValueError):
            raised.append(str(events_np_file))
            frames = functional.integrate_events_by_fixed_duration(events_of(loader, events_np_file), duration, H, W)
            stem = os.path.splitext(os.path.basename(events_np_file))[0]
            sj_utils.np_savez(os.path.join(output_dir, f"{stem}_{frames.shape[0]}.npz"), frames=frames)
            return frames.shape[0]

    def h5_events(h5_file, i):
        t = h5_file["spikes"]["times"][i]
        return {"t": seconds_to_microseconds(t), "x": h5_file["spikes"]["units"][i]}

    def shd_by_number(h5_file, i, output_dir, split_by, frames_num, W):
        try:
            return originals[sj_shd, "_integrate_events_file_to_frames_file_by_fixed_frames_number"](
                h5_file, i, output_dir, split_by, frames_num, W
            )
        except (IndexError, ValueError):
            raised.append(f"{h5_file.filename}:{i}")
            frames = our_shd.integrate_events_by_fixed_frames_number(h5_events(h5_file, i), split_by, frames_num, W)
            sj_utils.np_savez(os.path.join(output_dir, str(h5_file["labels"][i]), str(i)), frames=frames)

    def shd_by_duration(h5_file, i, output_dir, duration, W):
        try:
            return originals[sj_shd, "_integrate_events_file_to_frames_file_by_fixed_duration"](
                h5_file, i, output_dir, duration, W
            )
        except (IndexError, ValueError):
            raised.append(f"{h5_file.filename}:{i}")
            frames = our_shd.integrate_events_by_fixed_duration(h5_events(h5_file, i), duration * 1000, W)
            sj_utils.np_savez(os.path.join(output_dir, str(h5_file["labels"][i]), str(i)), frames=frames)

    replacements = {
        (sj_utils, "integrate_events_file_to_frames_file_by_fixed_frames_number"): by_number,
        (sj_utils, "integrate_events_file_to_frames_file_by_fixed_duration"): by_duration,
        (sj_shd, "_integrate_events_file_to_frames_file_by_fixed_frames_number"): shd_by_number,
        (sj_shd, "_integrate_events_file_to_frames_file_by_fixed_duration"): shd_by_duration,
    }
    for (module, name), function in replacements.items():
        setattr(module, name, function)
    try:
        yield
    finally:
        for (module, name), function in originals.items():
            setattr(module, name, function)


def compact(array: np.ndarray) -> np.ndarray:
    """Frames of whole counts as the smallest unsigned type that holds them (the test compares digests)."""
    if (
        array.dtype.kind == "f"
        and array.size
        and np.array_equal(array, np.round(array))
        and array.min() >= 0
        and array.max() < 65536
    ):
        return array.astype(np.uint8 if array.max() < 256 else np.uint16)
    return array


def sample_name(dataset, index: int, processed_root: Path) -> str:
    """The sample's file under SpikingJelly's processed root (SHD/SSC events: its index in the file)."""
    if dataset.cfg.data_type == "event" and hasattr(dataset, "h5_file_path"):
        return f"h5:{index}"
    return Path(dataset.samples[index][0]).relative_to(processed_root).as_posix()


def record(case: cases.Case, root: Path) -> tuple[dict, dict]:
    import spikingjelly.datasets as sj

    cls = getattr(sj, case.spikingjelly_class)
    manifest: dict = {"configurations": {}}
    arrays: dict[str, np.ndarray] = {}
    for config, kwargs in case.configurations().items():
        if config == "custom" and case.dataset in ("shd", "ssc"):
            continue  # SpikingJelly's SHD custom function writes files itself (h5_file, i, dir, W): not comparable
        raised: list[str] = []
        entry = manifest["configurations"][config] = {
            "arguments": {k: getattr(v, "__name__", v) for k, v in kwargs.items()},
            "splits": {},
        }
        with containers.allow_empty_classes(), fallback_for_crashes(raised):
            for split, split_arguments in case.splits.items():
                dataset = cls(str(root), **split_arguments, **kwargs)
                processed = Path(getattr(dataset, "processed_root", root))
                samples = []
                # No arrays of the real recordings: their licence is not the project's (digests only).
                keep = len(dataset) and not case.needs_samples
                stored = np.unique(np.linspace(0, len(dataset) - 1, STORED_SAMPLES).astype(int)) if keep else []
                for index in range(len(dataset)):
                    data, label = dataset[index]
                    samples.append(
                        [
                            sample_name(dataset, index, processed),
                            cases.label_signature(label),
                            cases.digest(data),
                            cases.loose_digest(data),
                        ]
                    )
                    if index in stored:
                        prefix = f"{config}/{split}/{index}"
                        if isinstance(data, dict):
                            for name, values in data.items():
                                arrays[f"{prefix}/{name}"] = values
                        else:
                            arrays[f"{prefix}/data"] = compact(np.asarray(data))
                entry["splits"][split] = {"samples": samples, "stored": [int(i) for i in stored]}
        entry["raised"] = sorted(
            {Path(item).relative_to(root).as_posix() if ":" not in item else item.rsplit("/", 1)[-1] for item in raised}
        )
        counts = ", ".join(f"{split} {len(value['samples'])}" for split, value in entry["splits"].items())
        print(f"  {config}: {counts}" + (f"; SpikingJelly raised on {len(entry['raised'])} file(s)" if raised else ""))
    return manifest, arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", default=sorted(cases.CASES), help="cases to (re)make (default: all)")
    args = parser.parse_args()
    from importlib.metadata import version

    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        case = cases.CASES[name]
        print(f"{name} ({case.spikingjelly_class})")
        if case.needs_samples and not (cases.SAMPLES / "REFERENCE.json").is_file():
            raise SystemExit(f"{name} needs the real recordings: {cases.SAMPLES} is absent (set NEUROSHARDS_SAMPLES)")
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "root"
            prepare(case, root)
            manifest, arrays = record(case, root)
        manifest.update(
            dataset=case.dataset,
            spikingjelly_class=case.spikingjelly_class,
            spikingjelly=version("spikingjelly"),
            numpy=np.__version__,
        )
        path = OUT / f"{name}.npz"
        np.savez_compressed(path, manifest=np.array(json.dumps(manifest)), **arrays)
        print(f"  wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
