"""Padding variable-length frame sequences into batches (SpikingJelly's collate and mask)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def pad_sequence_collate(batch: Sequence[tuple[np.ndarray | torch.Tensor, int]]):
    """``[(frames [T_i, ...], label), ...]`` -> ``(frames [B, T_max, ...], labels [B], lengths [B])``.

    Shorter sequences are zero-padded at the end, as ``torch.nn.utils.rnn.pad_sequence`` does.
    """
    if not batch:
        raise ValueError("pad_sequence_collate needs at least one sample")
    arrays = [x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x) for x, _ in batch]
    shape = arrays[0].shape[1:]
    for array in arrays:
        if array.shape[1:] != shape:
            raise ValueError(f"cannot pad frames of shapes {shape} and {array.shape[1:]} into one batch")
    lengths = [array.shape[0] for array in arrays]
    padded = np.zeros((len(arrays), max(lengths), *shape), dtype=np.result_type(*arrays))
    for row, array in zip(padded, arrays):
        row[: array.shape[0]] = array
    labels = torch.as_tensor([label for _, label in batch])
    return torch.from_numpy(padded), labels, torch.as_tensor(lengths)


def padded_sequence_mask(sequence_len: torch.Tensor, T: int | None = None) -> torch.Tensor:
    """Boolean mask ``[T, B]``: True where time step t < length of sequence b."""
    if T is None:
        T = int(sequence_len.max().item())
    return torch.arange(T, device=sequence_len.device)[:, None] < sequence_len[None, :]
