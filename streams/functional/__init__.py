"""Pure kernels: numpy arrays in, numpy arrays out, every parameter explicit.

The SpikingJelly names and signatures are kept, so switching is a change of import::

    from streams.functional import integrate_events_by_fixed_frames_number
"""

from . import one_dimensional
from .augment import drop_events, flip_horizontal, translate
from .integrate import (
    cal_fixed_frames_number_segment_index,
    integrate_events_by_fixed_duration,
    integrate_events_by_fixed_frames_number,
    integrate_events_segment_to_frame,
    integrate_segments,
)
from .pad import pad_sequence_collate, padded_sequence_mask
from .visual import frames_to_rgb, play_frame, save_frame_grid

__all__ = [
    "cal_fixed_frames_number_segment_index",
    "drop_events",
    "flip_horizontal",
    "frames_to_rgb",
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_segment_to_frame",
    "integrate_segments",
    "pad_sequence_collate",
    "padded_sequence_mask",
    "play_frame",
    "save_frame_grid",
    "one_dimensional",
    "translate",
]
