"""Write the NAV Gesture test fixtures (ATIS td.dat in the dataset's layout) and SpikingJelly's
reading of them, the reference that tests/test_navgesture.py compares our conversion with.

Run in an environment with spikingjelly 2.0.0 (and torchvision), from the repository root:

    .venv-oracle/bin/python scripts/references/navgesture_references.py

Outputs: tests/fixtures/navgesture/<user>/*.dat and tests/references/navgesture_spikingjelly.npz
(per sample in SpikingJelly's dataset order: key, label, event counts, concatenated t/x/y/p, and
the number of events SpikingJelly's reader reports as removed).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
from shardgen.synthetic import event_files as writers  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "navgesture"
REFERENCE = ROOT / "tests" / "references" / "navgesture_spikingjelly.npz"


def recording(rng, n, *, t0, max_gap=200):
    return {
        "t": (t0 + np.cumsum(rng.integers(0, max_gap, n))).astype(np.int64),
        "x": rng.integers(0, 304, n).astype(np.uint16),
        "y": rng.integers(0, 240, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def fixtures(rng) -> dict[str, bytes]:
    files = {}
    clean = recording(rng, 300, t0=17)
    files["user01/user01_le_1_td.dat"] = writers.write_dat(clean, layout="atis")

    backwards = recording(rng, 400, t0=5_000)
    backwards["t"][[50, 120, 121, 300]] -= 900  # isolated and consecutive late events
    backwards["t"][200] += 3_000  # a spike: the events after it are below it until time catches up
    files["user01/user01_ri_1_td.dat"] = writers.write_dat(backwards, layout="atis")

    headerless = recording(rng, 250, t0=3)
    files["user01/user01_up_1_td.dat"] = writers.write_dat(headerless, layout="atis")[
        len(writers.write_dat({k: v[:0] for k, v in headerless.items()}, layout="atis")) :
    ]

    edges = recording(rng, 200, t0=1, max_gap=2)  # many equal timestamps
    edges["y"][:3] = [0, 239, 0]
    edges["x"][:3] = [303, 0, 302]
    files["user02/user02_do_1_td.dat"] = writers.write_dat(edges, layout="atis")

    late_end = recording(rng, 150, t0=1_000_000_000)
    late_end["t"][-1] = late_end["t"][-2] - 1  # the last event is late
    files["user02/user02_ho_1_td.dat"] = writers.write_dat(late_end, layout="atis")

    late_start = recording(rng, 180, t0=400)
    late_start["t"][1] = late_start["t"][0] - 1  # the second event is late
    files["user02/user02_se_1_td.dat"] = writers.write_dat(late_start, layout="atis")

    files["user02/user02_le_2_td.dat"] = writers.write_dat(recording(rng, 120, t0=9), layout="atis")
    return files


def main() -> None:
    from spikingjelly.datasets.nav_gesture import NAVGestureWalk, _readATIS_tddat
    from torchvision.datasets import DatasetFolder

    shutil.rmtree(FIXTURES, ignore_errors=True)
    for relpath, data in fixtures(np.random.default_rng(20240601)).items():
        (FIXTURES / relpath).parent.mkdir(parents=True, exist_ok=True)
        (FIXTURES / relpath).write_bytes(data)

    with tempfile.TemporaryDirectory() as temporary:
        raw_root = Path(temporary) / "events_np"
        raw_root.mkdir()
        NAVGestureWalk.create_raw_from_extracted(FIXTURES, raw_root)
        folder = DatasetFolder(str(raw_root), loader=lambda path: dict(np.load(path)), extensions=(".npz",))
        keys, labels, counts, removed, columns = [], [], [], [], {k: [] for k in "txyp"}
        for path, label in folder.samples:
            events = folder.loader(path)
            stem = Path(path).stem
            source = next(FIXTURES.rglob(stem + ".dat"))
            keys.append(stem)
            labels.append(label)
            counts.append(len(events["t"]))
            removed.append(_readATIS_tddat(str(source))[3])
            for k in "txyp":
                columns[k].append(np.asarray(events[k], dtype=np.int64))
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            REFERENCE,
            keys=np.array(keys),
            classes=np.array(folder.classes),
            labels=np.array(labels),
            counts=np.array(counts),
            removed=np.array(removed),
            **{k: np.concatenate(v) for k, v in columns.items()},
        )
    print(f"wrote {len(keys)} fixtures under {FIXTURES} and {REFERENCE}")


if __name__ == "__main__":
    main()
