"""The raw readers' error: defined with every other error of the project in ``neuroshards.errors``."""

from neuroshards.errors import FormatError

__all__ = ["FormatError"]
