"""Part of a split, chosen from the index alone, before the plan divides samples among ranks.

    from streams import EventStream, Subset
    hold_out = Subset.fraction(0.1, seed=0)
    train = EventStream(root, split="train", subset=hold_out.complement(), shuffle=True)
    val = EventStream(root, split="train", subset=hold_out)

Because the subset is taken before the epoch plan, every rank gets the same number of batches and
the union over ranks is exactly the subset (a filter after the plan, such as ``wds.select``, leaves
ranks with different counts and hangs DistributedDataParallel at the end of the epoch).
A subset is a pure function of the index and its arguments: every rank, worker and run computes
the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from neuroshards.errors import PlanError
from neuroshards.index import DatasetIndex

Mask = Callable[[DatasetIndex, np.ndarray], np.ndarray]


class Subset:
    """Rows of a split to keep. Build one with ``Subset.keys``, ``Subset.where``, ``Subset.fraction``
    or ``Subset.per_class``; ``.complement()`` is the rest of the split."""

    def __init__(self, mask: Mask, description: str, *, expected: int | None = None):
        self._mask = mask
        self.description = description
        self._expected = expected  # rows a key list must find (unknown keys are an error, not a smaller subset)

    def __repr__(self) -> str:
        return f"Subset.{self.description}"

    def select(self, index: DatasetIndex, rows: np.ndarray) -> np.ndarray:
        """The kept ``rows`` of ``index`` (a split's rows), in storage order."""
        keep = np.asarray(self._mask(index, rows), dtype=bool)
        if keep.shape != rows.shape:
            raise PlanError(f"subset {self!r} gave {keep.shape} flags for {len(rows)} samples")
        return rows[keep]

    def check_found(self, found: int) -> None:
        if self._expected is not None and found != self._expected:
            raise PlanError(f"subset {self!r}: {self._expected} keys asked for, {found} found in the split")

    def complement(self) -> Subset:
        """The split's other samples."""
        mask = self._mask
        return Subset(lambda index, rows: ~np.asarray(mask(index, rows), dtype=bool), f"{self.description}.complement()")

    @classmethod
    def keys(cls, keys: Iterable[str]) -> Subset:
        """The samples with these keys (each must be in the split)."""
        wanted = np.unique(np.array([key.encode("utf-8") for key in keys], dtype=bytes))

        def mask(index: DatasetIndex, rows: np.ndarray) -> np.ndarray:
            return np.isin(index.samples.key[rows], wanted)

        return cls(mask, f"keys(<{len(wanted)} keys>)", expected=len(wanted))

    @classmethod
    def where(cls, predicate: Callable[[dict[str, Any]], bool]) -> Subset:
        """The samples whose index entry ``{"key", "label", "n_events", "split", "shard"}`` satisfies
        ``predicate`` (called once per sample of the split, in the main process)."""

        def mask(index: DatasetIndex, rows: np.ndarray) -> np.ndarray:
            samples = index.samples
            entries = zip(
                samples.keys(rows), samples.label[rows].tolist(), samples.n_events[rows].tolist(), samples.shard[rows].tolist()
            )
            return np.array(
                [
                    bool(
                        predicate(
                            {
                                "key": key,
                                "label": label,
                                "n_events": n,
                                "split": index.shards[shard].split,
                                "shard": index.shards[shard].path,
                            }
                        )
                    )
                    for key, label, n, shard in entries
                ],
                dtype=bool,
            )

        return cls(mask, f"where({getattr(predicate, '__name__', 'predicate')})")

    @classmethod
    def fraction(cls, fraction: float, *, seed: int = 0) -> Subset:
        """A seeded random ``fraction`` of the split (``round(fraction * n)`` samples), e.g. a
        validation hold-out; ``.complement()`` is the rest."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must lie in [0, 1], got {fraction}")

        def mask(index: DatasetIndex, rows: np.ndarray) -> np.ndarray:
            keep = np.zeros(len(rows), dtype=bool)
            keep[np.random.default_rng([int(seed), len(rows)]).permutation(len(rows))[: round(fraction * len(rows))]] = True
            return keep

        return cls(mask, f"fraction({fraction}, seed={seed})")

    @classmethod
    def per_class(cls, count: int, *, seed: int = 0) -> Subset:
        """At most ``count`` samples of each class, drawn at random (seeded)."""
        if count < 0:
            raise ValueError(f"count must be non-negative, got {count}")

        def mask(index: DatasetIndex, rows: np.ndarray) -> np.ndarray:
            if not len(rows):
                return np.zeros(0, dtype=bool)
            shuffled = np.random.default_rng([int(seed), len(rows)]).permutation(len(rows))
            labels = index.samples.label[rows][shuffled]
            by_label = np.argsort(labels, kind="stable")
            sorted_labels = labels[by_label]
            group_start = np.flatnonzero(np.concatenate([[True], sorted_labels[1:] != sorted_labels[:-1]]))
            rank_in_class = np.arange(len(rows)) - np.repeat(group_start, np.diff(np.append(group_start, len(rows))))
            keep = np.zeros(len(rows), dtype=bool)
            keep[shuffled[by_label[rank_in_class < count]]] = True
            return keep

        return cls(mask, f"per_class({count}, seed={seed})")
