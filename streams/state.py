"""Epochs and progress: the one place that decides which epoch a pass reads, from where, and what a
checkpoint holds.

The main process decides each pass (``begin_pass``): the epoch given by ``set_epoch``, or the one
loaded by ``load_state_dict`` with what was left of it, or else the epoch after the previous pass.
It writes that decision into a small shared-memory tensor that every DataLoader worker reads when
it starts the pass, persistent or not. It then counts the batches delivered on this rank.

A checkpoint (``state_dict``) holds the epoch and the positions of the epoch's sequence not yet
delivered on any rank, as ``[start, end)`` intervals. It does not hold the world size, the
number of workers or the batch size: a run may resume with other values of each (elastic resume)
and still reads the rest of the epoch exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuroshards.errors import PlanError

from .plan import Layout, from_intervals, remaining_after, to_intervals

STATE_VERSION = 2


@dataclass(frozen=True)
class Pass:
    """What one pass reads: the epoch, the positions of its sequence left to read, the layout."""

    epoch: int
    remaining: np.ndarray
    layout: Layout


class EpochState:
    """The next pass's epoch and resume point, shared with workers; the progress of the current pass."""

    CAPACITY = 4096  # resume intervals a checkpoint may hold (one or two per rank of the saving run)
    _GENERATION, _EPOCH, _BATCH, _DROP_LAST, _INTERVALS = range(5)
    _HEADER = 5

    def __init__(self, n_samples: int):
        self.n_samples = int(n_samples)  # length of one epoch's sequence
        self._shared = torch.zeros(self._HEADER + 2 * self.CAPACITY, dtype=torch.int64).share_memory_()
        self._next: tuple[int, list[list[int]] | None] | None = None  # set_epoch / load_state_dict
        self._last_epoch = -1
        self._current: Pass | None = None
        self._delivered = 0

    # Main process --------------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        self._next = (int(epoch), None)

    def begin_pass(self, layout: Layout) -> Pass:
        epoch, intervals = self._next if self._next is not None else (self._last_epoch + 1, None)
        self._next = None
        self._last_epoch = epoch
        remaining = np.arange(self.n_samples, dtype=np.int64) if intervals is None else from_intervals(intervals)
        self._write(epoch, intervals, layout)
        self._current, self._delivered = Pass(epoch, remaining, layout), 0
        return self._current

    def delivered(self) -> None:
        """One more batch (or sample, without batching) was delivered on this rank."""
        self._delivered += 1

    def state_dict(self) -> dict[str, Any]:
        if self._next is not None:  # loaded or set, not started: the checkpoint is what was given
            epoch, intervals = self._next
        elif self._current is None:
            epoch, intervals = 0, None
        else:
            current = self._current
            rest = remaining_after(current.remaining, current.layout, self._delivered)
            epoch, intervals = (current.epoch + 1, None) if not len(rest) else (current.epoch, to_intervals(rest))
        return {"version": STATE_VERSION, "epoch": epoch, "remaining": intervals, "n_samples": self.n_samples}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise PlanError(f"resume state version {state.get('version')} is not supported (this reader: {STATE_VERSION})")
        if state.get("n_samples") != self.n_samples:
            raise PlanError(
                f"the resume state belongs to an epoch of {state.get('n_samples')} samples, this stream's has "
                f"{self.n_samples}: another split, subset or dataset"
            )
        intervals = state.get("remaining")
        if intervals is not None:
            if len(intervals) > self.CAPACITY:
                raise PlanError(f"the resume state has {len(intervals)} intervals, more than {self.CAPACITY}")
            for start, end in intervals:
                if not 0 <= start < end <= self.n_samples:
                    raise PlanError(f"resume interval [{start}, {end}) lies outside the epoch's {self.n_samples} samples")
        self._next = (int(state["epoch"]), None if intervals is None else [list(map(int, pair)) for pair in intervals])

    def _write(self, epoch: int, intervals: list[list[int]] | None, layout: Layout) -> None:
        flat = [value for pair in intervals for value in pair] if intervals is not None else []
        header = [
            int(self._shared[self._GENERATION]) + 1,
            epoch,
            layout.batch_size,
            int(layout.drop_last),
            -1 if intervals is None else len(intervals),
        ]
        self._shared[: self._HEADER + len(flat)] = torch.tensor(header + flat, dtype=torch.int64)

    # DataLoader workers (and the main process when it reads itself) ---------------------------

    def shared_pass(self, world_size: int, num_workers: int, remainder: str) -> Pass:
        """The pass the main process decided, as a worker reads it."""
        values = self._shared[: self._HEADER].tolist()
        if values[self._GENERATION] == 0:
            raise PlanError("a stream's samples are read through stream.loader() or by iterating the stream itself")
        count = values[self._INTERVALS]
        if count < 0:
            remaining = np.arange(self.n_samples, dtype=np.int64)
        else:
            flat = self._shared[self._HEADER : self._HEADER + 2 * count].numpy().reshape(-1, 2)
            remaining = from_intervals(flat.tolist())
        layout = Layout(world_size, num_workers, values[self._BATCH], bool(values[self._DROP_LAST]), remainder)
        return Pass(values[self._EPOCH], remaining, layout)
