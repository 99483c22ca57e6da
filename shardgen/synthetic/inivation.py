"""Writers of the iniVation formats and of CIFAR10-DVS / DVS128 Gesture raw trees, for tests,
reference generation (scripts/references/make_inivation_references.py) and benchmarks.

Written from the format descriptions (jAER's AEDAT 2.0 and 3.1 specifications), independently of
the readers in shardgen.formats: the byte layouts are spelled out again here on purpose.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np

CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_HEADER = (
    "#!AER-DAT2.0",
    "# This is a raw AE data file created by saveaerdat.m",
    "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
    "# Timestamps tick is 1 us",
)
GESTURE_HEADER = (
    "#!AER-DAT3.1",
    "#Format: RAW",
    "#Source 1: DVS128",
    "#Start-Time: 2017-05-31 16:20:01 (TZ+0200)",
    "#!END-HEADER",
)
GESTURE_NAMES = (
    "hand_clapping",
    "right_hand_wave",
    "left_hand_wave",
    "right_arm_clockwise",
    "right_arm_counter_clockwise",
    "left_arm_clockwise",
    "left_arm_counter_clockwise",
    "arm_roll",
    "air_drums",
    "air_guitar",
    "other_gestures",
)


# AEDAT 2.0 ------------------------------------------------------------------------------------


def aedat2_bytes(address, t, header=("#!AER-DAT2.0",), newline="\r\n") -> bytes:
    """Header lines (newline appended to each), then each event as big-endian u32 address, u32 t."""
    text = "".join(line + newline for line in header).encode("latin-1")
    words = np.empty((len(t), 2), dtype=">u4")
    words[:, 0] = np.asarray(address, dtype=np.uint64)
    words[:, 1] = np.asarray(t, dtype=np.uint64)
    return text + words.tobytes()


def dvs128_address(x, y, p, high_bits=0):
    """jAER DVS128: bit 0 polarity, bits 1-7 x, bits 8-14 y (``high_bits`` fill bits 16+)."""
    x, y, p = (np.asarray(v, dtype=np.uint64) for v in (x, y, p))
    return (np.asarray(high_bits, dtype=np.uint64) << 16) | (y << 8) | (x << 1) | p


def davis_address(x, y, p, *, aps=None, external=None):
    """jAER DAVIS: bits 22-30 y, 12-21 x, 11 polarity, 10 external input, 31 APS/IMU sample."""
    x, y, p = (np.asarray(v, dtype=np.uint64) for v in (x, y, p))
    address = (y << 22) | (x << 12) | (p << 11)
    if aps is not None:
        address |= np.asarray(aps, dtype=np.uint64) << 31
    if external is not None:
        address |= np.asarray(external, dtype=np.uint64) << 10
    return address


def davis_fixture() -> bytes:
    """DAVIS240 polarity events mixed with APS samples (bit 31), as jAER records them."""
    rng = np.random.default_rng(7)
    n = 3000
    t = np.sort(rng.integers(0, 2_000_000, n))
    x, y, p = rng.integers(0, 240, n), rng.integers(0, 180, n), rng.integers(0, 2, n)
    aps = (rng.random(n) < 0.2).astype(np.uint64)
    header = (
        "#!AER-DAT2.0",
        "# This is a raw AE data file - do not edit",
        "# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C",
        "# Timestamps tick is 1 us",
    )
    return aedat2_bytes(davis_address(x, y, p, aps=aps), t, header)


# AEDAT 3.1 ------------------------------------------------------------------------------------


def aedat3_packet(kind: int, payload: bytes, *, event_size: int, capacity: int, overflow: int = 0, ts_offset: int = 4) -> bytes:
    """A packet: 28-byte little-endian header (type, source, size, ts offset, ts overflow,
    capacity, number, valid), then the payload."""
    header = struct.pack("<hhiiiiii", kind, 1, event_size, ts_offset, overflow, capacity, capacity, capacity)
    return header + payload


def polarity_packets(x, y, p, t, *, valid=None, per_packet: int = 500) -> list[bytes]:
    """Polarity events as type-1 packets; a new packet starts whenever t >> 31 changes
    (each packet holds one timestamp overflow value, as cAER writes them)."""
    x, y, p = (np.asarray(v, dtype=np.uint32) for v in (x, y, p))
    t = np.asarray(t, dtype=np.int64)
    valid = np.ones(len(t), dtype=np.uint32) if valid is None else np.asarray(valid, dtype=np.uint32)
    words = np.empty((len(t), 2), dtype="<u4")
    words[:, 0] = (x << 17) | (y << 2) | (p << 1) | valid
    words[:, 1] = (t & 0x7FFFFFFF).astype(np.uint32)
    overflow = t >> 31
    packets = []
    start = 0
    while start < len(t):
        end = min(start + per_packet, len(t))
        same = np.nonzero(overflow[start:end] != overflow[start])[0]
        if len(same):
            end = start + int(same[0])
        packets.append(
            aedat3_packet(1, words[start:end].tobytes(), event_size=8, capacity=end - start, overflow=int(overflow[start]))
        )
        start = end
    return packets


def special_packet(count: int, t0: int) -> bytes:
    """A type-0 (special event) packet, which readers of polarity events skip."""
    words = np.empty((count, 2), dtype="<u4")
    words[:, 0] = 0x2 << 1 | 1
    words[:, 1] = t0 + np.arange(count)
    return aedat3_packet(0, words.tobytes(), event_size=8, capacity=count)


def frame_like_packet(t0: int, event_size: int = 40) -> bytes:
    """A packet of another type with a different event size (skipped by its declared length; an
    odd size moves the packets after it off 4-byte alignment)."""
    payload = struct.pack("<i", t0) + bytes(range(event_size - 4))
    return aedat3_packet(2, payload, event_size=event_size, capacity=1, ts_offset=0)


def aedat3_bytes(packets: list[bytes], header=GESTURE_HEADER, newline="\r\n") -> bytes:
    return "".join(line + newline for line in header).encode("latin-1") + b"".join(packets)


# Synthetic recordings -------------------------------------------------------------------------


def random_events(rng: np.random.Generator, n: int, t_start: int, t_end: int, size: int = 128):
    t = np.sort(rng.integers(t_start, t_end, size=n, dtype=np.int64))
    x = rng.integers(0, size, size=n)
    y = rng.integers(0, size, size=n)
    p = rng.integers(0, 2, size=n)
    return t, x, y, p


def cifar10dvs_tree(
    root: Path,
    *,
    numbers=(0, 1, 2, 10, 11, 100, 101),
    events=(200, 2000),
    seed: int = 0,
    extra_files: dict | None = None,
    as_zip: bool = True,
) -> Path:
    """``<class>.zip`` archives holding ``<class>/cifar10_<class>_<n>.aedat`` (or extracted folders).

    Edge cases: one recording with an LF-only header, one with no events, address bits above 15
    set (ignored by the layout), timestamps up to 2**32 - 1. ``extra_files`` maps a relative
    path to bytes added to the tree (e.g. a real recording).
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, bytes]] = {}
    for label, name in enumerate(CIFAR10DVS_CLASSES):
        members = files.setdefault(name, {})
        for index, number in enumerate(numbers):
            n = 0 if (label, index) == (3, 2) else int(rng.integers(*events))
            start = int(rng.integers(0, 1 << 20)) if label != 9 else (1 << 32) - 5_000_000
            t, x, y, p = random_events(rng, n, start, start + 1_300_000)
            high = rng.integers(0, 0x22, size=n) if label == 5 else 0
            header = CIFAR_HEADER
            newline = "\n" if (label, index) == (1, 1) else "\r\n"
            members[f"{name}/cifar10_{name}_{number}.aedat"] = aedat2_bytes(dvs128_address(x, y, p, high), t, header, newline)
    for relpath, data in (extra_files or {}).items():
        files[relpath.split("/")[0]][relpath] = data
    for name, members in files.items():
        if as_zip:
            with zipfile.ZipFile(root / f"{name}.zip", "w", compression=zipfile.ZIP_STORED) as archive:
                for relpath in sorted(members):
                    info = zipfile.ZipInfo(relpath, date_time=(2017, 1, 1, 0, 0, 0))
                    archive.writestr(info, members[relpath])
        else:
            for relpath, data in members.items():
                (root / relpath).parent.mkdir(parents=True, exist_ok=True)
                (root / relpath).write_bytes(data)
    return root


# label rows of the synthetic trials: (class, start, end); edge cases named
GESTURE_TRIALS = {
    "user01_fluorescent": (
        "train",
        [
            (1, 1_000_000, 1_400_000),
            (2, 1_500_000, 1_900_000),
            (8, 2_000_000, 2_300_000),
            (8, 2_300_000, 2_600_000),
            (10, 2_700_000, 3_000_000),
            (11, 3_100_000, 3_400_000),
            (3, 3_500_000, 3_800_000),
        ],
    ),
    # overlapping rows (an event belongs to two samples) and an empty row (start == end)
    "user02_led": (
        "train",
        [
            (4, 500_000, 900_000),
            (5, 800_000, 1_200_000),
            (6, 1_300_000, 1_300_000),
            (7, 5_000_000, 5_100_000),
            (9, 1_400_000, 1_800_000),
        ],
    ),
    # absolute timestamps across 2**31 µs: packets with timestamp overflow 0 and 1; every class
    # (SpikingJelly's folder dataset needs each class folder non-empty)
    "user24_lab": ("test", [(c, 2_147_000_000 + 100_000 * c, 2_147_080_000 + 100_000 * c) for c in range(1, 12)]),
}


def gesture_recording(
    rng: np.random.Generator, rows, *, rate_per_ms: float = 2, variant: int = 0, newline: str = "\r\n"
) -> bytes:
    """An AEDAT 3.1 recording spanning the label rows (plus margins) with special and other
    packets interleaved and some events not marked valid; ``variant`` 1 adds odd header lines.
    (SpikingJelly's reader needs CRLF header lines: with LF-only ones it misreads the data.)"""
    starts = [start for _c, start, _e in rows]
    ends = [end for _c, _s, end in rows]
    t0, t1 = min(starts) - 200_000, max(ends) + 200_000
    n = max(1, int((t1 - t0) / 1000 * rate_per_ms))
    t, x, y, p = random_events(rng, int(n), t0, t1)
    valid = (rng.random(len(t)) > 0.01).astype(np.uint32)
    packets = polarity_packets(x, y, p, t, valid=valid, per_packet=int(rng.integers(300, 900)))
    mixed = []
    for index, packet in enumerate(packets):
        mixed.append(packet)
        if index % 3 == 1:
            mixed.append(special_packet(3, t0 & 0x7FFFFFFF))
        if index % 5 == 2:
            mixed.append(frame_like_packet(t0 & 0x7FFFFFFF))
    header = (
        GESTURE_HEADER if variant == 0 else GESTURE_HEADER[:2] + ("#-Source 1: odd line; with : colons", "#") + GESTURE_HEADER[2:]
    )
    return aedat3_bytes(mixed, header, newline)


def read_label_rows(data: bytes) -> list[tuple[int, int, int]]:
    """The rows of a real ``*_labels.csv`` (header line skipped, blank lines ignored)."""
    lines = data.decode().splitlines()[1:]
    return [tuple(int(v) for v in line.split(",")) for line in lines if line.strip()]


def labels_csv(rows) -> bytes:
    return ("class,startTime_usec,endTime_usec\n" + "".join(f"{c},{s},{e}\n" for c, s, e in rows) + "\n").encode()


def gesture_tree(root: Path, *, trials: dict | None = None, seed: int = 0, as_tar: bool = True, rate_per_ms: float = 2) -> Path:
    """DVS128 Gesture as distributed: ``DvsGesture.tar.gz`` (folder ``DvsGesture/`` with the
    recordings, ``*_labels.csv`` and the trial lists) beside ``gesture_mapping.csv``; or the
    extracted ``DvsGesture/`` folder. ``trials`` maps trial -> (split, rows) or (split, rows, csv bytes)."""
    rng = np.random.default_rng(seed)
    trials = GESTURE_TRIALS if trials is None else trials
    members: dict[str, bytes] = {}
    lists = {"train": [], "test": []}
    for variant, (trial, spec) in enumerate(trials.items()):
        split, rows = spec[0], spec[1]
        members[f"DvsGesture/{trial}.aedat"] = gesture_recording(rng, rows, rate_per_ms=rate_per_ms, variant=variant % 2)
        members[f"DvsGesture/{trial}_labels.csv"] = spec[2] if len(spec) > 2 else labels_csv(rows)
        lists[split].append(f"{trial}.aedat")
    for split, names in lists.items():
        members[f"DvsGesture/trials_to_{split}.txt"] = ("\n".join(names) + "\n\n").encode()
    root.mkdir(parents=True, exist_ok=True)
    mapping = ("action,label\n" + "".join(f"{name},{i + 1}\n" for i, name in enumerate(GESTURE_NAMES))).encode()
    (root / "gesture_mapping.csv").write_bytes(mapping)
    if as_tar:
        with tarfile.open(root / "DvsGesture.tar.gz", "w:gz", format=tarfile.USTAR_FORMAT) as archive:
            for relpath in sorted(members):
                info = tarfile.TarInfo(relpath)
                info.size = len(members[relpath])
                info.mtime = 0
                archive.addfile(info, io.BytesIO(members[relpath]))
    else:
        for relpath, data in members.items():
            (root / relpath).parent.mkdir(parents=True, exist_ok=True)
            (root / relpath).write_bytes(data)
    return root


# AEDAT 4.0 ------------------------------------------------------------------------------------
# The flatbuffers are laid out by hand after the schemas (ioheader.fbs, events.fbs of iniVation
# DV): little-endian, uoffsets relative to where they are stored, vectors of 16-byte Event structs
# (i64 t, i16 x, i16 y, bool on, 3 bytes padding) 8-aligned within the size-prefixed buffer.

AEDAT4_COMPRESSION = {"none": 0, "zstd": 3}


def aedat4_description(streams: dict[int, tuple[str, int, int]]) -> str:
    """DV's XML stream description: stream id -> (type identifier, width, height)."""
    nodes = []
    for stream_id, (identifier, width, height) in streams.items():
        path = f"/mainloop/Recorder/outInfo/{stream_id}/"
        nodes.append(
            f'<node name="{stream_id}" path="{path}"><attr key="typeIdentifier" type="string">{identifier}</attr>'
            f'<node name="info" path="{path}info/"><attr key="sizeX" type="int">{width}</attr>'
            f'<attr key="sizeY" type="int">{height}</attr></node></node>'
        )
    return f'<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">{"".join(nodes)}</node></dv>'


def aedat4_ioheader(compression: int, table_position: int, description: str) -> bytes:
    text = description.encode() + b"\0"
    body = struct.pack("<I4s", 24, b"IOHE")  # root table at 24
    body += struct.pack("<HHHHH", 10, 24, 4, 16, 8) + b"\0" * 6  # vtable at 8: compression, position, description
    body += struct.pack("<iiIiq", 24 - 8, compression, 48 - 32, 0, table_position)  # table at 24
    body += struct.pack("<I", len(text) - 1) + text
    return struct.pack("<I", len(body)) + body


def aedat4_event_packet(t, x, y, p) -> bytes:
    """A size-prefixed EventPacket flatbuffer (file identifier EVTS)."""
    events = np.zeros(len(t), dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("pad", "V3")])
    events["t"], events["x"], events["y"], events["on"] = t, x, y, p
    body = struct.pack("<I4s", 16, b"EVTS")  # root table at 16
    body += struct.pack("<HHH", 6, 8, 4) + b"\0\0"  # vtable at 8: elements at table + 4
    body += struct.pack("<iI", 16 - 8, 24 - 20)  # table at 16; the vector at 24
    body += struct.pack("<I", len(t)) + events.tobytes()
    return struct.pack("<I", len(body)) + body


def aedat4_bytes(
    streams: dict[int, tuple[str, int, int]],
    packets: list[tuple[int, tuple]],
    *,
    compression: str = "none",
    table: bytes | None = None,
) -> bytes:
    """A file: magic, IOHeader, packets (stream id, (t, x, y, p)) and, when given, ``table``
    bytes standing for the packet table (its position goes in the IOHeader)."""
    payloads = []
    for stream_id, events in packets:
        data = aedat4_event_packet(*events)
        if compression == "zstd":
            import zstandard

            data = zstandard.ZstdCompressor().compress(data)
        payloads.append(struct.pack("<ii", stream_id, len(data)) + data)
    description = aedat4_description(streams)
    head = b"#!AER-DAT4.0\r\n" + aedat4_ioheader(AEDAT4_COMPRESSION[compression], -1, description)
    if table is not None:
        position = len(head) + sum(map(len, payloads))
        head = b"#!AER-DAT4.0\r\n" + aedat4_ioheader(AEDAT4_COMPRESSION[compression], position, description)
    return head + b"".join(payloads) + (table or b"")
