"""Record SpikingJelly 2.0's frame integration and padding outputs as test references.

Runs in the oracle environment (``bash scripts/setup.sh --oracle``)::

    .venv-oracle/bin/python scripts/references/make_references.py

and writes ``tests/references/spikingjelly_integrate.npz``: deterministic inputs (random events and
edge cases) with what SpikingJelly returned for each call, or the name of the exception it raised.
``tests/test_integrate.py`` compares ``streams.functional`` against it without SpikingJelly.

Layout of the archive: ``manifest`` is a JSON string
``{"spikingjelly": version, "cases": {name: {"H", "W", "source"}}, "calls": [call, ...]}`` where a
call is ``{"case", "function", "args", "output" (array key prefix) | null, "raises": name | null}``;
a case's events are ``case/<name>/{t,x,y,p}`` (absent for the real recording, which tests read
from ../shared/samples), outputs ``out/<index>/<name>``. Frames are stored as the smallest integer
dtype that holds them exactly (SpikingJelly returns float64 counts; ``float_exact`` says the
conversion was checked).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from spikingjelly.datasets import utils as sj

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "references" / "spikingjelly_integrate.npz"
# As tests/conftest.py finds them: beside the checkout, or where NEUROSHARDS_SAMPLES points.
SAMPLES = Path(os.environ.get("NEUROSHARDS_SAMPLES") or ROOT.parent / "shared" / "samples")
REAL_SAMPLE = Path("nmnist") / "1.bs2"


def _events(t, x, y, p, t_dtype=np.int64, xy_dtype=np.uint16, p_dtype=np.uint8) -> dict[str, np.ndarray]:
    return {
        "t": np.asarray(t).astype(t_dtype),
        "x": np.asarray(x).astype(xy_dtype),
        "y": np.asarray(y).astype(xy_dtype),
        "p": np.asarray(p).astype(p_dtype),
    }


def _random(rng, n, H, W, span, t0=0, **dtypes) -> dict[str, np.ndarray]:
    t = t0 + np.sort(rng.integers(0, span + 1, n))
    return _events(t, rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), **dtypes)


def make_cases(rng: np.random.Generator) -> dict[str, tuple[dict[str, np.ndarray], int, int]]:
    """name -> (events, H, W)."""
    cases = {
        "random_34x34": (_random(rng, 3000, 34, 34, 300_000), 34, 34),
        "random_uint32": (_random(rng, 2000, 34, 34, 300_000, t_dtype=np.uint32, xy_dtype=np.uint32, p_dtype=np.uint32), 34, 34),
        "random_20x50": (_random(rng, 2500, 20, 50, 1_000_000, t0=123_456_789), 20, 50),
        "random_64x16": (_random(rng, 2500, 64, 16, 50_000), 64, 16),
        "random_dense_7x5": (_random(rng, 4000, 7, 5, 10_000), 7, 5),
        "random_int32_t": (_random(rng, 1500, 24, 30, 80_000, t_dtype=np.int32, xy_dtype=np.int64, p_dtype=np.int64), 24, 30),
        "empty": (_events([], [], [], []), 10, 12),
        "fewer_than_T": (_random(rng, 5, 10, 12, 1000), 10, 12),
        "single": (_events([42], [3], [4], [1]), 10, 12),
        "one_timestamp": (
            _events(np.full(60, 7_000), rng.integers(0, 12, 60), rng.integers(0, 10, 60), rng.integers(0, 2, 60)),
            10,
            12,
        ),
        "span_shorter_than_T": (
            _events(
                np.sort(rng.integers(100, 110, 40)), rng.integers(0, 12, 40), rng.integers(0, 10, 40), rng.integers(0, 2, 40)
            ),
            10,
            12,
        ),
    }
    # Two bursts far apart: most fixed-time windows (and fixed-duration frames) hold no event.
    burst = np.sort(np.concatenate([rng.integers(0, 1_000, 300), rng.integers(900_000, 901_000, 300)]))
    cases["sparse_bursts"] = (_events(burst, rng.integers(0, 12, 600), rng.integers(0, 10, 600), rng.integers(0, 2, 600)), 10, 12)
    # Unsorted t, with the last event later than the first, and earlier than the first.
    shuffled = _random(rng, 1500, 16, 16, 100_000)
    order = rng.permutation(1500)
    later = {k: v[order] for k, v in shuffled.items()}
    if later["t"][-1] < later["t"][0]:
        later["t"][[0, -1]] = later["t"][[-1, 0]]
    cases["unsorted_later_last"] = (later, 16, 16)
    earlier = {k: v.copy() for k, v in later.items()}
    earlier["t"][[0, -1]] = earlier["t"][[-1, 0]]
    cases["unsorted_earlier_last"] = (earlier, 16, 16)
    cases["unsorted_uint32"] = ({k: v.astype(np.uint32) for k, v in later.items()}, 16, 16)
    # uint32 t with the last event earlier than the first: SpikingJelly's t[-1] - t[0] wraps around.
    cases["unsorted_uint32_earlier_last"] = ({k: v.astype(np.uint32) for k, v in earlier.items()}, 16, 16)
    # Nearly sorted: a few local swaps, the kind of jitter some cameras produce.
    jitter = _random(rng, 2000, 16, 16, 100_000)
    swaps = rng.integers(0, 1999, 40)
    for s in swaps:
        jitter["t"][[s, s + 1]] = jitter["t"][[s + 1, s]]
    cases["nearly_sorted"] = (jitter, 16, 16)
    # x >= W with a position inside the frame: wraps to the next row (and y == H lands in channel 1).
    n = 800
    wrap = _events(np.sort(rng.integers(0, 50_000, n)), rng.integers(0, 15, n), rng.integers(0, 9, n), rng.integers(0, 2, n))
    wrap["p"][wrap["y"] >= 8] = 0
    wrap["y"][: n // 10] = 10  # y == H with p == 0
    wrap["p"][: n // 10] = 0
    cases["x_wraps_in_frame"] = (wrap, 10, 12)
    # Positions beyond the frame (p=1, last rows, x >= W): SpikingJelly raises.
    beyond = _random(rng, 700, 10, 12, 50_000)
    beyond["x"][::50] = 12 + rng.integers(0, 20, len(beyond["x"][::50]))
    beyond["y"][::50] = 9
    beyond["p"][::50] = 1
    beyond["y"][7::97] = 40
    cases["beyond_frame"] = (beyond, 10, 12)
    negative = _random(rng, 300, 10, 12, 50_000, xy_dtype=np.int16)
    negative["x"][5::60] = -1  # wraps back to the previous row: inside the frame unless y == 0, p == 0
    cases["negative_x"] = (negative, 10, 12)
    below = {k: v.copy() for k, v in negative.items()}
    below["y"][5::60], below["p"][5::60] = 0, 0  # position -1: below the frame, SpikingJelly raises
    cases["negative_position"] = (below, 10, 12)
    # Polarities other than {0, 1}: SpikingJelly puts every p != 0 in channel 1.
    multi = _random(rng, 900, 10, 12, 50_000)
    multi["p"] = rng.choice(np.array([0, 1, 2, 7, 255], dtype=np.uint8), 900)
    cases["p_values_uint8"] = (multi, 10, 12)
    signed = _random(rng, 900, 10, 12, 50_000)
    signed["p"] = rng.choice(np.array([-1, 1], dtype=np.int8), 900)
    cases["p_signed"] = (signed, 10, 12)
    boolean = _random(rng, 900, 10, 12, 50_000)
    boolean["p"] = boolean["p"].astype(bool)
    cases["p_bool"] = (boolean, 10, 12)
    # Spans that fixed durations divide exactly, last event exactly on an edge.
    exact = _random(rng, 1000, 8, 9, 100_000)
    exact["t"][0], exact["t"][-1] = 0, 100_000
    cases["span_divisible"] = (exact, 8, 9)
    return {name: (events, H, W) for name, (events, H, W) in cases.items()}


FRAME_COUNTS = (1, 3, 16)


def durations(events: dict[str, np.ndarray]) -> list[int]:
    t = events["t"].astype(np.int64)
    if len(t) == 0:
        return [1000]
    span = int(t[-1] - t.min())  # SpikingJelly's frame count comes from the last event, sorted or not
    candidates = {max(1, span // 7), max(1, span // 16), max(1, span), span + 1, 1000}
    if span and span % 10 == 0:
        candidates.add(span // 10)  # frame edges exactly on event timestamps
    return sorted(candidates)


class Recorder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.calls: list[dict] = []

    def call(self, case: str, function: str, args: dict, run) -> None:
        record = {"case": case, "function": function, "args": args, "output": None, "raises": None}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # uint32 scalar wrap-around in SJ's arithmetic
                result = run()
        except Exception as error:  # noqa: BLE001 - the exception type is the reference
            record["raises"] = type(error).__name__
        else:
            prefix = f"out/{len(self.calls)}"
            record["output"] = prefix
            for name, value in result.items() if isinstance(result, dict) else {"value": result}.items():
                self.arrays[f"{prefix}/{name}"], record.setdefault("dtypes", {})[name] = compact(value)
        self.calls.append(record)


def compact(value) -> tuple[np.ndarray, str]:
    """The smallest exact integer representation of SpikingJelly's array, and its original dtype."""
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    value = np.asarray(value)
    original = str(value.dtype)
    if value.dtype.kind == "f" and value.size and np.array_equal(value, np.round(value)) and value.min() >= 0:
        if value.max() < 256:
            return value.astype(np.uint8), original
        if value.max() < 65536:
            return value.astype(np.uint16), original
        return value.astype(np.uint32), original
    if value.dtype.kind == "f" and value.size == 0:
        return value.astype(np.uint8), original
    return value, original


def record_integration(recorder: Recorder, name: str, events: dict[str, np.ndarray], H: int, W: int) -> None:
    x, y, p, t = events["x"], events["y"], events["p"], events["t"]
    for j_l, j_r in ((0, None), (3, 17), (-40, None), (10, 3), (0, len(t) + 5)):
        recorder.call(
            name,
            "integrate_events_segment_to_frame",
            {"H": H, "W": W, "j_l": j_l, "j_r": j_r},
            lambda: sj.integrate_events_segment_to_frame(x, y, p, H, W, j_l, j_r),
        )
    for split_by in ("number", "time"):
        for frames_num in FRAME_COUNTS:
            args = {"split_by": split_by, "frames_num": frames_num}
            recorder.call(
                name,
                "cal_fixed_frames_number_segment_index",
                args,
                lambda: dict(zip(("j_l", "j_r"), sj.cal_fixed_frames_number_segment_index(t, split_by, frames_num))),
            )
            recorder.call(
                name,
                "integrate_events_by_fixed_frames_number",
                {**args, "H": H, "W": W},
                lambda: sj.integrate_events_by_fixed_frames_number(events, split_by, frames_num, H, W),
            )
    for duration in durations(events):
        recorder.call(
            name,
            "integrate_events_by_fixed_duration",
            {"duration": duration, "H": H, "W": W},
            lambda: sj.integrate_events_by_fixed_duration(events, duration, H, W),
        )


def record_padding(recorder: Recorder, rng: np.random.Generator) -> None:
    batches = {
        "varying_lengths": [
            (rng.integers(0, 5, (T, 2, 3, 4)).astype(np.float32), label) for T, label in ((3, 1), (7, 0), (1, 9), (5, 2))
        ],
        "torch_tensors": [
            (torch.from_numpy(rng.random((T, 2, 2, 3)).astype(np.float32)), label) for T, label in ((4, 3), (2, 5))
        ],
        "zero_length": [(np.zeros((0, 2, 3, 3), np.float32), 1), (np.ones((2, 2, 3, 3), np.float32), 0)],
        "single": [(rng.random((6, 2, 4, 4)), 4)],
        "float64_numpy": [(rng.random((T, 2, 3, 3)), label) for T, label in ((2, 1), (5, 0))],
        "empty_batch": [],
        "mismatched_shapes": [(np.zeros((2, 2, 3, 3), np.float32), 0), (np.zeros((2, 2, 4, 3), np.float32), 1)],
    }
    for name, batch in batches.items():
        key = f"batch/{name}"
        recorder.arrays[f"{key}/labels"] = np.array([label for _, label in batch], dtype=np.int64)
        for i, (frames, _) in enumerate(batch):
            recorder.arrays[f"{key}/{i}"] = frames.numpy() if isinstance(frames, torch.Tensor) else frames
        kinds = ["torch" if isinstance(frames, torch.Tensor) else "numpy" for frames, _ in batch]
        recorder.call(
            name,
            "pad_sequence_collate",
            {"batch": key, "size": len(batch), "kinds": kinds},
            lambda: dict(zip(("frames", "labels", "lengths"), sj.pad_sequence_collate(batch))),
        )
    for lengths, T in (([3, 1, 4], None), ([3, 1, 4], 6), ([3, 1, 4], 2), ([0, 2], None), ([5], None)):
        recorder.call(
            "mask",
            "padded_sequence_mask",
            {"sequence_len": lengths, "T": T},
            lambda: sj.padded_sequence_mask(torch.tensor(lengths), T),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="the shared real recordings (default: %(default)s)")
    args = parser.parse_args()
    rng = np.random.default_rng(20261127)
    recorder = Recorder()
    cases = {}
    for name, (events, H, W) in make_cases(rng).items():
        for field, values in events.items():
            recorder.arrays[f"case/{name}/{field}"] = values
        cases[name] = {"H": H, "W": W, "source": "generated"}
        record_integration(recorder, name, events, H, W)
    real = args.samples / REAL_SAMPLE
    if real.is_file():
        events = sj.load_ATIS_bin(real)
        digest = hashlib.sha256(real.read_bytes()).hexdigest()
        # The recording stays in ../shared/samples (its licence is not the project's); tests read it.
        cases["nmnist_1_bs2"] = {"H": 34, "W": 34, "source": f"samples/{REAL_SAMPLE.as_posix()}", "sha256": digest}
        record_integration(recorder, "nmnist_1_bs2", events, 34, 34)
    else:
        raise SystemExit(f"{real} is missing: the references need the real N-MNIST recording")
    record_padding(recorder, rng)
    manifest = {"spikingjelly": version("spikingjelly"), "numpy": np.__version__, "cases": cases, "calls": recorder.calls}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, manifest=np.array(json.dumps(manifest)), **recorder.arrays)
    raised = sum(call["raises"] is not None for call in recorder.calls)
    print(f"{args.out}: {len(recorder.calls)} calls ({raised} raised), {args.out.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
