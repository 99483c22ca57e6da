"""A direct reader of tar shards: parses the 512-byte headers itself and groups members into samples.

It reads plain ustar/GNU tar as shardgen and ``tar`` write it (regular files, optional GNU long
names and pax headers) and checks each header's checksum, so a damaged shard fails with its name
and byte offset instead of yielding wrong samples.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

BLOCK = 512


class ShardError(ValueError):
    """A shard that cannot be read; the message names the shard, the byte offset and the member."""


def _octal(field: bytes, source: str, offset: int) -> int:
    field = field.rstrip(b"\0 ").lstrip(b" ")
    if field and field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        return int.from_bytes(field, "big") & ~(0x80 << (8 * (len(field) - 1)))
    try:
        return int(field or b"0", 8)
    except ValueError:
        raise ShardError(f"{source} at byte {offset}: damaged tar header (bad number {field!r})") from None


def _parse_pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        length = int(data[position:space])
        key, _, value = data[space + 1 : position + length - 1].partition(b"=")
        records[key.decode()] = value.decode()
        position += length
    return records


def iter_members(stream: BinaryIO, source: str) -> Iterator[tuple[str, bytes]]:
    """(name, data) of every regular file in the tar ``stream``, in order."""
    offset = 0
    long_name: str | None = None
    while True:
        header = stream.read(BLOCK)
        if not header:
            return  # tolerated: a stream cut exactly after a member (no end-of-archive blocks)
        if len(header) < BLOCK:
            raise ShardError(f"{source} at byte {offset}: truncated tar header ({len(header)} of {BLOCK} bytes)")
        if header.count(0) == BLOCK:
            return  # end-of-archive marker
        stored = _octal(header[148:156], source, offset)
        if sum(header[:148]) + 8 * 32 + sum(header[156:]) != stored:
            raise ShardError(f"{source} at byte {offset}: tar header checksum mismatch (damaged or not a tar file)")
        size = _octal(header[124:136], source, offset)
        kind = header[156:157]
        name = header[:100].split(b"\0", 1)[0].decode()
        if header[257:262] == b"ustar" and header[345] != 0:
            name = header[345:500].split(b"\0", 1)[0].decode() + "/" + name
        padded = (size + BLOCK - 1) // BLOCK * BLOCK
        data = stream.read(padded)
        if len(data) < size:
            raise ShardError(
                f"{source} at byte {offset}: member {name!r} truncated ({len(data)} of {size} bytes)"
            )
        offset += BLOCK + padded
        payload = data[:size] if padded != size else data
        if kind == b"L":  # GNU long name for the next member
            long_name = payload.rstrip(b"\0").decode()
            continue
        if kind in (b"x", b"g"):
            pax = _parse_pax(payload)
            if kind == b"x" and "path" in pax:
                long_name = pax["path"]
            continue
        if kind not in (b"0", b"\0"):
            long_name = None
            continue  # directories, links: not sample members
        yield (long_name or name), payload
        long_name = None


def split_key(name: str) -> tuple[str, str]:
    """webdataset's convention: the key is the path up to the first dot of the file name."""
    directory, _, filename = name.rpartition("/")
    stem, dot, extension = filename.partition(".")
    if not dot:
        return name, ""
    return (f"{directory}/{stem}" if directory else stem), extension


def iter_samples(stream: BinaryIO, source: str) -> Iterator[dict]:
    """Group consecutive members with the same key: ``{"__key__", "__url__", extension: bytes}``."""
    current: dict | None = None
    for name, data in iter_members(stream, source):
        key, extension = split_key(name)
        if current is not None and current["__key__"] != key:
            yield current
            current = None
        if current is None:
            current = {"__key__": key, "__url__": source}
        if extension in current:
            raise ShardError(f"{source}: sample {key!r} has member {extension!r} twice")
        current[extension] = data
    if current is not None:
        yield current
