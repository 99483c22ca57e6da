"""Imported by the shard writer's fork server, so that the workers forked from it start warm.

numba's first kernel call in a process sets up its compiler and target (about half a second);
done once here, every worker inherits it instead of paying it again, and inherits this kernel's
compiled code too.
"""

import numpy as np

from .aedat3 import _scan_packets

_scan_packets(np.empty(0, np.uint8), 0)
