"""The portable hash in Python agrees with the seed the SQL macro is tested against."""

import csv
import hashlib

from conftest import PROJECT_DIR

from tunesday.hashing import hash64


def test_hash64_is_the_first_eight_md5_bytes_signed_big_endian():
    digest = hashlib.md5(b"hello").hexdigest()  # 5d41402abc4b2a76...
    assert digest.startswith("5d41402abc4b2a76")
    assert hash64("hello") == int("5d41402abc4b2a76", 16)
    # the high bit set gives a negative key (two's complement)
    negative = next(s for s in (f"probe-{i}" for i in range(100)) if hashlib.md5(s.encode()).digest()[0] >= 0x80)
    assert hash64(negative) == int(hashlib.md5(negative.encode()).hexdigest()[:16], 16) - 2**64


def test_macro_seed_matches_python():
    with open(PROJECT_DIR / "seeds" / "macro_tests" / "hash64_expected.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 40
    assert any(int(r["expected_hash64"]) < 0 for r in rows if r["expected_hash64"])
    for row in rows:
        if row["input_string"]:
            assert hash64(row["input_string"]) == int(row["expected_hash64"]), row
        else:
            assert row["expected_hash64"] == ""
