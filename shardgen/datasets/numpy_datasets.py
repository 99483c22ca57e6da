"""Datasets distributed as NumPy files: DVS-Lip, HARDVS, Bullying10K, ES-ImageNet, POKER-DVS.

Events, labels and splits as SpikingJelly 2.0 reads them (Tonic 1.7 for POKER-DVS); where those
depend on the file system's listing order, a sorted order is used instead and docs/datasets/containers.md says how
the two relate.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from neuroshards.events import Events

from ..formats import FormatError, concatenate, guarded, open_reader
from ..formats.columns import canonical_events
from ..formats.containers import load_npy, load_npz
from .base import DatasetAdapter, FileTask, Plan, RawFile, RawInputError, class_folder_tasks, matching
from .registry import register


@guarded("npy")
def read_numpy_events(file: RawFile) -> Events:
    """t, x, y, p of a ``.npy``/``.npz`` in a layout the generic NumPy reader knows: a structured
    array (DVS-Lip), arrays t, x, y, p in an ``.npz`` (HARDVS; other arrays are ignored, as
    SpikingJelly ignores them) or ``[N, 4]`` columns t, x, y, p (POKER-DVS, Tonic's order)."""
    with io.BytesIO(file.read_bytes()) as stream:
        return concatenate(open_reader(stream, "npy", source=file.location).chunks())


@guarded("bullying10k npy")
def read_packet_npy(file: RawFile, *, allow_pickle: bool) -> Events:
    """A ``.npy`` of event packets (Bullying10K: ``np.save`` of dv's per-packet structured arrays).

    Ragged packets make an object array (a pickle); equal-length packets a 2-D structured array.
    As SpikingJelly does, the packets are concatenated in order and fields 0-3 are t, x, y, p.
    """
    array = load_npy(file.read_bytes(), source=file.location, allow_pickle=allow_pickle)
    if array.dtype == object:
        packets = [np.asarray(packet) for packet in array.reshape(-1)]
        if not packets:
            return canonical_events(
                {name: np.zeros(0, np.int64) for name in "txyp"}, time_unit="us", source=file.location, where="packets"
            )
        names = packets[0].dtype.names
        if names and len(names) >= 4 and all(packet.dtype == packets[0].dtype for packet in packets):
            # Field by field: joining structured arrays whole is some 40x slower in NumPy.
            columns = [np.concatenate([packet[name].reshape(-1) for packet in packets]) for name in names[:4]]
            return canonical_events(dict(zip("txyp", columns)), time_unit="us", source=file.location, where="packets")
        try:
            array = np.concatenate(packets)
        except (TypeError, ValueError) as error:  # NumPy raises either, by how the layouts differ
            raise FormatError(file.location, None, f"packets do not share one layout ({error})") from None
    if array.dtype.names:
        if len(array.dtype.names) < 4:
            raise FormatError(file.location, None, f"packets have {len(array.dtype.names)} fields, need t, x, y, p first")
        flat = array.reshape(-1)
        columns = [flat[name] for name in array.dtype.names[:4]]
    else:
        if array.ndim < 2:
            raise FormatError(file.location, None, f"expected packets of events, got an array of shape {array.shape}")
        flat = array.reshape(-1, array.shape[-1])
        if flat.shape[1] < 4:
            raise FormatError(file.location, None, f"packets have {flat.shape[1]} columns, need t, x, y, p first")
        columns = [flat[:, i] for i in range(4)]
    return canonical_events(dict(zip("txyp", columns)), time_unit="us", source=file.location, where="packets")


@guarded("esimagenet npz")
def read_es_imagenet_npz(file: RawFile) -> Events:
    """ES-ImageNet ``pos``/``neg`` ``[N, 3]`` arrays of (y, x, t): p = 1 for pos, 0 for neg.

    SpikingJelly sorts the stacked pos + neg events by t with NumPy's default (unstable) argsort,
    whose order among equal timestamps depends on the NumPy build and CPU; a stable sort keeps
    pos before neg and file order among equal timestamps, the same on every machine.
    """
    arrays = load_npz(file.read_bytes(), source=file.location, names=("pos", "neg"))
    for name, array in arrays.items():
        if array.ndim != 2 or array.shape[1] < 3:
            raise FormatError(file.location, None, f"{name!r} has shape {array.shape}, expected [N, 3] of (y, x, t)")
    stacked = (
        np.concatenate([arrays["pos"][:, :3], arrays["neg"][:, :3]])
        if len(arrays["pos"]) + len(arrays["neg"])
        else np.zeros((0, 3))
    )
    p = np.concatenate([np.ones(len(arrays["pos"]), np.int64), np.zeros(len(arrays["neg"]), np.int64)])
    columns = {"t": stacked[:, 2], "x": stacked[:, 1], "y": stacked[:, 0], "p": p}
    events = canonical_events(columns, time_unit="us", source=file.location, where="pos and neg")
    order = np.argsort(events["t"], kind="stable")
    return {name: values[order] for name, values in events.items()}


@register
class DVSLip(DatasetAdapter):
    name = "dvslip"
    title = "DVS-Lip"
    sensor_size = (128, 128, 2)
    homepage = "https://sites.google.com/view/event-based-lipreading"
    resources = (("DVS-Lip.zip", homepage, "2dcb959255122d4cdeb6094ca282494b"),)
    _pattern = re.compile(r"(?:^|/)(train|test)/([^/]+)/[^/]+\.npy$")

    def plan(self, raw: str | Path) -> Plan:
        found = [
            (match.group(1), match.group(2), relpath, file) for match, relpath, file in matching(self.scan(raw), self._pattern)
        ]
        if not found:
            raise self.missing(raw, "DVS-Lip/{train,test}/<word>/*.npy (or DVS-Lip.zip)")
        # SpikingJelly: one DatasetFolder per split; both splits hold every word.
        classes, tasks = class_folder_tasks(found, read_numpy_events)
        return Plan(classes=classes, tasks=tasks, extra={"label_rule": "index of the word folder in sorted order"})


@register
class HARDVS(DatasetAdapter):
    name = "hardvs"
    title = "HARDVS (MINI-HARDVS files)"
    sensor_size = (346, 260, 2)
    homepage = "https://github.com/Event-AHU/HARDVS"
    resources = (
        ("MINI_HARDVS_files.zip", homepage, "9c4cc0d9ba043faa17f6f1a9e9aff982"),
        ("test_label.txt", homepage, "5b664af5843f9b476a9c22626f7f5a59"),
        ("train_label.txt", homepage, "0d642b6e6871034f151b2649a89d8d3c"),
        ("val_label.txt", homepage, "cd2cebcba80e4552102bbacf2b5df812"),
    )
    open_every_archive = True  # the action_XXX.zip inside MINI_HARDVS_files.zip
    splits = ("train", "val", "test")
    classes = [f"action_{index:03d}" for index in range(1, 301)]
    _action = re.compile(r"^action_\d{3}$")

    def plan(self, raw: str | Path) -> Plan:
        files = self.scan(raw)
        samples: dict[str, RawFile] = {}
        lists: dict[str, RawFile] = {}
        for file in files:
            if file.name in {f"{split}_label.txt" for split in self.splits}:
                lists[file.name.split("_")[0]] = file
            elif file.name.endswith(".npz"):
                action = self._action_of(file)
                if action:
                    samples[f"{action}/{file.name[:-4]}"] = file
        if not samples:
            if any(Path(file.disk_path).name == "MINI_HARDVS_files.zip" for file in files):
                raise RawInputError(
                    f"{raw}: MINI_HARDVS_files.zip holds one zip per class; extract it once "
                    "(unzip MINI_HARDVS_files.zip) and pass the folder: the action_*.zip are read in place"
                )
            raise self.missing(raw, "action_XXX/*.npz or action_XXX.zip")
        label_of = {name: index for index, name in enumerate(self.classes)}
        tasks = []
        for split in self.splits:
            if split not in lists:
                raise self.missing(raw, f"{split}_label.txt")
            for line_number, entry in _hardvs_list(lists[split]):
                file = samples.get(entry)
                if file is None:
                    raise RawInputError(f"{lists[split].location} line {line_number}: sample {entry!r} not found under {raw}")
                action = entry.split("/")[0]
                tasks.append(FileTask.from_path(file, f"{split}/{entry}", label_of[action], split, read_numpy_events))
        return Plan(
            classes=list(self.classes),
            tasks=tasks,
            extra={"label_rule": "action_NNN -> NNN - 1; splits from {train,val,test}_label.txt"},
        )

    def _action_of(self, file: RawFile) -> str | None:
        parts = PurePosixPath(file.relpath).parts
        if len(parts) >= 2 and self._action.match(parts[-2]):
            return parts[-2]
        if file.member is not None:  # action_XXX.zip read in place, npz at its top level
            stem = Path(file.disk_path).name.removesuffix(".zip")
            if self._action.match(stem):
                return stem
        return None


def _hardvs_list(file: RawFile) -> list[tuple[int, str]]:
    """(line number, "action_XXX/name") of a HARDVS list, read as SpikingJelly does (first space-separated word)."""
    entries = []
    for number, line in enumerate(file.read_bytes().decode().splitlines(keepends=True), start=1):
        if len(line) <= 1:
            continue
        entry = line.split(" ")[0].strip()
        if entry.count("/") != 1:
            raise RawInputError(f"{file.location} line {number}: expected 'action_XXX/<sample> <label>', got {line.strip()!r}")
        entries.append((number, entry))
    return entries


BULLYING10K_CLASSES = [
    "handshake",
    "slapping",
    "punching",
    "walking",
    "fingerguess",
    "strangling",
    "greeting",
    "pushing",
    "hairgrabs",
    "kicking",
]


def walk_order(relpath: str) -> tuple:
    """Sort key of ``os.walk`` with sorted listings: a folder's files before its subfolders."""
    parts = relpath.split("/")
    return tuple((1, part) for part in parts[:-1]) + ((0, parts[-1]),)


@register
class Bullying10K(DatasetAdapter):
    name = "bullying10k"
    title = "Bullying10K"
    sensor_size = (346, 260, 2)
    homepage = "https://figshare.com/articles/dataset/Bullying10k/19160663"
    can_download = True
    resources = tuple(
        (f"{name}.zip", f"https://figshare.com/ndownloader/files/{file_id}", md5)
        for name, file_id, md5 in (
            ("handshake", 41268834, "681d70f499e736a1e805305284ddc425"),
            ("slapping", 41247021, "84b41d6805958f9f62f425223916ffc2"),
            ("punching", 41263314, "40954f480ab210099d448b7b88fc4719"),
            ("walking", 41247024, "56e4cac9c0814ce701c3b2292c15b6a9"),
            ("fingerguess", 41253057, "f83114e5b4f0ea57cac86fb080c7e4d7"),
            ("strangling", 41261904, "8185ecd6f3147e9b609d22f06270aa86"),
            ("greeting", 41268792, "4a763fad728b04c8356db8544f1121fe"),
            ("pushing", 41268951, "7986c74ade7149a98672120a89b13ba8"),
            ("hairgrabs", 41277855, "a9cf690ed0a3305da4a4b8e110f64db1"),
            ("kicking", 41278008, "6c3218f977de4ac29c84a10b17779c33"),
        )
    )
    test_every = 5
    _pattern = re.compile(r"(?:^|/)(" + "|".join(BULLYING10K_CLASSES) + r")/(.+\.npy)$")

    def __init__(self, allow_pickle: bool = False):
        self.allow_pickle = bool(allow_pickle)
        self.options: dict[str, Any] = {"allow_pickle": self.allow_pickle}

    @classmethod
    def add_arguments(cls, parser) -> None:
        parser.add_argument(
            "--allow-pickle",
            action="store_true",
            help="unpickle the .npy packet arrays (unpickling runs code stored in the file: use only on the published files)",
        )

    @classmethod
    def options_from_arguments(cls, args) -> dict[str, Any]:
        return {"allow_pickle": args.allow_pickle}

    def require_pickle_consent(self, raw: str | Path) -> None:
        if not self.allow_pickle:
            raise RawInputError(
                f"{raw}: Bullying10K stores its events as pickled NumPy object arrays, and unpickling runs code "
                "stored in the file. Convert only the files you downloaded from the publisher, and opt in with "
                "--allow-pickle (Python: allow_pickle=True)."
            )

    def verify(self, raw: str | Path) -> list[str]:
        self.require_pickle_consent(raw)  # before hours of MD5 work
        return super().verify(raw)

    def plan(self, raw: str | Path) -> Plan:
        self.require_pickle_consent(raw)
        found = [(match.group(1), match.group(2), file) for match, _, file in matching(self.scan(raw), self._pattern)]
        if not found:
            raise self.missing(raw, "<class>/**/*.npy (or <class>.zip)")
        # SpikingJelly walks the class folders and their subfolders in file-system order and puts every
        # 5th file of the combined list into the test split. The same rule on sorted listings:
        found.sort(key=lambda item: (item[0], walk_order(item[1])))
        label_of = {name: index for index, name in enumerate(BULLYING10K_CLASSES)}
        read = functools.partial(read_packet_npy, allow_pickle=True)
        tasks = [
            FileTask.from_path(
                file, f"{cls}/{relpath}", label_of[cls], "test" if position % self.test_every == 0 else "train", read
            )
            for position, (cls, relpath, file) in enumerate(found)
        ]
        return Plan(
            classes=list(BULLYING10K_CLASSES),
            tasks=tasks,
            extra={
                "label_rule": "SpikingJelly's BULLYING10K_CATEGORY_LABEL",
                "split_rule": "class folders by name, then os.walk order with sorted listings; position % 5 == 0 -> test",
            },
        )


ES_IMAGENET_URL = "https://cloud.tsinghua.edu.cn/d/94873ab4ec2a4eb497b3/"


@register
class ESImageNet(DatasetAdapter):
    name = "esimagenet"
    title = "ES-ImageNet 0.18"
    sensor_size = (256, 256, 2)
    homepage = ES_IMAGENET_URL
    can_download = True
    resources = tuple(
        (f"ES-imagenet-0.18.part{index:02d}.rar", f"{ES_IMAGENET_URL}files/?p=%2FES-imagenet-0.18.part{index:02d}.rar&dl=1", md5)
        for index, md5 in enumerate(
            (
                "900bdd57b5641f7d81cd4620283fef76",
                "5982532009e863a8f4e18e793314c54b",
                "8f408c1f5a1d4604e48d0d062a8289a0",
                "5c5b5cf0a55954eb639964e3da510097",
                "51feb661b4c9fa87860b63e76b914673",
                "fcd007a2b17b7c13f338734c53f6db31",
                "d3e74b96d9c5df15714bbc3abcd329fc",
                "65b9cf7fa63e18d2e7d92ff45a42a5e5",
                "241c9a37a83ff9efd305fe46d012211e",
                "ceee96971008e30d0cdc34086c49fd75",
                "4fbfefbe6e48758fbb72427c81f119cf",
                "c8cc163be4e5f6451201dccbded4ec24",
                "08c9dff32f6b42c49ef7cd78e37c728e",
                "43aa157dc5bd5fcea81315a46e0322cf",
                "480a69b050f465ef01efcc44ae29f7df",
                "11abd24d92b93e7f85acd63abd4a18ab",
                "3891486a6862c63a325c5f16cd01fdd1",
                "cf8bb0525b514f411bca9d7c2d681f7c",
                "3766bc35572ccacc03f0f293c571d0ae",
                "bf73a5e338644122220e41da7b5630e6",
                "564de4a2609cbb0bb67ffa1bc51f2487",
                "60a9e52db1acadfccc9a9809073f0b04",
                "373b5484826d40d7ec35f0e1605cb6ea",
                "a50612e889b20f99cc7b2725dfd72e9e",
                "0802ccdeb0cff29237faf55164524101",
            ),
            start=1,
        )
    )
    _train = re.compile(r"(?:^|/)train/([^/]+)/[^/]+\.npz$")
    _val = re.compile(r"(?:^|/)val/([^/]+\.npz)$")

    def plan(self, raw: str | Path) -> Plan:
        files = self.scan(raw)
        train = [("train", match.group(1), relpath, file) for match, relpath, file in matching(files, self._train)]
        val = {match.group(1): file for match, _, file in matching(files, self._val)}
        val_labels = next((file for file in files if file.name == "vallabel.txt"), None)
        if not train:
            if any(file.name.endswith(".rar") for file in files):
                raise RawInputError(
                    f"{raw}: the RAR parts must be extracted first (unrar x ES-imagenet-0.18.part01.rar, or "
                    "7z x / bsdtar -xf on the same file); then pass the folder holding ES-imagenet-0.18"
                )
            raise self.missing(raw, "ES-imagenet-0.18/train/<class>/*.npz")
        # SpikingJelly's labels: class folder names in string order (class0, class1, class10, ...).
        classes, tasks = class_folder_tasks(train, read_es_imagenet_npz)
        label_of = {cls: index for index, cls in enumerate(classes)}
        if val_labels is None:
            raise self.missing(raw, "ES-imagenet-0.18/vallabel.txt")
        test = []
        for number, line in enumerate(val_labels.read_bytes().decode().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split(" ")
            if len(fields) < 2 or not fields[1].strip().lstrip("-").isdigit():
                raise RawInputError(f"{val_labels.location} line {number}: expected '<file> <label>', got {line!r}")
            name, cls = fields[0], f"class{int(fields[1])}"
            if name not in val or cls not in label_of:
                missing = f"file val/{name}" if name not in val else f"class folder train/{cls}"
                raise RawInputError(f"{val_labels.location} line {number}: {missing} not found under {raw}")
            test.append((label_of[cls], name))
        test.sort()
        tasks += [FileTask.from_path(val[name], f"val/{name}", label, "test", read_es_imagenet_npz) for label, name in test]
        return Plan(
            classes=classes,
            tasks=tasks,
            extra={"label_rule": "index of the train class folder name in string order (SpikingJelly's DatasetFolder)"},
        )


POKER_DVS_CLASSES = ["cl", "he", "di", "sp"]


@register
class POKERDVS(DatasetAdapter):
    name = "pokerdvs"
    title = "POKER-DVS"
    sensor_size = (35, 35, 2)
    homepage = "http://www2.imse-cnm.csic.es/caviar/POKERDVS.html"
    resources = (
        (
            "pips_train.tar.gz",
            "https://github.com/neuromorphs/tonic/tree/develop/tonic/datasets",
            "412bcfb96826e4fcb290558e8c150aae",
        ),
        (
            "pips_test.tar.gz",
            "https://github.com/neuromorphs/tonic/tree/develop/tonic/datasets",
            "eef2bf7d0d3defae89a6fa98b07c17af",
        ),
    )
    _pattern = re.compile(r"(?:^|/)pips_(train|test)/(?:.*/)?([^/]*(" + "|".join(POKER_DVS_CLASSES) + r"))/[^/]+\.npy$")

    def plan(self, raw: str | Path) -> Plan:
        found = [
            (match.group(1), match.group(3), relpath, file) for match, relpath, file in matching(self.scan(raw), self._pattern)
        ]
        if not found:
            raise self.missing(raw, "pips_{train,test}/<..cl|he|di|sp>/*.npy (or pips_train.tar.gz, pips_test.tar.gz)")
        found.sort(key=lambda item: (item[0] != "train", item[2]))
        label_of = {name: index for index, name in enumerate(POKER_DVS_CLASSES)}
        tasks = [
            FileTask.from_path(file, relpath, label_of[suit], split, read_numpy_events) for split, suit, relpath, file in found
        ]
        return Plan(
            classes=list(POKER_DVS_CLASSES),
            tasks=tasks,
            extra={"label_rule": "Tonic's: last two letters of the folder, cl he di sp -> 0 1 2 3"},
        )
