"""A short mutation-fuzzing run over what training reads (scripts/fuzz_formats.py runs the long
one): damaged shards, index files and event records end in the project's errors naming the file,
never in a crash, a hang or a foreign error."""

from __future__ import annotations

import pytest

from shardgen.fuzzing import engine as fuzz_engine
from shardgen.fuzzing import shards as fuzz_shard_targets

INPUTS_PER_TARGET = 60


@pytest.mark.parametrize("target", fuzz_shard_targets.TARGETS, ids=lambda t: t.name)
def test_no_damaged_shard_or_index_crashes_hangs_or_escapes_the_project_errors(target):
    [report] = fuzz_engine.run_campaign("shardgen.fuzzing.shards", [target], inputs=INPUTS_PER_TARGET, seed=20261204, timeout=60)
    assert report.inputs == INPUTS_PER_TARGET
    assert not report.failures, "\n".join(
        f"input {i} ({how}): {status}: {error}" for i, how, status, error in report.failures[:5]
    )
    assert report.project > 0  # the damage is seen, not read as data
