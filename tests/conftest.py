"""Shared fixtures: the real recordings in ../shared/samples and their independent reference."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

# Beside the checkout; NEUROSHARDS_SAMPLES points elsewhere (a git worktree in another folder).
SAMPLES = Path(os.environ.get("NEUROSHARDS_SAMPLES") or Path(__file__).resolve().parents[1].parent / "shared" / "samples")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not (SAMPLES / "REFERENCE.json").is_file():
        pytest.skip(f"real recordings not available: {SAMPLES} is absent (they live beside the checkout)")
    return SAMPLES


@pytest.fixture(scope="session")
def reference(samples_dir: Path) -> dict:
    return json.loads((samples_dir / "REFERENCE.json").read_text())


def canonical_digest(events: dict) -> str:
    """REFERENCE.json's sha256: t int64, x uint16, y uint16, p uint8, little-endian, in that order."""
    digest = hashlib.sha256()
    for name, dtype in (("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "|u1")):
        digest.update(np.ascontiguousarray(events[name], dtype=dtype).tobytes())
    return digest.hexdigest()


def summarise(events: dict) -> dict:
    """The fields REFERENCE.json records for a recording."""
    t, x, y, p = (np.asarray(events[k]) for k in "txyp")
    return {
        "n_events": int(len(t)),
        "x_range": [int(x.min()), int(x.max())],
        "y_range": [int(y.min()), int(y.max())],
        "t_range_us": [int(t.min()), int(t.max())],
        "p_counts": [int(np.count_nonzero(p == 0)), int(np.count_nonzero(p == 1))],
        "t_sorted": bool(np.all(np.diff(t) >= 0)),
        "sha256_t_x_y_p": canonical_digest(events),
    }


def assert_matches_reference(events: dict, expected: dict) -> None:
    actual = summarise(events)
    for field, value in actual.items():
        assert value == expected[field], f"{field}: got {value}, reference {expected[field]}"
