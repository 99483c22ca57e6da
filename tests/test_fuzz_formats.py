"""A short mutation-fuzzing run over every raw format reader (scripts/fuzz_formats.py runs the
long one): no crash, no hang, no error outside FormatError, and every error names the file.

The inputs are read in a worker subprocess (shardgen.fuzzing.engine), so a crash fails this test
instead of killing pytest. Seeds: the tests' synthetic writers and, where the shared samples
folder exists, the real recordings in it.
"""

from __future__ import annotations

import numpy as np
import pytest

from shardgen.fuzzing import engine as fuzz_engine
from shardgen.fuzzing import formats as fuzz_targets

INPUTS_PER_TARGET = 120  # about 20 s for every target on a 2-core machine


def test_mutations_are_reproducible_and_change_the_bytes():
    seeds = [("a", bytes(range(256)) * 4)]
    first = [fuzz_engine.mutated_input(seeds, "t", 5, index) for index in range(50)]
    assert first == [fuzz_engine.mutated_input(seeds, "t", 5, index) for index in range(50)]
    assert sum(data != seeds[0][1] for data, _how in first) >= 45  # a splice may copy bytes onto equal ones


def test_the_runner_sees_crashes_hangs_and_foreign_errors(tmp_path, monkeypatch):
    """The runner itself, on a target module whose readers crash, hang or raise a foreign error."""
    module = tmp_path / "bad_targets.py"
    module.write_text(
        "import os, signal, time\n"
        "from shardgen.fuzzing.engine import Target\n"
        "class Mine(ValueError):\n    pass\n"
        "def read(path):\n"
        "    first = open(path, 'rb').read(1)\n"
        "    if first == b'c': os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    if first == b'h': time.sleep(60)\n"
        "    if first == b'f': raise KeyError('foreign')\n"
        "    raise Mine('no file named here')\n"
        "EXPECTED = (Mine,)\n"
        "TARGETS = [Target(name, (lambda name=name: [(name, name.encode() * 8)]), read) for name in 'chfu']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import bad_targets

    # One mutation in three leaves the first byte alone; enough inputs reach each outcome.
    reports = fuzz_engine.run_campaign("bad_targets", bad_targets.TARGETS, inputs=4, timeout=3, save_dir=tmp_path / "saved")
    by_name = {report.target: report for report in reports}
    assert by_name["c"].crashes >= 1 and any("SIGSEGV" in failure[3] for failure in by_name["c"].failures)
    assert by_name["h"].hangs >= 1
    assert by_name["f"].foreign >= 1
    assert by_name["u"].unnamed >= 1
    assert list((tmp_path / "saved").iterdir())


@pytest.mark.parametrize("target", [t for t in fuzz_targets.TARGETS], ids=lambda t: t.name)
def test_no_input_crashes_hangs_or_escapes_formaterror(target):
    if target.skip_reason:
        pytest.skip(target.skip_reason)
    [report] = fuzz_engine.run_campaign("shardgen.fuzzing.formats", [target], inputs=INPUTS_PER_TARGET, seed=20261204, timeout=60)
    assert report.inputs == INPUTS_PER_TARGET
    assert not report.failures, "\n".join(
        f"input {i} ({how}): {status}: {error}" for i, how, status, error in report.failures[:5]
    )
    # The mutations reach the decoders, not only the header checks: some inputs still read.
    assert report.ok + report.project == INPUTS_PER_TARGET and report.project > 0


def test_real_samples_are_among_the_seeds():
    if fuzz_targets.samples_dir() is None:
        pytest.skip("the shared samples folder is absent (set NEUROSHARDS_SAMPLES); synthetic seeds only")
    names = {name for name, _data in fuzz_targets._aedat4_seeds() + fuzz_targets._evt3_seeds()}
    assert any(name.endswith(".aedat4") for name in names) and any(name.endswith(".raw") for name in names)
    assert np.all([len(data) > 0 for _name, data in fuzz_targets._atis_seeds()])
