"""SpikingJelly's reading of the NAV Gesture recordings of ``shardgen.synthetic.navgesture`` (ATIS
td.dat in the dataset's layout), the reference that tests/test_navgesture.py compares our
conversion with.

Run in an environment with spikingjelly 2.0.0 (and torchvision), from the repository root:

    .venv-oracle/bin/python scripts/references/navgesture_references.py

Output: tests/references/navgesture_spikingjelly.npz
(per sample in SpikingJelly's dataset order: key, label, event counts, concatenated t/x/y/p, and
the number of events SpikingJelly's reader reports as removed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
from shardgen.synthetic.navgesture import write_navgesture_tree  # noqa: E402

REFERENCE = ROOT / "tests" / "references" / "navgesture_spikingjelly.npz"


def main() -> None:
    from spikingjelly.datasets.nav_gesture import NAVGestureWalk, _readATIS_tddat
    from torchvision.datasets import DatasetFolder

    with tempfile.TemporaryDirectory() as temporary:
        fixtures = write_navgesture_tree(Path(temporary) / "raw")
        raw_root = Path(temporary) / "events_np"
        raw_root.mkdir()
        NAVGestureWalk.create_raw_from_extracted(fixtures, raw_root)
        folder = DatasetFolder(str(raw_root), loader=lambda path: dict(np.load(path)), extensions=(".npz",))
        keys, labels, counts, removed, columns = [], [], [], [], {k: [] for k in "txyp"}
        for path, label in folder.samples:
            events = folder.loader(path)
            stem = Path(path).stem
            source = next(fixtures.rglob(stem + ".dat"))
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
    print(f"wrote {REFERENCE} ({len(keys)} samples)")


if __name__ == "__main__":
    main()
