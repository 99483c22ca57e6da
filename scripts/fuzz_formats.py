"""Mutation fuzzing of every reader of outside bytes: crashes, hangs and errors outside the project's.

Each target (shardgen/fuzzing/formats.py: every raw format, the DVS128 Gesture window route and the
dataset adapters' own parsing; shardgen/fuzzing/shards.py: shards, index files and event records
as training reads them) gets ``--inputs`` mutated files in total, split evenly (byte flips,
truncations, length fields set to extremes, random headers) of its seeds: the real recordings in
the samples folder and the tests' synthetic writers. Files are read in a worker subprocess, so a
crash (signal) or a hang (``--timeout`` s) counts instead of stopping the run. Prints a Markdown
table; exits 1 when any target has a crash, a hang, an error outside the project's classes or an
error that does not name the file. Crashing and hanging inputs are saved to ``--save``.

    NEUROSHARDS_SAMPLES=../shared/samples .venv/bin/python scripts/fuzz_formats.py --inputs 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from shardgen.fuzzing import engine as fuzz_engine
from shardgen.fuzzing import formats as fuzz_targets
from shardgen.fuzzing import shards as fuzz_shard_targets

MODULES = {"shardgen.fuzzing.formats": fuzz_targets, "shardgen.fuzzing.shards": fuzz_shard_targets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=20000, help="mutated inputs in all, split over the targets (default 20000)")
    parser.add_argument("--seed", type=int, default=1, help="mutation seed (default 1)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before an input counts as a hang (default 30)")
    parser.add_argument("--only", nargs="*", default=None, help="target names to run (default: all)")
    parser.add_argument(
        "--save",
        type=Path,
        default=Path(tempfile.gettempdir()) / "neuroshards-fuzz-failures",
        help="folder for crashing and hanging inputs (default: neuroshards-fuzz-failures in the temp folder)",
    )
    parser.add_argument("--show", type=int, default=3, help="failures to print per target (default 3)")
    args = parser.parse_args()

    chosen = {name: [t for t in module.TARGETS if args.only is None or t.name in args.only] for name, module in MODULES.items()}
    targets = [target for group in chosen.values() for target in group]
    runnable = [t for t in targets if not t.skip_reason] or targets
    per_target = -(-args.inputs // len(runnable))
    if fuzz_targets.samples_dir() is None:
        print("note: no samples folder (set NEUROSHARDS_SAMPLES); seeds are the synthetic writers' files only", file=sys.stderr)
    started = time.perf_counter()

    def progress(report: fuzz_engine.TargetReport) -> None:
        print(
            f"{report.target}: {report.inputs} inputs, {report.failed} failures, {report.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    reports = [
        report
        for name, group in chosen.items()
        if group
        for report in fuzz_engine.run_campaign(
            name,
            group,
            inputs=per_target,
            seed=args.seed,
            timeout=args.timeout,
            save_dir=args.save,
            progress=progress,
        )
    ]
    print(fuzz_engine.table(reports))
    print(f"\n{sum(r.inputs for r in reports)} inputs in {time.perf_counter() - started:.0f} s (seed {args.seed})")
    for report in reports:
        for index, how, status, error in report.failures[: args.show]:
            print(f"{report.target} input {index} ({how}): {status}: {error}")
    return 1 if any(report.failed for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
