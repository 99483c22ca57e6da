"""Decode throughput of every registered event format, beside a plain read of the same bytes.

For each format in the registry (iniVation formats included when their modules are registered),
the input is the largest real recording of that format in the shared samples folder, its payload
repeated to about ``--mbytes`` MB; formats without a real sample (HDF5, NumPy, text) get the EVT 2.0
sample's events written in that format. Every figure is the median of ``--repeats`` runs on one
core, measured side by side in one run: the machine is shared, so compare ratios, not absolutes.
With expelliarmus importable (``pip install expelliarmus``), its EVT 2.0/3.0/DAT decoding of the
same files is timed too.

    python scripts/bench/bench_formats.py [--samples ../shared/samples] [--mbytes 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from shardgen.formats import FORMATS, FormatError, concatenate, detect_format, open_reader  # noqa: E402
from shardgen.formats.prophesee_header import read_header  # noqa: E402

CHUNK = 1 << 20
GENERATED = {"hdf5": ".h5", "npy": ".npy", "text": ".csv"}


def real_samples(samples: Path) -> dict[str, Path]:
    """The largest sample file of each detectable format."""
    found: dict[str, Path] = {}
    for path in sorted(p for p in samples.rglob("*") if p.is_file() and p.suffix not in (".json", ".md", ".csv", ".txt")):
        try:
            name = detect_format(path.read_bytes()[:4096], path.name, source=str(path))
        except FormatError:
            continue
        if name not in found or path.stat().st_size > found[name].stat().st_size:
            found[name] = path
    return found


def enlarge_prophesee(path: Path, target: int, out: Path) -> Path:
    """Header + the payload repeated (timestamps restart each copy, which decoders tolerate)."""
    with open(path, "rb") as stream:
        header = read_header(stream, source=str(path))
        payload = header.pending + stream.read()
    data = path.read_bytes()[: header.data_offset]
    if path.suffix == ".dat":  # keep the type/size bytes once, repeat whole 8-byte events
        data, payload = data + payload[:2], payload[2:]
        payload = payload[: len(payload) // 8 * 8]
    copies = max(1, target // max(len(payload), 1))
    out.write_bytes(data + payload * copies)
    return out


def enlarge_other(path: Path, target: int, out: Path) -> Path:
    """Formats without a RAW-style header (e.g. AEDAT): the file as it is, repeated is not valid."""
    out.write_bytes(path.read_bytes())
    return out


def generated(format_name: str, events: dict, out: Path) -> Path:
    from shardgen.synthetic import event_files as writers

    if format_name == "hdf5":
        out.write_bytes(writers.write_hdf5(events, group="events", width=640, height=480))
    elif format_name == "npy":
        out.write_bytes(writers.write_npy(events, structured=True))
    else:
        with open(out, "w") as handle:
            np.savetxt(handle, np.stack([events[k].astype(np.int64) for k in "txyp"], 1), fmt="%d")
    return out


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plain_read(path: Path) -> None:
    with open(path, "rb") as stream:
        while stream.read(CHUNK * 4):
            pass


def decode(path: Path, format_name: str, options: dict) -> int:
    with open(path, "rb") as stream:
        reader = open_reader(stream, format_name, source=str(path), **options)
        return sum(len(chunk["t"]) for chunk in reader.chunks(CHUNK))


def expelliarmus_decoder(format_name: str):
    try:
        from expelliarmus import Wizard
    except ImportError:
        return None
    encoding = {"evt2": "evt2", "evt3": "evt3", "dat": "dat"}.get(format_name)
    if encoding is None:
        return None
    return lambda path: len(Wizard(encoding=encoding).read(str(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "samples")
    parser.add_argument("--mbytes", type=float, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    target = int(args.mbytes * 1e6)
    real = real_samples(args.samples) if args.samples.is_dir() else {}
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        base_events = None
        if "evt2" in real:
            with open(real["evt2"], "rb") as stream:
                base_events = concatenate(open_reader(stream, "evt2", source="evt2").chunks())
        for name in FORMATS:
            out = Path(temporary) / f"input-{name}"
            options: dict = {}
            if name in real:
                enlarge = enlarge_prophesee if name in ("evt2", "evt3", "dat") else enlarge_other
                path = enlarge(real[name], target, out.with_suffix(real[name].suffix))
                origin = f"{real[name].name} x{max(1, path.stat().st_size // max(real[name].stat().st_size, 1))}"
            elif name in GENERATED and base_events is not None:
                path = generated(name, base_events, out.with_suffix(GENERATED[name]))
                origin = f"{real['evt2'].name} events written as {name}"
            else:
                print(f"{name}: skipped (no sample of this format)")
                continue
            size = path.stat().st_size
            try:
                n = decode(path, name, options)
            except ImportError as error:  # an optional decoder (e.g. aedat4's) is not installed here
                print(f"{name}: skipped ({error})")
                continue
            plain = median_seconds(lambda: plain_read(path), args.repeats)
            ours = median_seconds(lambda: decode(path, name, options), args.repeats)
            row = {
                "format": name,
                "input": origin,
                "MB": size / 1e6,
                "M events": n / 1e6,
                "read MB/s": size / plain / 1e6,
                "decode M ev/s": n / ours / 1e6,
                "decode MB/s": size / ours / 1e6,
            }
            other = expelliarmus_decoder(name)
            if other is not None:
                try:
                    theirs_n = other(path)
                    theirs = median_seconds(lambda: other(path), args.repeats)
                    row["expelliarmus M ev/s"] = theirs_n / theirs / 1e6
                    row["expelliarmus same count"] = theirs_n == n
                except Exception as error:  # noqa: BLE001 - report, do not stop the benchmark
                    row["expelliarmus M ev/s"] = f"failed: {error}"
            rows.append(row)
            print(" | ".join(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}" for k, v in row.items()), flush=True)
    print(f"\n{os.cpu_count()} cores visible; one core used; medians of {args.repeats} runs")
    print(
        "| format | input | MB | M events | plain read MB/s | decode M events/s | decode MB/s | expelliarmus M events/s (same event count) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        theirs = row.get("expelliarmus M ev/s", "not installed" if expelliarmus_decoder("evt2") is None else "n/a")
        if isinstance(theirs, float):
            theirs = f"{theirs:.1f} ({'yes' if row['expelliarmus same count'] else 'no'})"
        print(
            f"| {row['format']} | {row['input']} | {row['MB']:.1f} | {row['M events']:.2f} | {row['read MB/s']:.0f} | "
            f"{row['decode M ev/s']:.1f} | {row['decode MB/s']:.0f} | {theirs} |"
        )


if __name__ == "__main__":
    main()
