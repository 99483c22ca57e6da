"""The ``shardgen`` command: convert datasets to shards, inspect shard directories, run the demo."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from neuroshards.errors import NeuroshardsError
from neuroshards.index import load_index
from neuroshards.sources import ShardStore

from . import __version__, convert
from .datasets import DATASETS
from .formats.rawtree import MAX_MEMBER_BYTES_VARIABLE

SIZE_SUFFIXES = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def byte_size(text: str) -> int:
    """``256M``, ``1g``, ``4096`` -> bytes."""
    text = text.strip().lower().removesuffix("b").removesuffix("i")
    factor = SIZE_SUFFIXES.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in SIZE_SUFFIXES else text
    try:
        return int(float(number) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4096, 64M, 1G)") from None


def part_of(text: str) -> tuple[int, int]:
    """``3/8`` -> (3, 8): part 3 (0-based) of 8."""
    number, slash, count = text.partition("/")
    try:
        part = (int(number), int(count))
    except ValueError:
        part = (-1, 0)
    if not slash or not 0 <= part[0] < part[1]:
        raise argparse.ArgumentTypeError(f"not a part: {text!r} (I/N with 0 <= I < N, e.g. 0/8)")
    return part


def _output(text: str):
    """``--out``: a folder (a Path) or an object storage URL; any other scheme is refused here
    (a URL taken for a path would write a local folder named ``s3:``)."""
    from .conversion.storage import output_location

    try:
        return output_location(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_writer_arguments(parser: argparse.ArgumentParser, *, raw_required: bool = True) -> None:
    parser.add_argument(
        "--raw",
        required=raw_required,
        default=None,
        type=Path,
        help="what you downloaded: the archives' folder, or the folder you extracted",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=_output,
        help="folder or object storage URL (s3://, gs://, az://) for the shards and index.json",
    )
    parser.add_argument("--workers", type=int, default=1, help="conversion processes (default 1)")
    parser.add_argument("--max-samples", type=int, default=2000, help="samples per shard at most (default 2000)")
    parser.add_argument("--max-bytes", type=byte_size, default=256 << 20, help="bytes per shard at most (default 256M)")
    parser.add_argument("--compression", choices=["zstd"], default=None, help="lossless compression of the event records")
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="skip the MD5 check of the archives")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--part",
        type=part_of,
        default=None,
        metavar="I/N",
        help="convert only part I (0-based) of N of the recordings; then shardgen merge",
    )
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="ray: convert in parts on a Ray cluster and merge them (pip install neuroshards[ray])",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster (host:port or ray://...; default: RAY_ADDRESS or a local one)",
    )
    parser.add_argument(
        "--parts",
        type=int,
        default=None,
        metavar="N",
        help="with --engine ray: parts to convert (default: the cluster's CPUs / --workers)",
    )
    parser.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="a recording that cannot be read stops the run (raise, default) or is left out and listed (skip)",
    )
    parser.add_argument(
        "--max-member-bytes", type=byte_size, default=None, help="largest archive member read, decompressed (default 8G)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shardgen", description=__doc__)
    parser.add_argument("--version", action="version", version=f"shardgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    convert_parser = commands.add_parser("convert", help="convert a dataset into shards")
    datasets = convert_parser.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    for name, adapter in sorted(DATASETS.items()):
        sub = datasets.add_parser(name, help=adapter.title, description=adapter.where_to_get())
        _add_writer_arguments(sub, raw_required=adapter.raw_required)
        adapter.add_arguments(sub)

    merge = commands.add_parser("merge", help="join the partial indexes of convert --part I/N into one index.json")
    merge.add_argument("directories", nargs="+", type=_output, metavar="DIR", help="folders or URLs holding the parts' output")
    merge.add_argument("--out", type=_output, default=None, help="folder or URL of the merged index.json (default: the only DIR)")

    verify = commands.add_parser("verify", help="check every shard of a dataset (folder or URL) against its index")
    verify.add_argument(
        "location", metavar="DIR_OR_URL", help="shard folder, its index.json, or a URL (http(s)://, s3://, gs://, az://)"
    )
    verify.add_argument("--quiet", action="store_true", help="print only the bad shards and the summary")

    info = commands.add_parser("info", help="summarise a shard directory")
    info.add_argument("path", help="shard directory, its index.json, or a URL (http(s)://, s3://, gs://, az://)")
    info.add_argument("--json", action="store_true", help="print the index summary as JSON")

    reindex = commands.add_parser("reindex", help="rebuild a shard directory's index from its shards (no reconversion)")
    reindex.add_argument("directory", type=Path, metavar="DIR", help="the shard directory")

    commands.add_parser("list", help="list the supported datasets")

    demo = commands.add_parser("demo", help="synthetic N-MNIST -> shards -> frames, with a summary and a preview")
    demo.add_argument("--out", type=Path, default=Path("demo"), help="working directory (default ./demo)")
    demo.add_argument("--workers", type=int, default=2)
    return parser


def _run_convert(args: argparse.Namespace) -> None:
    adapter = DATASETS[args.dataset]
    if args.max_member_bytes is not None:  # read by every worker process too
        os.environ[MAX_MEMBER_BYTES_VARIABLE] = str(args.max_member_bytes)
    summary = convert(
        args.dataset,
        args.raw,
        args.out,
        workers=args.workers,
        max_samples=args.max_samples,
        max_bytes=args.max_bytes,
        compression=args.compression,
        verify=args.verify,
        progress=not args.quiet,
        part=args.part,
        engine=args.engine,
        ray_address=args.ray_address,
        parts=args.parts,
        on_error=args.on_error,
        **adapter.options_from_arguments(args),
    )
    print(summary.describe())


def _run_info(args: argparse.Namespace) -> None:
    from .conversion.storage import is_url

    if is_url(args.path):
        index = ShardStore(args.path).load_index()
    else:
        index = load_index(args.path)
    if args.json:
        print(json.dumps(index.header(), indent=1))
        return
    total_bytes = sum(shard.bytes for shard in index.shards)
    total_events = sum(shard.n_events for shard in index.shards)
    print(f"dataset {index.dataset}: sensor {tuple(index.sensor_size)}, {len(index.classes)} classes")
    print(
        f"  {len(index.shards)} shards, {total_bytes / 1e6:.2f} MB, {total_events} events "
        f"({total_bytes / max(total_events, 1):.2f} bytes/event)"
    )
    for split, entry in index.splits.items():
        print(f"  {split}: {entry['n_samples']} samples, {entry['n_events']} events, {entry['n_shards']} shards")
    print(
        f"  generated by {index.generator.get('name')} {index.generator.get('version')} "
        f"with {json.dumps(index.generator.get('options', {}))}"
    )


def _run_verify(args: argparse.Namespace) -> int:
    from .conversion.verify import verify_dataset

    def show(shard) -> None:
        if shard.problems:
            print(shard.line(), flush=True)
        elif not args.quiet:
            print(f"ok  {shard.path}", flush=True)

    report = verify_dataset(args.location, on_shard=show)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _run_list() -> None:
    width = max(map(len, DATASETS))
    for name, adapter in sorted(DATASETS.items()):
        sensor = "x".join(map(str, adapter.sensor_size)) if all(adapter.sensor_size[:2]) else "from the files"
        print(f"{name:<{width}}  sensor {sensor:<14} {adapter.where_to_get()}")


def _terminate(signum, _frame):
    """SIGTERM ends the run as an interrupt does: cleanup (temporary shards, spool) runs."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; errors are one line on stderr (no traceback): exit 1 for bad input or a
    writing error (full or read-only disk: the path is named), 2 for invalid option values."""
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate) if _in_main_thread() else None
    try:
        if args.command == "convert":
            _run_convert(args)
        elif args.command == "merge":
            from .conversion.merge import merge_parts

            print(f"merged index: {merge_parts(args.directories, args.out)}")
        elif args.command == "verify":
            return _run_verify(args)
        elif args.command == "info":
            _run_info(args)
        elif args.command == "reindex":
            from .conversion.reindex import reindex

            print(f"rebuilt index: {reindex(args.directory)}")
        elif args.command == "list":
            _run_list()
        elif args.command == "demo":
            from .demo import run_demo

            run_demo(args.out, workers=args.workers)
    except NeuroshardsError as error:
        print(f"shardgen: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a full, read-only or missing output (or input) path
        where = f"{error.filename}: " if error.filename else ""
        print(f"shardgen: error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except ValueError as error:  # invalid option values (e.g. a window overlap larger than the window)
        print(f"shardgen: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of the output went away (shardgen info | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except KeyboardInterrupt:
        print("shardgen: interrupted; rerun the same command to start again", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
