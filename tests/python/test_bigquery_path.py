"""The BigQuery path: the same project built on the BigQuery emulator, full then incremental,
compared row for row with the DuckDB build; and the production SQL checked statically."""

import datetime as dt
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import parity
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import EARLIER_RUN_DATE, PROJECT_DIR, RUN_DATE, hold_back_late_plays, raw_copy, run_dbt

from ci.bigquery_scans import partition_columns, table_scans
from ci.bigquery_sql import check_paths
from ci.emulator import EMULATOR_PROJECT, running_emulator
from tunesday.bloom import bloom_parameters, filter_words
from tunesday.dbt import DbtResult
from tunesday.load.bigquery import RAW_LAYOUT, make_client
from tunesday.load.cli import load
from tunesday.recsys import ranker
from tunesday.warehouse import connect as connect_warehouse

DATASET = "tunesday"
RAW_DATASET = "tunesday_raw"
# Columns that differ by design between two builds (when they ran; the run that first saw a raw
# event without a usable time files it under its own run_date).
# And why a run recomputed a listener or a playlist (int_user_refresh, int_playlist_refresh): the
# emulator's second run did so for their new plays or a week without a refresh, DuckDB's full build
# for everyone; who is compared (and each playlist's track list fingerprint).
RUN_DEPENDENT_COLUMNS = {"audited_at", "partition_date", "refresh_reason", "run_started_at"}
# Built from every Discover Weekly list of the last weeks: the emulator made two, DuckDB one.
HISTORY_DEPENDENT_TABLES = {
    "serving_bloom_filters",
    "serving_bloom_filter_words",
    # How published lists did in the days after: DuckDB's one run made its
    # lists on its run date (no day after yet), the emulator's first run made
    # a week's lists the second run can score. Its SQL runs on BigQuery in
    # the unit test discover_weekly_outcomes_count_first_streams_by_day.
    "eval_discover_weekly_outcomes",
}
# Streams of tracks For You listed are counted against every run's lists (int_experiment_served_tracks):
# the emulator's two runs listed more than DuckDB's one. Compared without them.
HISTORY_DEPENDENT_COLUMNS = {"int_experiment_listener_days": {"recommended_stream_count"}}
# A state's settled part folds the days before its run's lookback window, and the emulator's
# second build reached further back (to pick up the late plays): the split differs, the states
# (settled part plus open days) are compared.
WINDOW_DEPENDENT_TABLES = {
    "int_user_track_affinity_settled",
    "int_user_artist_familiarity_settled",
    "int_audit_listener_settled",
}
# Snapshots: the emulator built two run dates, DuckDB one, so only current versions compare,
# without the bookkeeping of when each version was recorded.
SNAPSHOT_COLUMNS = {"dbt_valid_from", "dbt_valid_to", "dbt_scd_id", "dbt_updated_at", "as_of_date"}


@dataclass
class BigQueryBuild:
    client: object
    env: dict
    target_path: Path
    daily: DbtResult  # the second, incremental build
    daily_window: tuple[dt.datetime, dt.datetime]  # when it ran (UTC)


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("bqemulator")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def bq_build(warehouse, bigquery_emulator, tmp_path_factory) -> BigQueryBuild:
    """Load the DuckDB fixture's raw files through the BigQuery API, then build twice: a first
    build for an earlier run date, then a full build, incremental where models are, for the later one.
    A tenth of the first run date's plays are loaded only after the first build: the second
    build takes them through its lookback window (reaching back to the first run date), so the
    parity tests prove that late plays count exactly as on DuckDB's full build, which had them all."""
    client = make_client(EMULATOR_PROJECT, bigquery_emulator)
    root = tmp_path_factory.mktemp("bq_build")
    raw = raw_copy(warehouse.data_dir / "raw", root / "raw")
    late = hold_back_late_plays(raw / "listening_events", EARLIER_RUN_DATE)
    assert late.num_rows > 100
    # They keep the loaded_at of the rest (the parity tests compare it with DuckDB's build, which
    # read them on time): a week after the first build every listener is recomputed (stale), so
    # no listener needs the late plays' arrival to be recomputed.
    (root / "late" / "listening_events").mkdir(parents=True)
    pq.write_table(late, root / "late" / "listening_events" / "late.parquet")
    # The way a user loads generated data: tunesday-load raw --bigquery.
    target = ["--bigquery", "--project", EMULATOR_PROJECT, "--dataset", RAW_DATASET, "--endpoint", bigquery_emulator]
    assert load(["raw", str(raw), *target], echo=lambda line: None).exit_code == 0
    env = {
        **warehouse.env,
        "TUNESDAY_TARGET": "bq_emulator",
        "TUNESDAY_BQ_EMULATOR_ENDPOINT": bigquery_emulator,
        "TUNESDAY_BQ_DATASET": DATASET,
        "TUNESDAY_BQ_RAW_DATASET": RAW_DATASET,
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
    }
    # The first build only sets up the state the incremental run starts from: the incremental
    # models and snapshots and what they read (the second build remakes every other model from
    # scratch anyway); its data and unit tests (three quarters of an emulator build's time) run
    # once, in the second build.
    state_only = [
        "--select",
        "+config.materialized:incremental",
        "+resource_type:snapshot",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
    ]
    first = run_dbt(["build", *state_only, "--vars", f"{{run_date: '{EARLIER_RUN_DATE}'}}"], env)
    assert first.success, first.describe(6000)
    assert load(["raw", str(root / "late"), *target], echo=lambda line: None).exit_code == 0
    lookback = (dt.date.fromisoformat(RUN_DATE) - dt.date.fromisoformat(EARLIER_RUN_DATE)).days
    started = dt.datetime.now(dt.UTC)
    second = run_dbt(["build", "--vars", f"{{run_date: '{RUN_DATE}', incremental_lookback_days: {lookback}}}"], env)
    assert second.success, second.describe(6000)
    return BigQueryBuild(
        client=client,
        env=env,
        target_path=root / "target",
        daily=second,
        daily_window=(started, dt.datetime.now(dt.UTC)),
    )


def test_second_build_is_incremental(bq_build):
    statement = (
        (bq_build.target_path / "run" / "tunesday" / "models" / "core" / "listening" / "fct_user_track_days.sql")
        .read_text()
        .lower()
    )
    assert "merge into" in statement
    [(last_day, days)] = bq_build.client.query(
        "select max(listened_date), count(distinct listened_date) "
        f"from `{EMULATOR_PROJECT}.{DATASET}_core.fct_user_track_days`"
    ).result()
    assert last_day.isoformat() == RUN_DATE
    assert days == 21


def daily_jobs(bq_build) -> list[tuple[dict, object]]:
    """The query jobs of the incremental build as the emulator recorded them, each with the labels
    dbt-bigquery gave it. The emulator keeps a query job's SQL but not its labels (it keeps a load
    job's), so they are read where dbt-bigquery makes them from (`query-comment: job-label`): the
    statement's leading comment, through dbt-bigquery's own function."""
    from dbt.adapters.bigquery.connections import BigQueryConnectionManager

    started, finished = bq_build.daily_window
    jobs = []
    # One page of every job (the emulator pages by maxResults alone, 100 by default).
    for job in bq_build.client.list_jobs(page_size=1_000_000):
        if job.job_type != "query" or not started <= job.created <= finished:
            continue
        comment = re.match(r"\s*/\* (\{.*?\}) \*/", job.query)
        labels = BigQueryConnectionManager._labels_from_query_comment(None, comment.group(1)) if comment else {}
        jobs.append((labels, job))
    return jobs


def test_every_job_of_a_run_is_labelled_with_its_model_and_run_date(bq_build):
    """Cost attribution: every statement dbt ran carries the labels model, resource_type and
    run_date (macros/query_labels.sql; dbt_project.yml turns them into job labels), and the
    models built are all named."""
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["query-comment"]["job-label"] is True
    jobs = daily_jobs(bq_build)
    assert len(jobs) > 200
    unlabelled = [job.query[:200] for labels, job in jobs if set(labels) != {"model", "resource_type", "run_date"}]
    assert not unlabelled, unlabelled[:3]
    assert {labels["run_date"] for labels, _ in jobs} == {RUN_DATE}
    built = {node.name for node in bq_build.daily.nodes if node.resource_type == "model"}
    assert len(built) > 60 and built <= {labels["model"] for labels, _ in jobs}
    assert {labels["resource_type"] for labels, _ in jobs} >= {"model", "test", "snapshot"}


# The reads of every day that a daily run makes by design (README "What BigQuery costs"), by
# (model, table): duplicates across days need every day's accepted event ids, and the rows an
# earlier run filed under its own day can be on any day (only their blocks are read: the table is
# clustered by row_status first); an artist's previous day of listening can be any earlier day.
HISTORY_LOOKUPS = {
    ("base_raw__listening_events", "base_raw__listening_events"): 2,
    ("fct_user_artist_days", "fct_user_artist_days"): 1,
    # int_user_refresh's and int_playlist_refresh's post-hooks delete the partitions of runs two
    # cycles old: whole partitions by a constant, which BigQuery drops without reading them.
    ("int_user_refresh", "int_user_refresh"): 1,
    ("int_playlist_refresh", "int_playlist_refresh"): 1,
}


def test_the_daily_run_reads_only_its_days_of_partitioned_tables(bq_build):
    """The proof of what the emulator cannot measure: every statement the daily build ran for
    an incremental model or an audit (model SQL, lookups of its last day, hooks) reads a
    partitioned table only from a constant first day (ci.bigquery_scans), or counts it whole
    (free: metadata), except the lookups above, and so does every data test of a partitioned table
    (or of a view over one). A merge's target is not a read here: production replaces partitions
    (insert_overwrite), and int_sessions' merge never matches (its pre-hook deleted the rows it
    replaces). The audits' recount of every day's raw plays runs only when plays came too late
    (none do here: test_incremental.py makes some)."""
    manifest = json.loads((bq_build.target_path / "manifest.json").read_text())
    partitions = partition_columns(manifest)
    incremental = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    audits = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node.get("group") == "audit"
    }
    bounded, unbounded, free, tests = Counter(), Counter(), Counter(), Counter()
    for labels, job in daily_jobs(bq_build):
        if labels.get("resource_type") == "test":
            # A data test of a table partitioned by day checks the run's days (macros/data_tests.sql).
            for scan in table_scans(job.query, partitions):
                if scan.days is not None:
                    tests["bounded" if scan.bounded else f"{labels['model']} reads every day of {scan.table}"] += 1
            continue
        if labels.get("model") not in incremental | audits:
            continue
        for scan in table_scans(job.query, partitions):
            if scan.days is not None:
                (free if scan.free else bounded if scan.bounded else unbounded)[(labels["model"], scan.table)] += 1
    assert dict(unbounded) == HISTORY_LOOKUPS
    # Every daily model of staging and core read a partitioned table by its days.
    assert {model for model, _ in bounded} >= {
        "base_raw__listening_events",
        "int_plays_sessionized",
        "int_sessions",
        "fct_user_track_days",
        "fct_user_artist_days",
        "int_user_track_affinity_settled",
        "int_user_artist_familiarity_settled",
    }
    assert ("base_raw__listening_events", "listening_events") in bounded
    assert ("int_plays_sessionized", "stg_raw__listening_events") in bounded
    # Who the run recomputes: the plays since the previous run; this week's Discover Weekly.
    assert ("int_user_refresh", "stg_raw__listening_events") in bounded
    # Which playlists: their last refreshes, of the last two cycles; the pools read this run's.
    assert ("int_playlist_refresh", "int_playlist_refresh") in bounded
    assert ("fct_smart_shuffle_pools", "int_playlist_refresh") in bounded
    assert ("fct_discover_weekly", "fct_discover_weekly") in bounded
    # The audits of the plays: their days of the staged and raw plays, and counts of the raw table.
    assert {model for model, _ in bounded} >= {
        "int_audit_event_days",
        "int_audit_raw_event_days",
        "int_audit_listener_settled",
        "audit_raw__listener_oddities",
        "audit_raw__row_counts",
    }
    assert set(free) == {
        ("int_audit_raw_event_days", "listening_events"),
        ("audit_raw__row_counts", "listening_events"),
    }
    assert tests.pop("bounded") > 20 and not tests, tests


def test_descriptions_are_on_the_bigquery_tables(bq_build):
    """persist_docs: each model table's description, and its columns', as the docs say (what an
    analyst sees in the BigQuery console)."""
    manifest = json.loads((bq_build.target_path / "manifest.json").read_text())
    checked, wrong = 0, []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"]["materialized"] not in ("table", "incremental"):
            continue
        found = bq_build.client.get_table(f"{EMULATOR_PROJECT}.{node['schema']}.{node['alias'] or node['name']}")
        if found.description != node["description"]:
            wrong.append(f"{node['name']}: {str(found.description)[:60]!r}")
        for field in found.schema:
            wanted = node["columns"].get(field.name, {}).get("description")
            if wanted and field.description != wanted:
                wrong.append(f"{node['name']}.{field.name}: {str(field.description)[:60]!r}")
        checked += 1
    assert checked > 50 and not wrong, "\n".join(wrong[:20]) + f"\n({len(wrong)} in all)"


def test_tables_are_partitioned_and_clustered(bq_build, warehouse):
    """The layout as the emulator keeps it (tables.get): the raw tables the loader made, and the
    daily models' partition column. Every cluster column of every model exists in it (the
    emulator keeps no clustering of a table made by DDL, nor checks it)."""
    for table, layout in RAW_LAYOUT.items():
        found = bq_build.client.get_table(f"{EMULATOR_PROJECT}.{RAW_DATASET}.{table}")
        assert (found.time_partitioning.field if found.time_partitioning else None) == layout.day_column, table
        assert tuple(found.clustering_fields or ()) == layout.cluster_by, table
    manifest = json.loads((bq_build.target_path / "manifest.json").read_text())
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        columns: dict[str, set[str]] = {}
        for table, column in con.execute("select table_name, column_name from information_schema.columns").fetchall():
            columns.setdefault(table, set()).add(column)
    partitioned = clustered = 0
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        config, name = node["config"], node["name"]
        if name not in columns:
            # Ephemeral on DuckDB (macro inlined_in_batches), a table here: its columns are its
            # documented ones (test_docs checks the stored models' columns on DuckDB).
            found = bq_build.client.get_table(f"{EMULATOR_PROJECT}.{node['schema']}.{name}")
            columns[name] = {field.name for field in found.schema}
            assert columns[name] == set(node["columns"]), f"{name}: {sorted(columns[name])} against its documentation"
        cluster_by = config.get("cluster_by") or []
        assert set(cluster_by) <= columns[name], f"{name} is clustered by {cluster_by}, not its columns"
        clustered += bool(cluster_by)
        if config.get("partition_by") and config["partition_by"].get("granularity", "day") == "day":
            # (The emulator keeps `partition by <column>` only, not a month's date_trunc.)
            found = bq_build.client.get_table(f"{EMULATOR_PROJECT}.{node['schema']}.{name}")
            assert found.time_partitioning.field == config["partition_by"]["field"], name
            partitioned += 1
    assert partitioned >= 6 and clustered >= 40


# The generator writes complete plays, so staging defaults nothing; the default rules run on
# both engines in the unit test listening_events_defaults (the emulator's build runs it). No play
# is too late for either build (test_incremental.py makes some on DuckDB).
EMPTY_ON_GENERATED_DATA = {"audit_raw__defaults", "audit_raw__late_events"}


def test_every_model_matches_duckdb_row_for_row(warehouse, bq_build):
    """Every model's rows on the emulator are DuckDB's (floats to 6 decimals): compared by
    fingerprint (parity.py), rows fetched and shown only for a table whose fingerprints differ."""
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        columns: dict[str, list[str]] = {}
        schemas: dict[str, str] = {}  # every model's schema: the same names as the BigQuery datasets
        for schema, table, column in con.execute("""
            select table_schema, table_name, column_name from information_schema.columns
            where starts_with(table_schema, 'tunesday_') and table_schema not in ('tunesday_raw', 'tunesday_recsys')
            order by table_name, ordinal_position
        """).fetchall():
            columns.setdefault(table, []).append(column)
            schemas[table] = schema
        # tunesday_recsys holds what the continuations' Python step writes (empty here: the step
        # is not part of a dbt build; test_recsys_fitted.py compares it on both engines).
        # Snapshots: current versions only. Weekly surfaces: the emulator made two weeks, DuckDB one.
        run_week = dt.date.fromisoformat(RUN_DATE) - dt.timedelta(days=dt.date.fromisoformat(RUN_DATE).weekday())
        filters = {
            table: "where dbt_valid_to is null"
            if "dbt_valid_to" in cols
            else f"where week_start = date '{run_week}'"
            if "week_start" in cols
            else ""
            for table, cols in columns.items()
        }
        # Heard tracks include the Discover Weekly lists of earlier weeks, which only the emulator
        # made: compare the played ones here, the filters in test_bloom_filters_are_bit_identical.
        filters["int_user_heard_tracks"] = "where heard_reason = 'played'"
        # The audit history keeps every run's counts: the emulator ran two run dates, DuckDB one.
        filters["audit_raw__row_counts_history"] = f"where run_date = date '{RUN_DATE}'"
        filters["int_user_refresh"] = f"where run_date = date '{RUN_DATE}'"
        filters["int_playlist_refresh"] = f"where run_date = date '{RUN_DATE}'"
        filters["int_experiment_served_tracks"] = f"where run_date = date '{RUN_DATE}'"
        filters["int_experiment_listener_metrics"] = "where metric <> 'recommended_streams'"
        filters["fct_experiment_results"] = "where metric <> 'recommended_streams'"
        for table in HISTORY_DEPENDENT_TABLES | WINDOW_DEPENDENT_TABLES:
            columns.pop(table)
        columns = {
            table: [
                c
                for c in cols
                if c not in RUN_DEPENDENT_COLUMNS | HISTORY_DEPENDENT_COLUMNS.get(table, set())
                and not (filters[table] and c in SNAPSHOT_COLUMNS)
            ]
            for table, cols in columns.items()
        }
        assert len(columns) >= 28, sorted(columns)
        differences = []
        for table, cols in sorted(columns.items()):
            duck_fingerprint, message = table_difference(
                con, bq_build.client, table, f"{schemas[table]}.{table}", cols, filters[table]
            )
            assert duck_fingerprint[0] or table.startswith("quarantine") or table in EMPTY_ON_GENERATED_DATA, (
                f"{table} is empty: parity proves nothing"
            )
            if message:
                differences.append(message)
    assert not differences, "\n".join(differences)


def test_parity_reports_one_changed_value_of_every_kind(warehouse, bq_build):
    """The comparison above is not blind on the emulator: a copy there of one listener's plays (a
    column of every kind) matches DuckDB, and the copy with one value changed, of any kind, or one
    row doubled, is reported with the row."""
    client = bq_build.client
    source = f"`{EMULATOR_PROJECT}.{DATASET}_intermediate.int_plays_sessionized`"
    copy = f"`{EMULATOR_PROJECT}.parity_check.plays`"
    client.create_dataset(f"{EMULATOR_PROJECT}.parity_check", exists_ok=True)
    with connect_warehouse(str(warehouse.duckdb_path)) as con:
        [(user_id, event_id)] = con.execute(
            "select user_id, min(event_id) from int_plays_sessionized group by user_id "
            "having count(*) >= 10 order by count(*), user_id limit 1"
        ).fetchall()
        cols = [
            column
            for column, *_ in con.execute("select * from int_plays_sessionized limit 0").description
            if column not in RUN_DEPENDENT_COLUMNS
        ]
        where = f"where user_id = '{user_id}'"
        changes = {
            "track_id": f"update {copy} set track_id = concat(track_id, 'x')",
            "artist_id": f"update {copy} set artist_id = null",
            "played_at": f"update {copy} set played_at = timestamp_add(played_at, interval 1 microsecond)",
            "listened_date": f"update {copy} set listened_date = date_add(listened_date, interval 1 day)",
            "ms_played": f"update {copy} set ms_played = ms_played + 1",
            "completion_ratio": f"update {copy} set completion_ratio = completion_ratio + 0.00001",
            "is_shuffled": f"update {copy} set is_shuffled = not is_shuffled",
            "a doubled row": f"insert into {copy} select * from {copy}",
        }
        for change, statement in [("nothing", None), *changes.items()]:
            client.query(f"create or replace table {copy} as select * from {source} {where}").result()
            if statement:
                client.query(f"{statement} where event_id = '{event_id}'").result()
            _, message = table_difference(con, client, "int_plays_sessionized", "parity_check.plays", cols, where)
            if statement is None:
                assert message is None, message
            else:
                assert message is not None, f"{change} changed on the emulator, not reported"
                assert event_id in message, message


def table_difference(
    con, client, duck_table: str, bq_table: str, cols: list[str], where: str = ""
) -> tuple[tuple, str | None]:
    """A DuckDB table (`con`: the warehouse) against a table of the emulator (`dataset.table`),
    on `cols` and the rows `where` selects: DuckDB's fingerprint, and what differs (None if nothing)."""
    selected, relation = ", ".join(cols), f"`{EMULATOR_PROJECT}.{bq_table}`"
    duck_types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns where table_name = ?", [duck_table]
        ).fetchall()
    )
    bq_types = {field.name: field.field_type for field in client.get_table(f"{EMULATOR_PROJECT}.{bq_table}").schema}
    duck = parity.Side(
        fingerprint=con.execute(
            parity.fingerprint_sql(
                parity.DUCKDB,
                duck_table,
                [(c, parity.kind_of(parity.DUCKDB, duck_types[c])) for c in cols],
                where,
            )
        ).fetchone(),
        fetch=lambda: con.execute(f"select {selected} from {duck_table} {where}").fetchall(),
    )
    bigquery = parity.Side(
        fingerprint=tuple(
            next(
                iter(
                    client.query(
                        parity.fingerprint_sql(
                            parity.BIGQUERY,
                            relation,
                            [(c, parity.kind_of(parity.BIGQUERY, bq_types[c])) for c in cols],
                            where,
                        )
                    ).result()
                )
            )
        ),
        # Arrow rather than row by row: the same values, 40 % less time in the emulator's REST paging.
        fetch=lambda: [
            tuple(row.values())
            for row in client.query(f"select {selected} from {relation} {where}")
            .to_arrow(create_bqstorage_client=False)
            .to_pylist()
        ],
    )
    return duck.fingerprint, parity.difference(duck_table, cols, duck, bigquery)


def test_bloom_filters_are_bit_identical(bq_build):
    """The emulator's filters are exactly what tunesday.bloom computes from its heard tracks (and
    test_bloom.py proves the same for DuckDB): the same bits on both engines and in Python."""

    def table(name: str, stage: str = "serving"):
        return bq_build.client.query(f"select * from `{EMULATOR_PROJECT}.{DATASET}_{stage}.{name}`").result()

    heard: dict[str, list[str]] = {}
    for row in table("int_user_heard_tracks", "intermediate"):
        heard.setdefault(row["user_id"], []).append(row["track_id"])
    words: dict[str, dict[int, int]] = {}
    for row in table("serving_bloom_filter_words"):
        words.setdefault(row["user_id"], {})[row["word_index"]] = row["word"]
    filters = {row["user_id"]: row for row in table("serving_bloom_filters")}
    assert len(filters) > 100 and set(filters) == set(heard)
    for user_id, tracks in heard.items():
        bit_count, hash_count = bloom_parameters(len(tracks), 0.01)
        assert (filters[user_id]["bit_count"], filters[user_id]["hash_count"]) == (bit_count, hash_count)
        expected = {index: word for index, word in filter_words(tracks, bit_count, hash_count).items() if word}
        assert words.get(user_id, {}) == expected, user_id


def test_the_listeners_reranker_scores_as_its_model_predicts_on_bigquery(bq_build):
    """fct_user_recommendations' ranker_score on the emulator is the committed model's predict on
    the row's stored features (test_recsys_listeners.py checks DuckDB)."""
    lightgbm = pytest.importorskip("lightgbm", reason="the recsys extra is not installed")
    from tunesday.recsys import listeners

    rows = bq_build.client.query(
        f"select {listeners.feature_sql()}, ranker_score "
        f"from `{EMULATOR_PROJECT}.{DATASET}_surfaces.fct_user_recommendations`"
    ).to_arrow()
    features = np.column_stack(
        [rows[name].to_numpy(zero_copy_only=False).astype(np.float64) for name in listeners.FEATURES]
    )
    expected = lightgbm.Booster(model_file=str(listeners.ARTIFACT.model_file)).predict(features)
    assert rows.num_rows > 1000 and np.std(expected) > 0.05
    assert np.abs(rows["ranker_score"].to_numpy() - expected).max() <= 1e-6


def test_export_reads_bigquery_like_duckdb(warehouse, bq_build, tmp_path):
    """tunesday-serving's export from the emulator: validated against BigQuery's own counts, and
    the same documents as an export from DuckDB (the Bloom tables hold BigQuery's longer history)."""
    from serving.snapshot import export
    from serving.store import Store
    from serving.warehouse import BigQueryWarehouse, DuckDBWarehouse

    manifests = {}
    for name, source in [
        ("bigquery", BigQueryWarehouse(EMULATOR_PROJECT, DATASET, bq_build.env["TUNESDAY_BQ_EMULATOR_ENDPOINT"])),
        ("duckdb", DuckDBWarehouse(str(warehouse.duckdb_path))),
    ]:
        try:
            manifests[name] = export(source, Store(tmp_path / name), RUN_DATE, progress=lambda line: None)
        finally:
            source.close()
    bq_counts, duck_counts = manifests["bigquery"]["row_counts"], manifests["duckdb"]["row_counts"]
    for table in ("serving_users", "serving_recommendations", "serving_playlist_tracks", "serving_smart_shuffle_pools"):
        assert bq_counts[table] == duck_counts[table] > 0, table
    documents = {}
    for name in manifests:
        with sqlite3.connect(Store(tmp_path / name).current()["path"]) as con:
            documents[name] = {
                "surfaces": {
                    (user_id, surface): json.loads(body)
                    for user_id, surface, body in con.execute("select user_id, surface, body from surfaces")
                },
                # Parts: item starts cut before their track's fields (serving/documents.py).
                "surface_parts": {
                    (user_id, surface): (
                        track_ids,
                        [json.loads(item.lstrip(b",")[:-1] + b"}") for item in items.split(b"\n")],
                    )
                    for user_id, surface, track_ids, items in con.execute(
                        "select user_id, surface, track_ids, items from surface_parts"
                    )
                },
                # Pool items are JSON objects cut before their track's fields (serving/documents.py).
                "playlists": {
                    row[0]: (
                        *row[1:4],
                        [json.loads(b"{" + item[:-1] + b"}") for item in row[4].split(b"\n") if item],
                        row[5],
                    )
                    for row in con.execute(
                        "select playlist_id, owner_user_id, playlist_name, track_ids, "
                        "pool_items, pool_track_ids from playlists"
                    )
                },
                "tracks": {
                    track_id: json.loads(b"{" + fields)
                    for track_id, fields in con.execute("select track_id, fields from tracks")
                },
                # Bloom filters are history-dependent (see test_bloom_filters_are_bit_identical).
                "listeners": {
                    row[0]: row[1:] for row in con.execute("select user_id, country_code, product_tier from listeners")
                },
            }

    def same(a, b, where: str) -> None:
        """Equal, floats to 1e-9 (the engines differ in the last bits of the same arithmetic)."""
        if isinstance(a, float) or isinstance(b, float):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
        elif isinstance(a, dict) and isinstance(b, dict):
            assert a.keys() == b.keys(), f"{where}: {sorted(a.keys() ^ b.keys())[:5]}"
            for key in a:
                same(a[key], b[key], f"{where}.{key}")
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
            assert len(a) == len(b), f"{where}: {len(a)} != {len(b)}"
            for index, (x, y) in enumerate(zip(a, b)):
                same(x, y, f"{where}[{index}]")
        else:
            assert a == b, f"{where}: {a!r} != {b!r}"

    for part in ("surfaces", "surface_parts", "playlists", "tracks", "listeners"):
        same(documents["bigquery"][part], documents["duckdb"][part], part)


@pytest.fixture(scope="module")
def production_sql(bq_build, tmp_path_factory) -> Path:
    """The project compiled for BigQuery with the production strategy (insert_overwrite): the
    compiled folder. One compile serves both static checks below."""
    target = tmp_path_factory.mktemp("production_sql") / "target"
    compiled = run_dbt(
        [
            "compile",
            "--target-path",
            str(target),
            "--vars",
            f"{{run_date: '{RUN_DATE}', bigquery_incremental_strategy: insert_overwrite}}",
        ],
        bq_build.env,
    )
    assert compiled.success, compiled.describe()
    return target / "compiled" / "tunesday"


def test_production_sql_is_bigquery_sql(bq_build, production_sql):
    """Every compiled and executed statement parses as BigQuery and calls only functions BigQuery has."""
    executed_dir = bq_build.target_path / "run" / "tunesday"
    assert len(list(production_sql.rglob("*.sql"))) > 100
    problems = check_paths([production_sql, executed_dir])
    assert not problems, "\n".join(f"{p.source}: {p.kind}: {p.detail}" for p in problems)


def lint_as_bigquery(paths: list[str]) -> tuple[int, list[dict]]:
    """sqlfluff on compiled SQL with the BigQuery dialect: its exit code and one report per file.
    Files are linted wherever they are: `.sqlfluffignore` skips target/, where a compiled folder
    may well be (a --basetemp there), and a skipped file would pass unseen."""
    lint = subprocess.run(
        [
            str(Path(sys.executable).with_name("sqlfluff")),
            "lint",
            *paths,
            "--dialect",
            "bigquery",
            "--templater",
            "raw",
            "--config",
            str(PROJECT_DIR / "ci" / "sqlfluff-compiled-bigquery.cfg"),
            "--disregard-sqlfluffignores",
            "--format",
            "json",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return lint.returncode, json.loads(lint.stdout or "[]")


def lint_problems(reports: list[dict]) -> str:
    return "\n".join(
        f"{report['filepath']}:{v['start_line_no']}:{v['start_line_pos']}: {v['code']} {v['description']}"
        for report in reports
        for v in report["violations"]
    )


def test_compiled_models_lint_as_bigquery(production_sql, tmp_path):
    # Model files only: dbt also writes tests compiled from YAML under `<file>.yml/` folders.
    models = [p for p in (production_sql / "models").rglob("*.sql") if not p.parent.name.endswith(".yml")]
    assert len(models) > 25
    # A model holding a reranker's compiled trees is linted without them (thousands of generated
    # WHENs, half the lint's time; the emulator runs them in test_recsys_ranker.py and here).
    with_trees = [model for model in models if ranker.TREES_BEGIN in model.read_text()]
    assert len(with_trees) == 2, with_trees
    for model in with_trees:
        lighter = tmp_path / model.relative_to(production_sql)
        lighter.parent.mkdir(parents=True, exist_ok=True)
        lighter.write_text(ranker.without_trees(model.read_text()))
        models[models.index(model)] = lighter
    models = [str(model) for model in models]
    exit_code, reports = lint_as_bigquery(models)
    assert sorted(report["filepath"] for report in reports) == sorted(models), "sqlfluff did not lint every model"
    assert exit_code == 0, lint_problems(reports)[-6000:]


def test_the_bigquery_lint_reads_every_file_even_under_target():
    """A file in target/ (which .sqlfluffignore skips) is linted, and a violation is reported."""
    (PROJECT_DIR / "target").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="lint-check-", dir=PROJECT_DIR / "target"))
    try:
        (folder / "good.sql").write_text("select 1 as one\n")
        (folder / "bad.sql").write_text("SELECT 1 one\n")
        exit_code, reports = lint_as_bigquery([str(folder / "good.sql"), str(folder / "bad.sql")])
    finally:
        shutil.rmtree(folder)
    assert {Path(report["filepath"]).name for report in reports} == {"good.sql", "bad.sql"}
    assert exit_code == 1
    assert "bad.sql:1:1: CP01" in lint_problems(reports)


def test_the_daily_jobs_export_publish_and_run_log_work_on_bigquery(bq_build, tmp_path):
    """The job's BigQuery side, stage by stage on the emulator's build (as an orchestrator runs
    them): export reads BigQuery, publish points CURRENT at it, and ops_run_log is appended to the
    dataset `<dataset>_ops` and read back; the lock lives in the store."""
    from tunesday.job.run_log import RunLog
    from tunesday.job.target import from_env

    env = {
        **bq_build.env,
        "TUNESDAY_SERVING_STORE": str(tmp_path / "store"),
        "TUNESDAY_JOB_METRICS_FILE": str(tmp_path / "job.prom"),
    }

    def stage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "tunesday.job.cli",
                "daily",
                "--run-date",
                RUN_DATE,
                "--run-id",
                "bq0000000000000a",
                *args,
            ],
            env=env,
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )

    exported = stage("--stage", "export")
    assert exported.returncode == 0, exported.stderr
    log = RunLog(from_env(env))
    [export_row] = log.rows("run_id = 'bq0000000000000a'")
    assert export_row["stage"] == "export" and export_row["status"] == "success" and export_row["rows"] > 0
    assert not (tmp_path / "store" / "CURRENT").exists()  # exported, not yet published
    published = stage("--stage", "publish", "--snapshot-id", export_row["snapshot_id"])
    assert published.returncode == 0, published.stderr
    assert json.loads((tmp_path / "store" / "CURRENT").read_text())["snapshot_id"] == export_row["snapshot_id"]
    assert [row["stage"] for row in log.rows("run_id = 'bq0000000000000a'")] == ["export", "publish"]
    assert dt.date.fromisoformat(RUN_DATE) in log.published_run_dates()
    assert (tmp_path / "store" / "daily.lock").exists()
