"""Tonic-compatible transforms: ``transform(events, *, rng=None, sensor_size=None)``."""

from .representations import (
    ToAveragedTimesurface,
    ToBinaRep,
    ToFrame,
    ToImage,
    ToSparseTensor,
    ToTimesurface,
    ToVoxelGrid,
)

__all__ = [
    "ToAveragedTimesurface",
    "ToBinaRep",
    "ToFrame",
    "ToImage",
    "ToSparseTensor",
    "ToTimesurface",
    "ToVoxelGrid",
]
