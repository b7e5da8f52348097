"""Per-listener Bloom filters of heard tracks: the SQL build (serving_bloom_filters,
serving_bloom_filter_words) against its Python twin (tunesday.bloom), and the filters' quality."""

import math
import random

import pytest

from tunesday.bloom import (
    MAX_HASH_COUNT,
    BloomFilter,
    bit_positions,
    bloom_parameters,
    cubic_offset,
    expected_false_positive_rate,
    filter_words,
    to_signed_int64,
    track_hashes,
)
from tunesday.warehouse import connect as connect_warehouse

TARGET = 0.01
TOLERANCE = 0.2  # the measured rate must be within 20 % of the target
MIN_PROBES = 200_000


# --- the warehouse's filters --------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(warehouse):
    """Everything the filters were built from and what they hold, read back from DuckDB."""
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        filters = {
            user_id: {"n": n, "m": m, "k": k, "word_count": words, "target": target, "expected": expected}
            for user_id, n, m, k, words, target, expected in con.execute("""
                select user_id, item_count, bit_count, hash_count, word_count,
                       target_false_positive_rate, expected_false_positive_rate
                from serving_bloom_filters
            """).fetchall()
        }
        words: dict[str, dict[int, int]] = {}
        for user_id, word_index, word in con.execute(
            "select user_id, word_index, word from serving_bloom_filter_words"
        ).fetchall():
            words.setdefault(user_id, {})[word_index] = word
        heard: dict[str, set[str]] = {}
        for user_id, track_id in con.execute("select user_id, track_id from int_user_heard_tracks").fetchall():
            heard.setdefault(user_id, set()).add(track_id)
        catalog = [t for (t,) in con.execute("select track_id from dim_tracks order by track_id").fetchall()]
    return {"filters": filters, "words": words, "heard": heard, "catalog": catalog}


def listener_filter(built, user_id) -> BloomFilter:
    spec = built["filters"][user_id]
    return BloomFilter(spec["m"], spec["k"], built["words"].get(user_id, {}))


def test_every_listener_who_heard_something_has_a_filter_of_their_tracks(built):
    assert len(built["heard"]) > 100
    assert set(built["filters"]) == set(built["heard"])
    for user_id, tracks in built["heard"].items():
        assert built["filters"][user_id]["n"] == len(tracks), user_id
    assert set(built["words"]) <= set(built["filters"])


def test_no_false_negatives(built):
    """Every heard (listener, track) is in the listener's filter as read back from the words."""
    checked = 0
    missing = []
    for user_id, tracks in built["heard"].items():
        heard_filter = listener_filter(built, user_id)
        for track_id in tracks:
            checked += 1
            if not heard_filter.might_contain(track_id):
                missing.append((user_id, track_id))
    assert checked > 5000
    assert not missing, f"{len(missing)} false negatives, e.g. {missing[:5]}"


def test_python_sizes_and_sets_exactly_the_bits_sql_set(built):
    """bloom_parameters gives every listener's (m, k), and bit_positions rebuilds their words
    bit for bit, including the sign bit."""
    sizes = set()
    negative_words = 0
    for user_id, spec in built["filters"].items():
        assert bloom_parameters(spec["n"], spec["target"]) == (spec["m"], spec["k"]), (user_id, spec)
        assert spec["word_count"] == math.ceil(spec["m"] / 64)
        assert spec["expected"] == pytest.approx(
            expected_false_positive_rate(spec["n"], spec["m"], spec["k"]), rel=1e-9
        )
        python_words = filter_words(sorted(built["heard"][user_id]), spec["m"], spec["k"])
        assert python_words == built["words"].get(user_id, {}), user_id
        sizes.add(spec["n"])
        negative_words += sum(word < 0 for word in python_words.values())
    assert len(sizes) > 20  # many different (m, k), not one case repeated
    assert negative_words > 100  # the sign bit is exercised


def test_measured_false_positive_rate_is_near_the_target(built):
    """Probe every listener's filter with every catalog track they have not heard."""
    targets = {spec["target"] for spec in built["filters"].values()}
    assert targets == {TARGET}
    probes = false_positives = 0
    for user_id in sorted(built["filters"]):
        heard_filter = listener_filter(built, user_id)
        heard = built["heard"][user_id]
        for track_id in built["catalog"]:
            if track_id not in heard:
                probes += 1
                false_positives += heard_filter.might_contain(track_id)
    rate = false_positives / probes
    print(f"bloom filters: {false_positives} false positives in {probes} probes = {rate:.5f} (target {TARGET})")
    assert probes >= MIN_PROBES
    assert TARGET * (1 - TOLERANCE) <= rate <= TARGET * (1 + TOLERANCE), rate


# --- the Python module on its own ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "p", "m", "k"),
    [
        (1, 0.01, 10, 7),  # 9.585 bits -> 10 (not rounded up to a word), 10 ln 2 = 6.93 -> 7
        (10, 0.01, 96, 7),  # 95.85 -> 96, 6.65 -> 7
        (1000, 0.01, 9586, 7),  # 9585.06 -> 9586
        (1, 0.9, 1, 1),  # 0.22 bits -> at least 1; k at least 1
        (3, 0.5, 5, 1),  # 4.33 -> 5, 5/3 ln 2 = 1.16 -> 1
        (100, 0.001, 1438, 10),  # 1437.76 -> 1438, 9.97 -> 10
        (100, 1e-9, 4314, 16),  # k would be 30: capped
    ],
)
def test_bloom_parameters_by_hand(n, p, m, k):
    assert bloom_parameters(n, p) == (m, k)


def test_bloom_parameters_reject_nonsense():
    for n, p in [(0, 0.01), (10, 0.0), (10, 1.0), (10, -0.1)]:
        with pytest.raises(ValueError):
            bloom_parameters(n, p)


def test_bit_positions_are_k_deterministic_bits_inside_the_filter():
    assert [cubic_offset(i) for i in range(6)] == [0, 0, 1, 4, 10, 20]
    for m in (1, 2, 7, 64, 65, 1000, 123_457):
        for k in (1, 7, MAX_HASH_COUNT):
            for track_id in ("t1", "track-ü", ""):
                bits = bit_positions(track_id, m, k)
                assert len(bits) == k
                assert all(0 <= b < m for b in bits)
                assert bits == bit_positions(track_id, m, k)
    assert bit_positions("anything", 1, 3) == [0, 0, 0]
    with pytest.raises(ValueError):
        bit_positions("t1", 0, 3)
    with pytest.raises(ValueError):
        bit_positions("t1", 100, MAX_HASH_COUNT + 1)


def test_words_are_signed_int64_with_bit_63_as_the_sign():
    assert to_signed_int64(1 << 63) == -(1 << 63)
    assert to_signed_int64((1 << 64) - 1) == -1
    assert to_signed_int64(5) == 5
    sign_only = BloomFilter(64, 1, {0: -(1 << 63)})
    assert sign_only.words == {0: -(1 << 63)}
    track = next(t for t in (f"x{i}" for i in range(10_000)) if bit_positions(t, 64, 1) == [63])
    assert track in sign_only
    with pytest.raises(ValueError):
        BloomFilter(64, 1, {0: 1 << 63})  # not a signed int64
    with pytest.raises(ValueError):
        BloomFilter(64, 1, {1: 1})  # word beyond the filter


def test_made_up_sets_have_no_false_negatives_and_the_target_rate():
    rng = random.Random(20261101)
    probes = false_positives = 0
    for set_number in range(400):
        size = rng.randint(1, 300)
        items = {f"set{set_number}-item{rng.randrange(10**9)}" for _ in range(size)}
        heard = BloomFilter.from_items(items, TARGET)
        assert (heard.bit_count, heard.hash_count) == bloom_parameters(len(items), TARGET)
        assert all(heard.might_contain(item) for item in items)
        assert heard.words == filter_words(items, heard.bit_count, heard.hash_count)
        assert BloomFilter(heard.bit_count, heard.hash_count, heard.words).words == heard.words
        for probe in range(600):
            probes += 1
            false_positives += heard.might_contain(f"set{set_number}-probe{probe}")
    rate = false_positives / probes
    assert probes >= MIN_PROBES
    assert TARGET * (1 - TOLERANCE) <= rate <= TARGET * (1 + TOLERANCE), rate


def test_an_empty_filter_contains_nothing_and_a_one_bit_filter_everything():
    assert not BloomFilter(100, 7, {}).might_contain("t1")
    assert BloomFilter(1, 1, {0: 1}).might_contain("t1")


def test_first_absent_is_might_contain_in_a_loop():
    """The serving shim's tight loop answers exactly what might_contain answers, in order, up to
    the limit; and a filter rebuilt from its bytes is the same filter."""
    heard = BloomFilter.from_items([f"t{i}" for i in range(0, 400, 2)], TARGET)
    assert BloomFilter.from_bytes(heard.bit_count, heard.hash_count, heard.to_bytes()).words == heard.words
    candidates = [f"t{i}" for i in range(400)]
    absent = [index for index, track_id in enumerate(candidates) if not heard.might_contain(track_id)]
    hashes = [track_hashes(track_id) for track_id in candidates]
    assert len(absent) >= 190  # the odd ones, less the false positives
    for limit in (0, 1, 7, len(absent), len(absent) + 5):
        assert heard.first_absent(hashes, limit) == absent[:limit]
    with pytest.raises(ValueError):
        BloomFilter.from_bytes(heard.bit_count, heard.hash_count, heard.to_bytes()[:-1])
