"""The tar layout of a shard, written and read in one place.

Writing: ``member_header`` lays out each member's 512-byte header exactly as ``tarfile`` does with
fixed metadata (mtime 0, mode 0444, no owner), so identical input gives identical shards;
``member_bytes`` and ``closed_tar_bytes`` are the sizes the writer plans shards with.

Reading: a direct parser of the 512-byte headers that groups members into samples. It reads plain ustar/GNU tar as shardgen and ``tar`` write it (regular files, optional GNU long
names and pax headers) and checks every header's checksum, so a damaged shard fails with its name
and byte offset instead of yielding wrong samples.

Speed comes from parsing whole byte chunks in memory (one read per run of samples, located by the
index's offsets) and checking the headers of a chunk in one numba pass, instead of
``tarfile``'s per-member object machinery.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

import numba
import numpy as np

from .errors import ShardError

BLOCK = 512
STREAM_CHUNK = 4 << 20


# Writing ------------------------------------------------------------------------------------------


def _tarfile_header(name: str, size: int) -> bytes:
    """A ustar header with fixed metadata (mtime 0, mode 0444, no owner): the same bytes on every run."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


# tarfile's header for a name of at most 100 bytes and a size below 8 GiB, split where the name and
# the size go: these are the only fields that vary. Building one costs tarfile about 16 us, a tenth
# of converting a small N-MNIST sample; filling the template costs 1 us.
_TEMPLATE = _tarfile_header("", 0)
_SIZE_AT, _CHECKSUM_AT = 124, 148
# The checksum sums the header's bytes, its own field read as spaces.
_TEMPLATE_SUM = (
    sum(_TEMPLATE) - sum(_TEMPLATE[_SIZE_AT : _SIZE_AT + 12]) - sum(_TEMPLATE[_CHECKSUM_AT : _CHECKSUM_AT + 8]) + 8 * ord(" ")
)


def member_header(name: str, size: int) -> bytes:
    """``tarfile``'s header of a member ``name`` of ``size`` bytes, from the template where it applies."""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > 100 or size >= 8**11:
        return _tarfile_header(name, size)
    size_field = b"%011o\0" % size
    checksum = _TEMPLATE_SUM + sum(encoded) + sum(size_field)
    return b"".join(
        (
            encoded,
            _TEMPLATE[len(encoded) : _SIZE_AT],
            size_field,
            _TEMPLATE[_SIZE_AT + 12 : _CHECKSUM_AT],
            b"%06o\0 " % checksum,
            _TEMPLATE[_CHECKSUM_AT + 8 :],
        )
    )


def member_padding(size: int) -> bytes:
    """The zeros after a member's payload of ``size`` bytes, up to the next block."""
    return bytes(-size % BLOCK)


def member_bytes(payload: int) -> int:
    """Bytes a member of ``payload`` bytes takes: its header, the payload, the padding."""
    return BLOCK + (payload + BLOCK - 1) // BLOCK * BLOCK


def closed_tar_bytes(offset: int) -> int:
    """File size once closed at ``offset``: two zero blocks, padded to tarfile's 10240-byte record."""
    record = tarfile.RECORDSIZE
    return (offset + 2 * BLOCK + record - 1) // record * record


# Reading ------------------------------------------------------------------------------------------


def _octal(field: bytes, source: str, offset: int) -> int:
    if field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        return int.from_bytes(field, "big") & ~(0x80 << (8 * (len(field) - 1)))
    try:
        return int(field.strip(b"\0 ") or b"0", 8)
    except ValueError:
        raise ShardError(f"{source} at byte {offset}: damaged tar header (bad number {field!r})") from None


def _parse_pax(data: bytes, source: str, offset: int) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    try:
        while position < len(data) and data[position] != 0:
            space = data.index(b" ", position)
            length = int(data[position:space])
            key, _, value = data[space + 1 : position + length - 1].partition(b"=")
            records[key.decode()] = value.decode()
            position += length
    except (ValueError, UnicodeDecodeError):
        raise ShardError(f"{source} at byte {offset}: damaged pax header") from None
    return records


# Header scan results, one row per header: offset, payload size, type flag, name length, status.
_OK, _BAD_CHECKSUM, _BAD_NUMBER, _CUT_HEADER, _CUT_MEMBER, _END, _BASE256 = range(7)


@numba.njit(cache=True)
def _octal_field(data, start, length):
    # (value, status): octal digits after optional spaces, up to a NUL or space.
    value = 0
    position = start
    stop = start + length
    if data[start] & 0x80:
        return 0, _BASE256
    while position < stop and data[position] == 32:
        position += 1
    while position < stop and data[position] != 0 and data[position] != 32:
        digit = data[position] - 48
        if digit < 0 or digit > 7:
            return 0, _BAD_NUMBER
        value = value * 8 + digit
        position += 1
    return value, _OK


@numba.njit(cache=True)
def _scan_headers(data):
    """Walk the headers of ``data``; stops at the end-of-archive marker, a cut or a damaged header."""
    size_of_data = len(data)
    rows = np.empty((size_of_data // 512 + 1, 5), dtype=np.int64)
    count = 0
    position = 0
    while position < size_of_data:
        row = rows[count]
        row[0] = position
        row[1] = 0
        row[2] = 0
        row[3] = 0
        count += 1
        if position + 512 > size_of_data:
            row[4] = _CUT_HEADER
            return rows[:count]
        total = 0
        zeros = True
        for i in range(512):
            byte = data[position + i]
            if byte != 0:
                zeros = False
            total += 32 if 148 <= i < 156 else byte
        if zeros:
            row[4] = _END
            return rows[:count]
        stored, status = _octal_field(data, position + 148, 8)
        if status != _OK or stored != total:
            row[4] = _BAD_CHECKSUM if status == _OK else status
            return rows[:count]
        size, status = _octal_field(data, position + 124, 12)
        if status != _OK:
            row[4] = status  # base-256 sizes are decoded by the caller
            return rows[:count]
        name_length = 0
        while name_length < 100 and data[position + name_length] != 0:
            name_length += 1
        row[1] = size
        row[2] = data[position + 156]
        row[3] = name_length
        if position + 512 + size > size_of_data:
            row[4] = _CUT_MEMBER
            return rows[:count]
        row[4] = _OK
        position += 512 + (size + 511) // 512 * 512
    return rows[:count]


def parse_members(
    data: bytes | memoryview, source: str, base: int = 0, *, complete: bool = True
) -> tuple[list[tuple[str, bytes, int]], int, bool]:
    """The regular-file members in ``data`` (bytes of a tar file from byte ``base`` on, starting at a
    header): ``([(name, payload, header offset)], bytes consumed, end-of-archive seen)``. Payloads
    are ``bytes`` (copies when ``data`` is a memoryview of a reused buffer).

    ``complete``: ``data`` must hold whole members (an index-located run); otherwise parsing stops
    before a member cut at the end of ``data`` (streaming), leaving it to the next call.
    """
    members: list[tuple[str, bytes, int]] = []
    long_name: str | None = None
    long_name_at = 0  # header offset of the record that set long_name
    position = 0
    while True:
        rows = _scan_headers(np.frombuffer(data, dtype=np.uint8, offset=position) if position < len(data) else _EMPTY)
        for offset, size, kind, name_length, status in rows.tolist():
            offset += position
            if status == _BASE256:
                size = _octal(bytes(data[offset + 124 : offset + 136]), source, base + offset)
                if offset + BLOCK + size > len(data):
                    status = _CUT_MEMBER
                else:
                    kind, status = data[offset + 156], _OK
                    name_length = bytes(data[offset : offset + 100]).find(b"\0") % 101
                    position = offset + BLOCK + (size + BLOCK - 1) // BLOCK * BLOCK
            if status == _END:
                return members, offset, True
            if status != _OK:
                _raise_unless_cut(status, data, offset, size, source, base, complete)
                # A member cut at the end of a streaming chunk: resume at its header (or at the
                # long-name record before it) in the next call.
                return members, long_name_at if long_name is not None else offset, False
            start = offset + BLOCK
            payload = bytes(data[start : start + size])  # a slice of bytes copies once; bytes() adds no second copy
            if kind == 48 or kind == 0:  # b"0", b"\0": a regular file
                if long_name is None:
                    name = str(data[offset : offset + name_length], "utf-8")
                    if data[offset + 345] != 0 and data[offset + 257 : offset + 262] == b"ustar":
                        name = _member_name(bytes(data[offset : offset + BLOCK]))
                else:
                    name, long_name = long_name, None
                members.append((name, payload, base + offset))
            elif kind == 76:  # b"L": GNU long name of the next member
                if long_name is None:
                    long_name_at = offset
                long_name = payload.rstrip(b"\0").decode()
            elif kind == 120 or kind == 103:  # b"x", b"g": pax headers
                pax = _parse_pax(payload, source, base + offset)
                if kind == 120 and "path" in pax:
                    if long_name is None:
                        long_name_at = offset
                    long_name = pax["path"]
            else:
                long_name = None  # directories, links: not sample members
        if not rows.size or rows[-1, 4] != _BASE256:
            return members, long_name_at if long_name is not None and not complete else len(data), False
        # a base-256 size stopped the scan: go on after that member


_EMPTY = np.zeros(0, dtype=np.uint8)


def _raise_unless_cut(status: int, data, offset: int, size: int, source: str, base: int, complete: bool) -> None:
    where = f"{source} at byte {base + offset}"
    if status == _CUT_HEADER and complete:
        raise ShardError(f"{where}: truncated tar header ({len(data) - offset} of {BLOCK} bytes)")
    if status == _CUT_MEMBER and complete:
        name = _member_name(bytes(data[offset : offset + BLOCK]))
        raise ShardError(f"{where}: member {name!r} truncated ({len(data) - offset - BLOCK} of {size} bytes)")
    if status in (_CUT_HEADER, _CUT_MEMBER):
        return
    if status == _BAD_CHECKSUM:
        raise ShardError(f"{where}: tar header checksum mismatch (damaged or not a tar file)")
    raise ShardError(f"{where}: damaged tar header (bad number)")


def _member_name(header: bytes) -> str:
    name = header[:100].split(b"\0", 1)[0].decode()
    if header[345] != 0 and header[257:262] == b"ustar":
        name = header[345:500].split(b"\0", 1)[0].decode() + "/" + name
    return name


def member_key(name: str) -> tuple[str, str]:
    """A member's ``(sample key, extension)``: webdataset's convention, the key is the path up to
    the first dot of the file name."""
    directory, slash, filename = name.rpartition("/")
    stem, dot, extension = filename.partition(".")
    return (directory + slash + stem if dot else name), extension


def group_samples(members: Iterable[tuple[str, bytes, int]], source: str) -> Iterator[dict]:
    """Consecutive members with the same key -> ``{"__key__", "__url__", extension: bytes}``.

    webdataset's convention: the key is the member's path up to the first dot of its file name."""
    current: dict | None = None
    for name, payload, offset in members:
        key, extension = member_key(name)
        if current is None or current["__key__"] != key:
            if current is not None:
                yield current
            current = {"__key__": key, "__url__": source}
        elif extension in current:
            raise ShardError(f"{source} at byte {offset}: sample {key!r} has member {extension!r} twice")
        current[extension] = payload
    if current is not None:
        yield current


def samples_in_run(data: bytes | memoryview, source: str, base: int, keys: Sequence[str]) -> list[dict]:
    """The samples of an index-located run: ``data`` holds exactly the members of ``keys``, in order."""
    members, _, _ = parse_members(data, source, base)
    samples = list(group_samples(members, source))
    if len(samples) != len(keys) or any(sample["__key__"] != key for sample, key in zip(samples, keys)):
        found = [sample["__key__"] for sample in samples]
        raise ShardError(
            f"{source} at byte {base}: the index expects samples {list(keys)[:3]}... here, the shard holds "
            f"{found[:3]}...; the shard changed after its index was written (reconvert, or restore the shard)"
        )
    return samples


def _stream_members(stream: BinaryIO, source: str) -> Iterator[tuple[str, bytes, int]]:
    buffer = bytearray(STREAM_CHUNK)
    filled = 0  # bytes at the front of buffer not parsed yet
    base = 0  # their offset in the stream
    while True:
        if filled == len(buffer):  # a member larger than the buffer
            buffer.extend(bytes(len(buffer)))
        with memoryview(buffer) as view:
            got = stream.readinto(view[filled:]) or 0
            filled += got
            members, consumed, ended = parse_members(view[:filled], source, base, complete=not got)
        yield from members
        if ended or not got:
            return
        buffer[: filled - consumed] = buffer[consumed:filled]
        filled -= consumed
        base += consumed


def iter_members(stream: BinaryIO, source: str) -> Iterator[tuple[str, bytes]]:
    """``(name, data)`` of every regular file of a tar ``stream``, read sequentially through one
    reused buffer (no index needed)."""
    for name, payload, _ in _stream_members(stream, source):
        yield name, payload


def iter_samples(stream: BinaryIO, source: str) -> Iterator[dict]:
    """Every sample of a tar ``stream``, read sequentially (no index needed)."""
    return group_samples(_stream_members(stream, source), source)
