"""String ids built from integers without going through Python strings.

Every id is a prefix and a zero-padded number ("trk_0000012345"). Real entities use small
numbers; ids that must not exist anywhere (the "unknown" ids of injected bad rows) use numbers
from UNKNOWN_BASE up, which no real entity reaches.
"""

import numpy as np
import pyarrow as pa

USER = ("usr_", 10)
TRACK = ("trk_", 10)
ARTIST = ("art_", 10)
ALBUM = ("alb_", 10)
PLAYLIST = ("pl_", 11)  # owner's user number * 10 + the owner's playlist number
EVENT = ("ev_", 13)  # chunk * EVENTS_PER_CHUNK_LIMIT + row number within the chunk

EVENTS_PER_CHUNK_LIMIT = 10**8
PLAYLISTS_PER_USER_LIMIT = 10
UNKNOWN_BASE = 9 * 10**9
UNKNOWN_PER_STREAM = 10**5


def format_ids(kind: tuple[str, int], numbers: np.ndarray) -> pa.StringArray:
    """Render non-negative integers as fixed-width ids, writing the digits straight into the buffer."""
    prefix, width = kind
    prefix_bytes = np.frombuffer(prefix.encode(), dtype=np.uint8)
    n = len(numbers)
    row = len(prefix_bytes) + width
    buf = np.empty((n, row), dtype=np.uint8)
    buf[:, : len(prefix_bytes)] = prefix_bytes
    rest = np.asarray(numbers, dtype=np.int64).copy()
    if n and (rest.min() < 0 or rest.max() >= 10**width):
        raise ValueError(f"{prefix} ids need numbers in [0, 10**{width})")
    if (n + 1) * row >= 2**31:
        raise ValueError("too many ids for one string array")
    for col in range(row - 1, len(prefix_bytes) - 1, -1):
        buf[:, col] = 48 + rest % 10
        rest //= 10
    offsets = np.arange(0, (n + 1) * row, row, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))


def unknown_base(stream: int) -> int:
    """First number of ids that exist nowhere; each stream (the catalogue, a chunk) gets
    UNKNOWN_PER_STREAM of them."""
    return UNKNOWN_BASE + stream * UNKNOWN_PER_STREAM
