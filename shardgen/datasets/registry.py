"""Name -> adapter class of every built-in dataset."""

from __future__ import annotations

from typing import TypeVar

DATASETS: dict[str, type] = {}

AdapterType = TypeVar("AdapterType", bound=type)


def register(adapter: AdapterType) -> AdapterType:
    if adapter.name in DATASETS:
        raise ValueError(f"dataset {adapter.name!r} registered twice")
    DATASETS[adapter.name] = adapter
    return adapter


def get_dataset(name: str) -> type:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None
