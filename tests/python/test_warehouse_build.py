"""The staging layer on generated data with deliberately injected bad rows: nothing lost."""

import pyarrow.parquet as pq

from tunesday.contract import SCHEMAS
from tunesday.warehouse import connect as connect_warehouse


def query(warehouse, sql: str) -> list[tuple]:
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        return con.execute(sql).fetchall()


def test_every_raw_row_is_accounted_for(warehouse):
    counts = {
        row[0]: row[1:]
        for row in query(
            warehouse,
            """
            select source_table, raw_rows, accepted_rows, rejected_rows, duplicate_rows
            from audit_raw__row_counts
        """,
        )
    }
    assert set(counts) == set(SCHEMAS)
    for table in SCHEMAS:
        raw, accepted, rejected, duplicates = counts[table]
        files = sorted((warehouse.data_dir / "raw" / table).glob("*.parquet"))
        assert raw == sum(pq.ParquetFile(f).metadata.num_rows for f in files), table
        assert raw == accepted + rejected + duplicates, table
        assert accepted > 0, table


def test_quarantine_catches_exactly_the_injected_rows(warehouse):
    injected = warehouse.manifest["bad_rows"]
    caught = {}
    for table, reason, rows in query(warehouse, "select * from audit_raw__rejections"):
        caught.setdefault(table, {})[reason] = rows
    duplicates = dict(query(warehouse, "select source_table, duplicate_rows from audit_raw__row_counts"))
    for table in SCHEMAS:
        expected = {reason: rows for reason, rows in injected.get(table, {}).items() if rows}
        assert duplicates[table] == expected.pop("duplicate", 0), table
        assert caught.get(table, {}) == expected, table
    # The dataset must exercise the rules, or this test proves nothing.
    assert sum(sum(r.values()) for r in injected.values()) > 50
    assert len(injected["listening_events"]) >= 10


def test_staging_keeps_one_row_per_key(warehouse):
    [(rows, keys)] = query(
        warehouse,
        """
        select count(*), count(distinct event_id) from stg_raw__listening_events
    """,
    )
    assert rows == keys


def test_a_bad_feed_fails_the_build(warehouse):
    """The same data with a stricter threshold: the rejected-share test must stop the build."""
    result = warehouse.dbt("test", "--select", "audit_raw__row_counts", "--vars", "{max_rejected_share: 0.001}")
    assert not result.success
    assert any("rejected_share_within_threshold" in node.name for node in result.failed())
    passing = warehouse.dbt("test", "--select", "audit_raw__row_counts", "--vars", "{max_rejected_share: 0.5}")
    assert passing.success, passing.describe(3000)
    # dbtRunner's per-node results, not the console output, say what ran.
    assert {node.status for node in passing.nodes if node.resource_type == "test"} == {"pass"}
    assert passing.exit_code == 0 and passing.peak_rss_mib > 0
