"""``import streams`` loads no part of the converter, no raw format reader and no compiled kernel:
every rank and DataLoader worker imports it before reading anything."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())


def test_import_streams_loads_no_converter_and_no_numba():
    loaded = _modules_after("import streams")
    assert not {name for name in loaded if name.split(".")[0] in ("shardgen", "numba", "llvmlite")}
    with_datasets = _modules_after("import streams.datasets")  # SpikingJelly's classes integrate frames at once
    assert not {name for name in with_datasets if name.split(".")[0] == "shardgen"}


def test_the_kernels_load_when_first_used():
    loaded = _modules_after("import streams; streams.functional.integrate_events_by_fixed_frames_number")
    assert "numba" in loaded and "streams.functional.integrate" in loaded
