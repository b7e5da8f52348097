"""The portable 64-bit hash: identical in Python, on DuckDB and on BigQuery (macro `hash64`).

The first 8 bytes of the MD5 of the UTF-8 string, read big-endian as a signed 64-bit integer.
"""

import hashlib


def hash64(text: str) -> int:
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:8], "big", signed=True)
