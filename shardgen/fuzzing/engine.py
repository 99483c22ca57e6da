"""A seeded mutation fuzzer, independent of what it fuzzes: a mutation engine, and a runner that
feeds mutated files to reading functions in a worker subprocess, so a crash (a signal such as
SIGSEGV) or a hang (no answer within a timeout) is seen as such instead of killing the fuzzer.

A *target* (:class:`Target`) is a name, seed files and ``read(path)``, a function that reads one
file the way the project does. The runner classifies what ``read`` does with each mutated input:

* ``ok``: it returned;
* ``project``: it raised one of the project's error classes (``expected`` of the target table);
  ``converted`` counts those of them that wrap another error (``__cause__`` set by a guard that
  turns native decoders' errors into the project's), to show where the guard does the work;
* ``foreign``: it raised anything else (``BaseException`` included: a Rust panic is one);
* ``unnamed``: a project error whose message does not name the file;
* ``crash``: the worker died (the signal is recorded); ``hang``: no answer within the timeout.

Targets live in a module that defines ``TARGETS`` (a list of Target) and ``EXPECTED`` (a tuple of
the project's error classes); the worker imports that module by name, so the lead can add shard
and index targets in another module and run them with the same runner.

Inputs are reproducible: input ``i`` of target ``name`` under ``seed`` is always the same bytes
(:func:`mutated_input`); crashing and hanging inputs are also saved to ``save_dir``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

#: Values written over a length, count or offset field: zero, one, sign and width boundaries.
EXTREMES = (
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    1 << 31 | 1,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    0xFFFF_FFFF_FFFF_FFFF,
    65537,
)
#: Numbers written over a number in text (headers, CSV lines).
TEXT_EXTREMES = (
    b"0",
    b"-1",
    b"65536",
    b"65537",
    b"2147483648",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"18446744073709551616",
    b"1e308",
    b"nan",
    b"-9223372036854775809",
    b"",
)


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    #: Seed files: () -> [(seed name, bytes)]; called once in the parent.
    seeds: Callable[[], list[tuple[str, bytes]]]
    #: Reads one file as the project does; raises for bad input.
    read: Callable[[str], object]
    #: File name ending of the inputs (readers may pick a format by it).
    suffix: str = ".bin"
    #: Why the target has no seeds here (e.g. an optional package or the samples folder is absent).
    skip_reason: str | None = None


# Mutations -------------------------------------------------------------------------------------


def _flip_bits(data: bytearray, rng: np.random.Generator) -> str:
    for _ in range(int(rng.integers(1, 9))):
        at = int(rng.integers(len(data)))
        data[at] ^= 1 << int(rng.integers(8))
    return "bit flips"


def _random_bytes(data: bytearray, rng: np.random.Generator) -> str:
    at = int(rng.integers(len(data)))
    n = min(len(data) - at, int(rng.integers(1, 17)))
    data[at : at + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return f"{n} random bytes at {at}"


def _extreme_field(data: bytearray, rng: np.random.Generator) -> str:
    width = int(rng.choice([2, 4, 8]))
    if len(data) < width:
        return _flip_bits(data, rng)
    # Fields sit at aligned offsets in the binary formats; sometimes take any offset.
    at = int(rng.integers(len(data) - width + 1))
    if rng.random() < 0.7:
        at -= at % width
    value = int(rng.choice(EXTREMES)) & ((1 << (8 * width)) - 1)
    order = "little" if rng.random() < 0.7 else "big"
    data[at : at + width] = value.to_bytes(width, order)
    return f"{width}-byte {order}-endian {value:#x} at {at}"


def _truncate(data: bytearray, rng: np.random.Generator) -> str:
    keep = int(rng.integers(len(data)))
    del data[keep:]
    return f"truncated to {keep}"


def _extend(data: bytearray, rng: np.random.Generator) -> str:
    n = int(rng.integers(1, 64))
    data += rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return f"{n} random bytes appended"


def _splice(data: bytearray, rng: np.random.Generator) -> str:
    """A block copied over another place (repeated packets, shifted records)."""
    n = int(rng.integers(1, max(2, min(len(data), 256))))
    src, dst = int(rng.integers(len(data))), int(rng.integers(len(data)))
    data[dst : dst + n] = data[src : src + n]
    return f"{n} bytes from {src} copied to {dst}"


def _random_header(data: bytearray, rng: np.random.Generator) -> str:
    """The first bytes (where headers live) overwritten: random bytes, or a number in header text
    set to an extreme."""
    head = min(len(data), 512)
    digits = [i for i in range(head) if 48 <= data[i] <= 57]
    if digits and rng.random() < 0.6:
        start = int(rng.choice(digits))
        end = start
        while end < len(data) and 48 <= data[end] <= 57:
            end += 1
        while start > 0 and 48 <= data[start - 1] <= 57:
            start -= 1
        value = TEXT_EXTREMES[int(rng.integers(len(TEXT_EXTREMES)))]
        data[start:end] = value
        return f"header number at {start} set to {value.decode()!r}"
    at = int(rng.integers(head))
    n = min(head - at, int(rng.integers(1, 33)))
    data[at : at + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return f"{n} random header bytes at {at}"


def _text_number(data: bytearray, rng: np.random.Generator) -> str:
    """A number anywhere in the file set to an extreme (text formats: timestamps, coordinates)."""
    at = int(rng.integers(len(data)))
    while at < len(data) and not 48 <= data[at] <= 57:
        at += 1
    if at == len(data):
        return _flip_bits(data, rng)
    end = at
    while end < len(data) and 48 <= data[end] <= 57:
        end += 1
    value = TEXT_EXTREMES[int(rng.integers(len(TEXT_EXTREMES)))]
    data[at:end] = value
    return f"number at {at} set to {value.decode()!r}"


MUTATIONS = (_flip_bits, _random_bytes, _extreme_field, _extreme_field, _truncate, _extend, _splice, _random_header, _text_number)


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """One to three mutations of ``data``; returns the bytes and what was done."""
    buffer = bytearray(data or b"\0")
    done = []
    for _ in range(int(rng.integers(1, 4))):
        if not buffer:
            buffer += b"\0"
        done.append(MUTATIONS[int(rng.integers(len(MUTATIONS)))](buffer, rng))
    return bytes(buffer), "; ".join(done)


def mutated_input(seeds: list[tuple[str, bytes]], target: str, seed: int, index: int) -> tuple[bytes, str]:
    """Input ``index`` of ``target``: the same bytes for the same (seeds, target, seed, index)."""
    rng = np.random.default_rng([seed, zlib.crc32(target.encode()), index])
    name, data = seeds[int(rng.integers(len(seeds)))]
    mutated, how = mutate(data, rng)
    return mutated, f"{name}: {how}"


# The worker: reads files named on stdin, answers one JSON line each -----------------------------


def _worker(module_name: str) -> None:
    module = importlib.import_module(module_name)
    targets = {target.name: target for target in module.TARGETS}
    expected = tuple(module.EXPECTED)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing the readers print can corrupt the answers
    for line in sys.stdin:
        request = json.loads(line)
        path = request["path"]
        try:
            targets[request["target"]].read(path)
            answer = {"status": "ok"}
        except expected as error:
            named = Path(path).name in str(error)
            answer = {
                "status": "project" if named else "unnamed",
                "error": f"{type(error).__name__}: {error}"[:500],
                "converted": error.__cause__ is not None and not isinstance(error.__cause__, expected),
            }
        except BaseException as error:  # noqa: BLE001 - a Rust panic is a BaseException
            if isinstance(error, KeyboardInterrupt):
                raise
            answer = {"status": "foreign", "error": f"{type(error).__module__}.{type(error).__name__}: {error}"[:500]}
        out.write(json.dumps(answer) + "\n")
        out.flush()


class _Worker:
    """A worker subprocess; restarted after a crash or a hang."""

    def __init__(self, module_name: str, env: dict[str, str]):
        self.module_name, self.env = module_name, env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path[:0] = {sys.path!r}; from shardgen.fuzzing import engine; engine._worker({self.module_name!r})",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
            text=True,
            bufsize=1,
            start_new_session=True,
        )

    def ask(self, request: dict, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process is not None and self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else None
        if line:
            return json.loads(line)
        if line is None:  # no answer in time
            self.stop()
            return {"status": "hang", "error": f"no answer within {timeout} s"}
        code = self.process.wait()
        self.process = None
        name = signal.Signals(-code).name if code < 0 and -code in signal.Signals._value2member_map_ else str(code)
        return {"status": "crash", "error": f"worker died ({name})"}

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None


@dataclasses.dataclass
class TargetReport:
    target: str
    inputs: int = 0
    ok: int = 0
    project: int = 0
    foreign: int = 0
    unnamed: int = 0
    converted: int = 0
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    skipped: str | None = None
    #: (input index, what was mutated, status, error) of every failure (foreign, unnamed, crash, hang).
    failures: list[tuple[int, str, str, str]] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.foreign + self.unnamed + self.crashes + self.hangs


def run_campaign(
    module_name: str,
    targets: Iterable[Target],
    *,
    inputs: int,
    seed: int = 0,
    timeout: float = 20.0,
    save_dir: Path | None = None,
    progress: Callable[[TargetReport], None] | None = None,
) -> list[TargetReport]:
    """Feed ``inputs`` mutated files to each target (one worker subprocess, reused until it dies)."""
    env = dict(os.environ)
    reports = []
    worker = _Worker(module_name, env)
    with tempfile.TemporaryDirectory(prefix="neuroshards-fuzz-") as scratch:
        try:
            for target in targets:
                report = TargetReport(target.name)
                reports.append(report)
                seeds = [] if target.skip_reason else target.seeds()
                if not seeds:
                    report.skipped = target.skip_reason or "no seeds"
                    continue
                started = time.perf_counter()
                path = os.path.join(scratch, f"input{target.suffix}")
                for index in range(inputs):
                    data, how = mutated_input(seeds, target.name, seed, index)
                    with open(path, "wb") as handle:
                        handle.write(data)
                    answer = worker.ask({"target": target.name, "path": path}, timeout)
                    status = answer["status"]
                    report.inputs += 1
                    field = {"crash": "crashes", "hang": "hangs"}.get(status, status)
                    setattr(report, field, getattr(report, field) + 1)
                    report.converted += bool(answer.get("converted"))
                    if status in ("foreign", "unnamed", "crash", "hang"):
                        report.failures.append((index, how, status, answer.get("error", "")))
                        if save_dir is not None and status in ("crash", "hang"):
                            save_dir.mkdir(parents=True, exist_ok=True)
                            (save_dir / f"{target.name}-seed{seed}-{index}{target.suffix}").write_bytes(data)
                report.seconds = time.perf_counter() - started
                if progress is not None:
                    progress(report)
        finally:
            worker.stop()
    return reports


def table(reports: list[TargetReport]) -> str:
    """A Markdown table: format, inputs, crashes, hangs, foreign errors, unnamed errors, ..."""
    lines = [
        "| format | inputs | crashes | hangs | errors outside the project's classes | errors not naming the file "
        "| read fine | project errors | of which converted native errors | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        if r.skipped:
            lines.append(f"| {r.target} | skipped: {r.skipped} | | | | | | | | |")
            continue
        lines.append(
            f"| {r.target} | {r.inputs} | {r.crashes} | {r.hangs} | {r.foreign} | {r.unnamed} | {r.ok} "
            f"| {r.project} | {r.converted} | {r.seconds:.0f} |"
        )
    total = [r for r in reports if not r.skipped]
    lines.append(
        f"| all | {sum(r.inputs for r in total)} | {sum(r.crashes for r in total)} | {sum(r.hangs for r in total)} "
        f"| {sum(r.foreign for r in total)} | {sum(r.unnamed for r in total)} | {sum(r.ok for r in total)} "
        f"| {sum(r.project for r in total)} | {sum(r.converted for r in total)} | {sum(r.seconds for r in total):.0f} |"
    )
    return "\n".join(lines)
