"""Sample keys: how a recording's path inside its dataset becomes the key of its sample.

The writer names samples with it and readers (``streams.datasets``) map published file names to
keys with it, so it lives with the format.
"""

from __future__ import annotations

import re

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def key_from_path(relpath: str, *, drop: int = 0) -> str:
    """A stable, dot-free sample key from a path inside the dataset: ``Train/3/00012.bin`` ->
    ``Train_3_00012``; ``drop`` leading path components are left out."""
    parts = relpath.split("/")[drop:]
    parts[-1] = parts[-1].rsplit(".", 1)[0] if "." in parts[-1] else parts[-1]
    return _KEY_UNSAFE.sub("_", "_".join(parts))
