"""The main job on the embedded default: synthetic N-MNIST -> shards -> two frame configurations."""

from __future__ import annotations

import time
from pathlib import Path

from . import convert
from .synthetic import write_synthetic_nmnist


def run_demo(out: str | Path, *, workers: int = 2) -> None:
    from streams import EventStream
    from streams.functional import play_frame, save_frame_grid

    out = Path(out)
    raw = write_synthetic_nmnist(out / "raw")
    print(f"synthetic N-MNIST raw layout written to {raw} (Train/<digit>/*.bin, Test/<digit>/*.bin)")
    summary = convert("nmnist", raw, out / "shards", workers=workers, max_samples=20, verify=False, progress=False)
    print(summary.describe())
    configurations = {
        "T=16, split_by=number": dict(frames_number=16, split_by="number"),
        "duration=20 ms": dict(duration=20_000),
    }
    for label, options in configurations.items():
        stream = EventStream(out / "shards", split="train", shuffle=True, seed=0).frames(**options).batch(16)
        started = time.perf_counter()
        samples = events = 0
        shape = None
        for batch in stream:
            samples += len(batch["label"])
            events += int(batch["frames"].sum())
            shape = tuple(batch["frames"].shape)
        seconds = time.perf_counter() - started
        print(f"stream {label}: {samples} samples, {events} events, last batch {shape}, {samples / seconds:.0f} samples/s")
    sample = next(iter(EventStream(out / "shards", split="test").frames(16)))
    gif, png = out / f"preview_{sample['__key__']}.gif", out / f"preview_{sample['__key__']}.png"
    play_frame(sample["frames"], gif)
    save_frame_grid(sample["frames"], png)
    print(f"preview of {sample['__key__']} (label {sample['label']}): {gif}, {png} (ON magenta, OFF green)")
