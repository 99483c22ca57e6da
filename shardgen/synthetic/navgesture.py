"""NAV Gesture recordings in the dataset's layout (ATIS ``td.dat`` per user and gesture), with the
cases its readers must get right: late events, a file without header, equal timestamps, events on
the sensor's edges. Deterministic: ``navgesture_files()`` gives the same bytes on every run, the bytes SpikingJelly
read for the test reference (``scripts/references/navgesture_references.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import event_files as writers

SEED = 20240601


def recording(rng: np.random.Generator, n: int, *, t0: int, max_gap: int = 200) -> dict[str, np.ndarray]:
    return {
        "t": (t0 + np.cumsum(rng.integers(0, max_gap, n))).astype(np.int64),
        "x": rng.integers(0, 304, n).astype(np.uint16),
        "y": rng.integers(0, 240, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def navgesture_files(rng: np.random.Generator | None = None) -> dict[str, bytes]:
    """``{relative path: bytes}`` of the recordings (the default generator gives the fixtures)."""
    rng = np.random.default_rng(SEED) if rng is None else rng
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


def write_navgesture_tree(folder: Path) -> Path:
    """The recordings under ``folder`` (``user01/user01_le_1_td.dat``, ...); returns ``folder``."""
    for relpath, data in navgesture_files().items():
        (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
        (folder / relpath).write_bytes(data)
    return folder
