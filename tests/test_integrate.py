"""Frame integration and padding against SpikingJelly 2.0's recorded outputs, plus properties.

``tests/references/spikingjelly_integrate.npz`` holds SpikingJelly's outputs (or the exception it
raised) on random and edge-case inputs (``scripts/references/make_references.py``). Where SpikingJelly
returned, ours must give the same values. Where it raised, ours must follow the documented rules
(module docstring of ``streams.functional.integrate``, README "Frames"), which ``documented_*``
below spell out in plain numpy; those rules are themselves checked against SpikingJelly on every
input where it returned, so they extend SpikingJelly rather than replace it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import streams.functional as F
from shardgen.formats import decode_atis_bin

REFERENCES = Path(__file__).parent / "references" / "spikingjelly_integrate.npz"


@cache
def references() -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(REFERENCES) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return json.loads(str(arrays.pop("manifest"))), arrays


MANIFEST, ARRAYS = references()
CALLS = [call for call in MANIFEST["calls"] if call["function"] not in ("pad_sequence_collate", "padded_sequence_mask")]
PAD_CALLS = [call for call in MANIFEST["calls"] if call not in CALLS]


def call_id(call: dict) -> str:
    args = ",".join(f"{k}={v}" for k, v in call["args"].items() if k not in ("H", "W", "batch", "kinds"))
    return f"{call['case']}-{call['function']}-{args}"


def output(call: dict) -> dict[str, np.ndarray]:
    prefix = call["output"] + "/"
    return {name[len(prefix) :]: value for name, value in ARRAYS.items() if name.startswith(prefix)}


@pytest.fixture(scope="module")
def real_events(request) -> dict[str, np.ndarray]:
    case = MANIFEST["cases"]["nmnist_1_bs2"]
    samples_dir = request.getfixturevalue("samples_dir")
    path = samples_dir / case["source"].split("/", 1)[1]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == case["sha256"], f"{path} is not the recording the references used"
    return decode_atis_bin(data, source=str(path))


def case_events(call: dict, request) -> tuple[dict[str, np.ndarray], int, int]:
    case = MANIFEST["cases"][call["case"]]
    if case["source"] != "generated":
        events = request.getfixturevalue("real_events")
    else:
        events = {field: ARRAYS[f"case/{call['case']}/{field}"] for field in "txyp"}
    return events, case["H"], case["W"]


# The documented behaviour, written plainly: per-event masks and bincount, no shared code with ours.


def documented_frame(events: dict, H: int, W: int, lo: int, hi: int) -> np.ndarray:
    """Counts of events [lo, hi) at p*H*W + y*W + x (p != 0 -> channel 1); positions beyond the frame dropped."""
    x = np.asarray(events["x"][lo:hi]).astype(np.int64)
    y = np.asarray(events["y"][lo:hi]).astype(np.int64)
    p = np.asarray(events["p"][lo:hi]) != 0
    position = p * H * W + y * W + x
    position = position[(position >= 0) & (position < 2 * H * W)]
    return np.bincount(position, minlength=2 * H * W).reshape(2, H, W)


def documented_segments(t: np.ndarray, split_by: str, frames_num: int) -> tuple[list[int], list[int]]:
    t = np.asarray(t).astype(np.int64)
    n = len(t)
    if split_by == "number":
        size = n // frames_num
        j_l = [i * size for i in range(frames_num)]
        return j_l, [*(i + size for i in j_l[:-1]), n]
    if n == 0:
        return [0] * frames_num, [0] * frames_num
    dt = (t[-1] - t[0]) // frames_num
    j_l, j_r = [], []
    for i in range(frames_num):
        inside = np.flatnonzero((t >= t[0] + i * dt) & (t < t[0] + (i + 1) * dt))
        j_l.append(int(inside[0]) if len(inside) else 0)
        j_r.append(int(inside[-1]) + 1 if len(inside) else 0)
    if j_r[-1] == 0:  # empty last window: from the first event at or after its start
        later = np.flatnonzero(t >= t[0] + max(dt, 0) * (frames_num - 1))
        j_l[-1] = int(later[0])
    j_r[-1] = n
    return j_l, j_r


def documented_duration_segments(t: np.ndarray, duration: int) -> tuple[list[int], list[int]]:
    t = np.asarray(t).astype(np.int64)
    if len(t) == 0:
        return [], []
    index = list((t - t.min()) // duration)
    frames_num = max(1, math.ceil((t[-1] - t.min()) / duration))
    # SpikingJelly searches each frame edge separately (bisect), sorted input or not.
    edges = [bisect.bisect_left(index, i) for i in range(1, frames_num)]
    return [0, *edges], [*edges, len(t)]


def documented_frames(events: dict, H: int, W: int, j_l, j_r) -> np.ndarray:
    frames = [documented_frame(events, H, W, lo, hi) for lo, hi in zip(j_l, j_r)]
    return np.stack(frames) if frames else np.zeros((0, 2, H, W), np.int64)


def documented(call: dict, events: dict, H: int, W: int):
    args = call["args"]
    function = call["function"]
    if function == "integrate_events_segment_to_frame":
        lo, hi, _ = slice(args["j_l"], args["j_r"]).indices(len(events["x"]))
        return documented_frame(events, H, W, lo, max(lo, hi))
    if function == "cal_fixed_frames_number_segment_index":
        j_l, j_r = documented_segments(events["t"], args["split_by"], args["frames_num"])
        return {"j_l": np.array(j_l), "j_r": np.array(j_r)}
    if function == "integrate_events_by_fixed_frames_number":
        return documented_frames(events, H, W, *documented_segments(events["t"], args["split_by"], args["frames_num"]))
    assert function == "integrate_events_by_fixed_duration"
    return documented_frames(events, H, W, *documented_duration_segments(events["t"], args["duration"]))


def ours(call: dict, events: dict, H: int, W: int):
    args = call["args"]
    function = call["function"]
    if function == "integrate_events_segment_to_frame":
        return F.integrate_events_segment_to_frame(events["x"], events["y"], events["p"], H, W, args["j_l"], args["j_r"])
    if function == "cal_fixed_frames_number_segment_index":
        j_l, j_r = F.cal_fixed_frames_number_segment_index(events["t"], args["split_by"], args["frames_num"])
        return {"j_l": j_l, "j_r": j_r}
    if function == "integrate_events_by_fixed_frames_number":
        return F.integrate_events_by_fixed_frames_number(events, args["split_by"], args["frames_num"], H, W)
    return F.integrate_events_by_fixed_duration(events, args["duration"], H, W)


def assert_same(actual, expected, what: str) -> None:
    if isinstance(expected, dict):
        for name, value in expected.items():
            assert_same(actual[name], value, f"{what} {name}")
        return
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    assert np.array_equal(actual, expected), f"{what}: {np.count_nonzero(actual != expected)} values differ"


@pytest.mark.parametrize("call", CALLS, ids=call_id)
def test_integration_against_spikingjelly(call: dict, request) -> None:
    events, H, W = case_events(call, request)
    result = ours(call, events, H, W)
    expected = documented(call, events, H, W)
    if call["raises"] is None:
        reference = output(call)
        reference = reference if set(reference) != {"value"} else reference["value"]
        # Our plain statement of the rules agrees with SpikingJelly wherever SpikingJelly returns...
        assert_same(expected, reference, "documented rule vs SpikingJelly")
        if not isinstance(result, dict):
            assert result.dtype == np.float32
    # ...and ours follows it everywhere, SpikingJelly's exceptions included.
    assert_same(result, expected, "ours vs documented rule")


def test_references_cover_the_documented_exceptions() -> None:
    raised = {(call["case"], call["raises"]) for call in CALLS if call["raises"]}
    for case, exception in [
        ("empty", "IndexError"),
        ("empty", "ValueError"),
        ("sparse_bursts", "IndexError"),
        ("span_shorter_than_T", "IndexError"),
        ("one_timestamp", "IndexError"),
        ("beyond_frame", "ValueError"),
        ("negative_position", "ValueError"),
    ]:
        assert (case, exception) in raised, f"references lack SpikingJelly's {exception} on {case}"


@pytest.mark.parametrize("call", PAD_CALLS, ids=call_id)
def test_padding_against_spikingjelly(call: dict) -> None:
    args = call["args"]
    if call["function"] == "padded_sequence_mask":
        result = {"value": F.padded_sequence_mask(torch.tensor(args["sequence_len"]), args["T"])}
    else:
        labels = ARRAYS[f"{args['batch']}/labels"]
        batch = []
        for i, kind in enumerate(args["kinds"]):
            frames = ARRAYS[f"{args['batch']}/{i}"]
            batch.append((torch.from_numpy(frames) if kind == "torch" else frames, int(labels[i])))
        if call["raises"] is not None:
            with pytest.raises(ValueError, match="pad|batch|shape"):
                F.pad_sequence_collate(batch)
            return
        result = dict(zip(("frames", "labels", "lengths"), F.pad_sequence_collate(batch)))
    reference = output(call)
    for name, value in result.items():
        assert str(value.dtype).removeprefix("torch.") == call["dtypes"][name], name
        assert_same(value.numpy(), reference[name], name)


# Properties of the kernels on random events ------------------------------------------------------

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def event_sets(draw, sort: bool = True, max_n: int = 300):
    H = draw(st.integers(1, 9))
    W = draw(st.integers(1, 9))
    n = draw(st.integers(0, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    span = draw(st.sampled_from([0, 5, 100, 10_000, 2**31]))
    t = rng.integers(0, span + 1, n) + draw(st.sampled_from([0, 1_000_000]))
    if sort:
        t = np.sort(t)
    events = {
        "t": t.astype(draw(st.sampled_from([np.int64, np.uint32]))),
        "x": rng.integers(0, W + draw(st.sampled_from([0, 0, 3])), n).astype(np.uint16),
        "y": rng.integers(0, H, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }
    return events, H, W


def in_frame(events: dict, H: int, W: int) -> int:
    position = (events["p"] != 0) * H * W + events["y"].astype(np.int64) * W + events["x"]
    return int(np.count_nonzero(position < 2 * H * W))


@SETTINGS
@given(event_sets(sort=False), st.integers(1, 20), st.sampled_from(["number", "time"]))
def test_fixed_number_equals_documented_rule_and_conserves_events(case, frames_num, split_by) -> None:
    events, H, W = case
    frames = F.integrate_events_by_fixed_frames_number(events, split_by, frames_num, H, W)
    j_l, j_r = documented_segments(events["t"], split_by, frames_num)
    assert_same(frames, documented_frames(events, H, W, j_l, j_r).astype(np.float32), "frames")
    if split_by == "number" or np.all(np.diff(events["t"].astype(np.int64)) >= 0):
        # Segments tile [0, N): every in-frame event is counted exactly once.
        assert frames.sum() == in_frame(events, H, W)


@SETTINGS
@given(event_sets(), st.integers(1, 20))
def test_number_mode_frame_sizes(case, frames_num) -> None:
    events, H, W = case
    n = len(events["t"])
    j_l, j_r = F.cal_fixed_frames_number_segment_index(events["t"], "number", frames_num)
    sizes = j_r - j_l
    assert np.all(sizes[:-1] == n // frames_num)
    assert sizes[-1] == n - (frames_num - 1) * (n // frames_num)
    assert j_l[0] == 0 and j_r[-1] == n and np.array_equal(j_l[1:], j_r[:-1])


@SETTINGS
@given(event_sets(), st.integers(1, 20))
def test_time_mode_assigns_sorted_events_monotonically(case, frames_num) -> None:
    events, H, W = case
    n = len(events["t"])
    j_l, j_r = F.cal_fixed_frames_number_segment_index(events["t"], "time", frames_num)
    assert j_r[-1] == n
    frame_of = np.full(n, -1)
    for i, (lo, hi) in enumerate(zip(j_l, j_r)):
        assert np.all(frame_of[lo:hi] == -1), "an event falls in two frames"
        frame_of[lo:hi] = i
    assert np.all(frame_of >= 0), "an event falls in no frame"
    assert np.all(np.diff(frame_of) >= 0), "frames do not follow time"
    t = events["t"].astype(np.int64)
    if n and t[-1] - t[0] >= frames_num:  # every window is non-empty or skipped: events stay in their window
        dt = (t[-1] - t[0]) // frames_num
        assert np.array_equal(frame_of, np.minimum((t - t[0]) // dt, frames_num - 1))


@SETTINGS
@given(event_sets(), st.integers(1, 5_000_000))
def test_duration_mode_frame_count_and_conservation(case, duration) -> None:
    events, H, W = case
    t = events["t"].astype(np.int64)
    assume(len(t) == 0 or (t[-1] - t[0]) // duration < 500)  # keep the frames small
    frames = F.integrate_events_by_fixed_duration(events, duration, H, W)
    expected = 0 if len(t) == 0 else max(1, math.ceil((t[-1] - t[0]) / duration))
    assert frames.shape == (expected, 2, H, W)
    assert frames.sum() == in_frame(events, H, W)
    if len(t):  # frame i holds exactly the events of [t0 + i*duration, t0 + (i+1)*duration), the last one the rest
        window = np.minimum((t - t[0]) // duration, expected - 1)
        for i in range(expected):
            assert frames[i].sum() == in_frame({k: v[window == i] for k, v in events.items()}, H, W)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
@SETTINGS
@given(repeats=st.integers(1, 70_000), frames_num=st.integers(1, 3))
def test_integer_dtypes_saturate(dtype, repeats, frames_num) -> None:
    events = {
        "t": np.arange(repeats + 1, dtype=np.int64),
        "x": np.r_[np.zeros(repeats, np.uint16), 1],
        "y": np.zeros(repeats + 1, np.uint16),
        "p": np.r_[np.ones(repeats, np.uint8), 0],
    }
    frames = F.integrate_events_by_fixed_frames_number(events, "number", frames_num, 2, 2, dtype=dtype)
    exact = F.integrate_events_by_fixed_frames_number(events, "number", frames_num, 2, 2, dtype=np.int64)
    assert frames.dtype == dtype
    assert np.array_equal(frames, np.minimum(exact, np.iinfo(dtype).max))


@SETTINGS
@given(event_sets(sort=False))
def test_segment_to_frame_counts_every_in_frame_event(case) -> None:
    events, H, W = case
    frame = F.integrate_events_segment_to_frame(events["x"], events["y"], events["p"], H, W)
    assert frame.shape == (2, H, W) and frame.dtype == np.float32
    assert_same(frame, documented_frame(events, H, W, 0, len(events["x"])).astype(np.float32), "frame")


@SETTINGS
@given(event_sets(sort=False), st.integers(1, 5_000_000), st.integers(1, 20))
def test_unsorted_events_follow_spikingjelly_segments(case, duration, frames_num) -> None:
    events, H, W = case
    t = events["t"].astype(np.int64)
    assume(len(t) == 0 or (t[-1] - t.min()) // duration < 500)
    j_l, j_r = documented_duration_segments(events["t"], duration)
    frames = F.integrate_events_by_fixed_duration(events, duration, H, W)
    assert_same(frames, documented_frames(events, H, W, j_l, j_r).astype(np.float32), "duration frames")
    j_l, j_r = F.cal_fixed_frames_number_segment_index(events["t"], "time", frames_num)
    assert_same(
        F.integrate_segments(events, j_l, j_r, H, W), documented_frames(events, H, W, j_l, j_r).astype(np.float32), "segments"
    )


@SETTINGS
@given(event_sets(max_n=40), st.lists(st.tuples(st.integers(-90, 90), st.integers(-90, 90)), max_size=6))
def test_segments_beyond_the_events_select_what_python_slices_select(case, segments) -> None:
    """The kernels read events unchecked: a negative or too large index must neither read outside
    the arrays nor be dropped, but mean what ``events[j_l:j_r]`` means (SpikingJelly slices)."""
    events, H, W = case
    j_l = np.array([lo for lo, _ in segments], np.int64)
    j_r = np.array([hi for _, hi in segments], np.int64)
    expected = documented_frames(events, H, W, j_l, j_r).astype(np.float32)
    assert_same(F.integrate_segments(events, j_l, j_r, H, W), expected, "segments")


def test_segments_of_two_lengths_raise() -> None:
    events = {"t": np.arange(3), "x": np.zeros(3, int), "y": np.zeros(3, int), "p": np.ones(3, int)}
    with pytest.raises(ValueError, match="one length"):
        F.integrate_segments(events, [0, 1], [2], 1, 1)
