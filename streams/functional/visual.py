"""Pictures of frames: an animated GIF (SpikingJelly's ``play_frame``) and a PNG grid.

Colours: OFF events (channel 0, p == 0) green, ON events (channel 1) magenta, on black; counts are
scaled by the 95th percentile of active pixels and clipped, so a picture never wraps around.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def frames_to_rgb(frames: np.ndarray) -> np.ndarray:
    """``[T, 2, H, W]`` counts -> ``[T, H, W, 3]`` uint8 pictures."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[1] != 2:
        raise ValueError(f"expected frames of shape [T, 2, H, W], got {frames.shape}")
    active = frames[frames > 0]
    # The 95th percentile of active pixels: a few hot pixels must not darken the whole picture.
    scale = float(np.percentile(active, 95)) if active.size else 1.0
    off, on = frames[:, 0] / scale, frames[:, 1] / scale
    rgb = np.stack([on, off, on], axis=-1)
    return (np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


def _images(frames: np.ndarray, upscale: int):
    from PIL import Image

    pictures = frames_to_rgb(frames)
    size = (pictures.shape[2] * upscale, pictures.shape[1] * upscale)
    return [Image.fromarray(picture).resize(size, Image.NEAREST) for picture in pictures]


def play_frame(x, save_gif_to: str | Path | None = None, *, upscale: int = 4, frame_ms: int = 100):
    """Write frames ``[T, 2, H, W]`` as a looping GIF to ``save_gif_to``; without a path, return the
    PIL images (SpikingJelly opens a blocking matplotlib loop instead)."""
    frames = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
    images = _images(frames, upscale)
    if save_gif_to is None:
        return images
    images[0].save(save_gif_to, save_all=True, append_images=images[1:], loop=0, duration=frame_ms)
    return None


def save_frame_grid(frames, path: str | Path, *, columns: int = 8, upscale: int = 4, gap: int = 2) -> None:
    """Write frames ``[T, 2, H, W]`` side by side as one PNG, ``columns`` per row."""
    from PIL import Image

    frames = frames.numpy() if hasattr(frames, "numpy") else np.asarray(frames)
    images = _images(frames, upscale)
    width, height = images[0].size
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (columns * (width + gap) - gap, rows * (height + gap) - gap), (40, 40, 40))
    for number, image in enumerate(images):
        grid.paste(image, ((number % columns) * (width + gap), (number // columns) * (height + gap)))
    grid.save(path)
