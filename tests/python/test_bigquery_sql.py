"""The static BigQuery SQL checks: ci.bigquery_sql (what must parse, which functions exist) and
ci.bigquery_scans (which days of a partitioned table a statement reads)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ci.bigquery_scans import table_scans
from ci.bigquery_sql import (
    BIGQUERY_FUNCTIONS,
    NOT_CALL_WORDS,
    check_paths,
    check_sql,
    function_calls,
    main,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]

# A mart model as dbt-bigquery compiles it: CTEs, window functions, the hash64 macro, QUALIFY,
# struct / unnest / array_agg, SAFE. calls, backquoted project.dataset.table names.
COMPILED_MODEL = """\
with

plays as (
    select * from `tunesday-prod`.`tunesday`.`stg_raw__listening_events`
    where cast(played_at as date) <= cast('2026-11-24' as date)
      and cast(played_at as date) >= date_sub(current_date(), interval 1 day)
),

tracks as (
    select
        track_id,
        artist_id,
        ((cast('0x' || substr(to_hex(md5(cast(track_id as string))), 1, 8) as int64)
          - case when cast('0x' || substr(to_hex(md5(cast(track_id as string))), 1, 8) as int64)
                 >= 2147483648 then 4294967296 else 0 end) * 4294967296
          + cast('0x' || substr(to_hex(md5(cast(track_id as string))), 9, 8) as int64)) as track_key
    from `tunesday-prod.tunesday.stg_raw__tracks`
),

ranked as (
    select
        plays.user_id,
        plays.track_id,
        tracks.artist_id,
        safe.parse_date('%Y', cast(extract(year from plays.played_at) as string)) as play_year,
        row_number() over (partition by plays.user_id order by plays.played_at desc) as recency,
        lag(plays.played_at) over (partition by plays.user_id order by plays.played_at) as previous_at,
        timestamp_diff(plays.played_at, timestamp_trunc(plays.played_at, day), second) as second_of_day,
        date_trunc(cast(plays.played_at as date), week(monday)) as listened_week,
        regexp_contains(lower(plays.context_type), r'^play(list)?$') as from_playlist,
        safe_divide(plays.ms_played, 1000) as seconds_played
    from plays
    inner join tracks on plays.track_id = tracks.track_id
    qualify row_number() over (partition by plays.user_id, plays.track_id order by plays.played_at) = 1
)

select
    user_id,
    countif(from_playlist) as playlist_plays,
    count(distinct artist_id) as artists,
    array_agg(track_id order by recency limit 3) as last_tracks,
    array_agg(struct(track_id, artist_id) ignore nulls) as pairs,
    (select count(*) from unnest(array_agg(track_id)) as t where t is not null) as non_null_tracks,
    approx_quantiles(seconds_played, 4)[offset(2)] as median_seconds,
    coalesce(max(previous_at), timestamp_seconds(0)) as latest_previous,
    if(count(*) > 10, 'heavy', 'light') as segment
from ranked
group by user_id
"""

# The statements dbt-bigquery runs for an insert_overwrite incremental model.
INSERT_OVERWRITE_SCRIPT = """\
-- generated script to merge partitions into `tunesday-prod`.`tunesday`.`fct_user_track_days`
declare dbt_partitions_for_replacement array<date>;

-- 1. create a temp table with model data
create or replace table `tunesday-prod`.`tunesday`.`fct_user_track_days__dbt_tmp`
partition by listened_date
cluster by user_id
OPTIONS(
  expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 12 hour)
)
as (
  select user_id, track_id, cast(played_at as date) as listened_date, count(*) as plays
  from `tunesday-prod`.`tunesday`.`stg_raw__listening_events`
  group by 1, 2, 3
);

-- 2. define partitions to update
set (dbt_partitions_for_replacement) = (
    select as struct
        array_agg(distinct date(listened_date) IGNORE NULLS)
    from `tunesday-prod`.`tunesday`.`fct_user_track_days__dbt_tmp`
);

-- 3. run the merge statement
merge into `tunesday-prod`.`tunesday`.`fct_user_track_days` as DBT_INTERNAL_DEST
    using (
    select * from `tunesday-prod`.`tunesday`.`fct_user_track_days__dbt_tmp`
    ) as DBT_INTERNAL_SOURCE
    on FALSE

when not matched by source
     and date(DBT_INTERNAL_DEST.listened_date) in unnest(dbt_partitions_for_replacement)
    then delete

when not matched then insert
    (`user_id`, `track_id`, `listened_date`, `plays`)
values
    (`user_id`, `track_id`, `listened_date`, `plays`)
;

-- 4. clean up the temp table
drop table if exists `tunesday-prod`.`tunesday`.`fct_user_track_days__dbt_tmp`
"""

TABLE_DDL = """\
create or replace table `tunesday-prod`.`tunesday`.`dim_tracks`
partition by range_bucket(track_key, generate_array(0, 100, 10))
cluster by artist_id
OPTIONS(description=\"\"\"One row per track.\"\"\")
as (
    select track_id, artist_id, farm_fingerprint(track_id) as track_key
    from `tunesday-prod`.`tunesday`.`stg_raw__tracks`
);
create table if not exists tunesday.typed_columns (
    id int64 not null,
    name string(100),
    price numeric(10, 2),
    ratio bignumeric(40, 10),
    tags array<struct<tag string(20), weight float64>>,
    primary key (id) not enforced
) partition by date(_partitiontime);
insert into `tunesday-prod.tunesday.user_days` (user_id, listened_date)
select user_id, current_date() from `tunesday-prod.tunesday.users`;
insert into my-project-123.tunesday.user_days (user_id, listened_date) values (1, date '2026-11-24');
"""


def kinds(problems):
    return [p.kind for p in problems]


def unknown_names(problems):
    return sorted(p.name for p in problems if p.kind == "unknown_function")


# --- SQL that BigQuery accepts passes -------------------------------------------------------


def test_compiled_model_passes():
    assert check_sql(COMPILED_MODEL, "model.sql") == []


def test_compiled_model_calls_are_all_seen():
    """The token scan finds calls sqlglot folds away (to_hex(md5(...)) parses as one MD5 node)."""
    names = {name for name, _ in function_calls(COMPILED_MODEL)}
    assert {
        "to_hex",
        "md5",
        "substr",
        "cast",
        "countif",
        "array_agg",
        "struct",
        "unnest",
        "row_number",
        "lag",
        "date_sub",
        "current_date",
        "parse_date",
        "approx_quantiles",
        "offset",
        "regexp_contains",
        "safe_divide",
        "if",
        "timestamp_seconds",
    } <= names
    assert "safe.parse_date" not in names  # the SAFE. prefix is stripped
    assert "week" not in names  # WEEK(MONDAY) is a date part
    for not_a_call in ("plays", "tracks", "ranked", "over", "in"):
        assert not_a_call not in names


def test_dbt_bigquery_insert_overwrite_script_passes():
    assert check_sql(INSERT_OVERWRITE_SCRIPT) == []


def test_ddl_and_insert_column_lists_pass():
    assert check_sql(TABLE_DDL) == []
    names = {name for name, _ in function_calls(TABLE_DDL)}
    assert not names & {
        "dim_tracks",
        "typed_columns",
        "user_days",
        "string",
        "numeric",
        "bignumeric",
        "key",
        "options",
        "my-project-123.tunesday.user_days",
    }


@pytest.mark.parametrize(
    "sql",
    [
        "select net.host(url), hll_count.merge(sketch), kll_quantiles.extract_int64(k, 4) from t",
        "select * except (a, b) replace (upper(c) as c) from t",
        "select * from t tablesample system (10 percent)",
        "select * from t pivot(sum(plays) for platform in ('ios', 'android'))",
        "select a from t where exists (select 1 from u where u.a = t.a) and b in (select b from u)",
        "select x from t for system_time as of timestamp_sub(current_timestamp(), interval 1 hour)",
        "select arr[safe_offset(0)], arr[ordinal(1)], safe.substr(s, 1, 2) from t",
        "create temp function add_one(x int64) returns int64 as (x + 1); select add_one(1)",
        "select extract(isoweek from d), last_day(d, week(sunday)), date_diff(a, b, week(saturday)) from t",
        "with recursive r as (select 1 as n union all select n + 1 from r where n < 3) select n from r",
        "select sum(x) over w from t window w as (partition by y order by z)",
        "select json_value(j, '$.a'), int64(j.n), string(j.s), to_json_string(struct(1 as a)) from t",
    ],
)
def test_bigquery_constructs_pass(sql):
    assert check_sql(sql) == []


# --- DuckDB-only functions fail ---------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "epoch_ms(1700000000000)",
        "list_value(1, 2)",
        "strftime(played_at, '%Y')",
        "regexp_matches(a, 'x')",
        "list_aggregate([1, 2], 'sum')",
        "struct_pack(a := 1)",
        "string_split(a, ',')",
        "md5_number(a)",
        "date_part('year', played_at)",
        "now()",
        "read_parquet('x.parquet')",
    ],
)
def test_duckdb_only_function_fails(call):
    sql = f"select\n    user_id,\n    {call} as value\nfrom t"
    problems = [p for p in check_sql(sql, "model.sql") if p.kind == "unknown_function"]
    name = call.split("(")[0]
    assert [(p.kind, p.name, p.line, p.source) for p in problems] == [("unknown_function", name, 3, "model.sql")]
    assert name in problems[0].detail


@pytest.mark.parametrize(
    "call",
    [
        "datediff('day', a, b)",  # sqlglot: DateDiff
        "len(a)",  # Length
        "nvl(a, b)",  # Coalesce
        "array_has(a, 1)",  # ArrayContains
        "generate_series(1, 3)",  # GenerateSeries
        "median(a)",  # Median
        "arg_max(a, b)",  # ArgMax
        "bool_and(a)",  # LogicalAnd
        "split_part(a, ',', 1)",  # SplitPart
        "gen_random_uuid()",  # Uuid
        "try_cast(a as int64)",  # TryCast
    ],
)
def test_function_sqlglot_renames_fails_by_its_written_name(call):
    """The parse tree holds sqlglot's canonical function; the check must use the written name."""
    name = call.split("(")[0]
    assert unknown_names(check_sql(f"select {call} from t")) == [name]


def test_unknown_function_in_nested_and_namespaced_positions():
    sql = textwrap.dedent("""\
        select to_hex(md5_number(a)) as h
        from t;
        select safe.epoch_ms(x), net.not_a_function(u), cast(list_value(1) as string)
        from t
    """)
    problems = check_sql(sql)
    assert [(p.name, p.line) for p in problems] == [
        ("md5_number", 1),
        ("epoch_ms", 3),
        ("net.not_a_function", 3),
        ("list_value", 3),
    ]


def test_non_bigquery_type_parameters_fail():
    assert unknown_names(check_sql("select cast(a as varchar(10)) from t")) == ["varchar"]


def test_udf_calls_fail_unless_allowed_or_defined_in_the_file():
    sql = "select ds.normalise(a), `proj.ds.score`(b) from ds.recent_plays(7)"
    assert unknown_names(check_sql(sql)) == ["ds.normalise", "ds.recent_plays", "proj.ds.score"]
    allowed = ["ds.normalise", "PROJ.DS.SCORE", "ds.recent_plays"]
    assert check_sql(sql, extra_functions=allowed) == []


# --- parse errors -----------------------------------------------------------------------------


def test_syntax_error_is_a_parse_error():
    problems = check_sql("select a,\nfrom t where (", "broken.sql")
    assert kinds(problems) == ["parse_error"]
    assert problems[0].source == "broken.sql"
    assert problems[0].detail


def test_unterminated_string_is_a_parse_error():
    assert kinds(check_sql("select 'abc from t")) == ["parse_error"]


@pytest.mark.parametrize(
    "sql, syntax",
    [
        ("select played_at::date from t", "`::`"),
        ("select {'a': 1, 'b': 2} as s", "`{...}`"),
        ("select list_transform(tags, x -> upper(x)) from t", "`->`"),
        ("select payload->>'a' from t", "`->>`"),
        ("select a from t where a ilike '%rock%'", "ILIKE"),
        ("select a from t where a == 1", "`==`"),
        ("select $1 from t", "`$n`"),
        ("select a from t asof join u on t.ts >= u.ts", "ASOF"),
    ],
)
def test_duckdb_syntax_sqlglot_accepts_is_a_parse_error(sql, syntax):
    problems = [p for p in check_sql(sql) if p.kind == "parse_error"]
    assert len(problems) == 1 and syntax in problems[0].detail and problems[0].line == 1


def test_foreign_syntax_inside_strings_and_comments_is_fine():
    sql = "select 'a::b {c} -> d' as s, r'$1' as r -- x::int\nfrom t /* a ilike b */"
    assert check_sql(sql) == []


# --- the allowlist --------------------------------------------------------------------------


def test_allowlist_holds_bigquery_functions_only():
    assert {
        "to_hex",
        "md5",
        "countif",
        "safe_divide",
        "net.host",
        "hll_count.merge",
        "st_distance",
        "generate_uuid",
        "date_sub",
        "array_agg",
        "string_agg",
        "approx_quantiles",
    } <= BIGQUERY_FUNCTIONS
    duckdb_only = {
        "epoch_ms",
        "list_value",
        "strftime",
        "regexp_matches",
        "list_aggregate",
        "struct_pack",
        "string_split",
        "md5_number",
        "datediff",
        "now",
        "len",
        "array_includes",
        "nullifzero",
        "iff",
    }
    assert not BIGQUERY_FUNCTIONS & duckdb_only
    assert all(name == name.lower().strip() and " " not in name for name in BIGQUERY_FUNCTIONS)


def test_not_call_words_are_not_functions():
    assert not NOT_CALL_WORDS & BIGQUERY_FUNCTIONS


# --- files, directories and the command line ------------------------------------------------


@pytest.fixture
def sql_dir(tmp_path):
    root = tmp_path / "compiled" / "tunesday" / "models"
    (root / "marts").mkdir(parents=True)
    (root / "marts" / "good.sql").write_text(COMPILED_MODEL)
    (root / "script.sql").write_text(INSERT_OVERWRITE_SCRIPT)
    (root / "notes.txt").write_text("select epoch_ms(1)")  # not .sql: ignored
    return tmp_path / "compiled"


def test_check_paths_recurses_into_directories(sql_dir):
    assert check_paths([sql_dir]) == []
    bad = sql_dir / "tunesday" / "models" / "marts" / "bad.sql"
    bad.write_text("select 1;\nselect epoch_ms(x) from t")
    problems = check_paths([sql_dir])
    assert [(p.source, p.line, p.name) for p in problems] == [(str(bad), 2, "epoch_ms")]


def test_cli_exit_codes(sql_dir, tmp_path, capsys):
    assert main([str(sql_dir)]) == 0
    out = capsys.readouterr().out
    assert "checked 6 statements in 2 files: 0 problems" in out  # 1 + 5 statements

    bad = sql_dir / "bad.sql"
    bad.write_text("select\n  strftime(ts, '%Y')\nfrom t;\nselect from where (")
    assert main([str(sql_dir), "--allow", "unused_udf"]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2: unknown_function: strftime() is not a BigQuery function" in out
    assert f"{bad}:4: parse_error: " in out
    assert "in 3 files: 2 problems" in out

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
    assert main([str(tmp_path / "missing")]) == 2
    assert main([str(bad), str(tmp_path / "missing")]) == 2


def test_cli_runs_as_a_module(sql_dir):
    result = subprocess.run(
        [sys.executable, "-m", "ci.bigquery_sql", str(sql_dir)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("checked 6 statements in 2 files: 0 problems")


# --- What a statement reads of partitioned tables (ci.bigquery_scans) ---------------------------

PARTITIONS = {
    "listening_events": "played_at",
    "fct_user_track_days": "listened_date",
    "int_sessions": "last_listened_date",
}


def scans_of(sql: str) -> dict[str, list]:
    scans: dict[str, list] = {}
    for scan in table_scans(sql, PARTITIONS):
        scans.setdefault(scan.alias, []).append(scan)
    return scans


def test_a_cte_after_other_ctes_reads_its_own_days():
    """A CTE's scope also lists the CTEs defined before it: an unqualified column there is still
    the one table its FROM names (int_user_refresh's earlier runs, after its listeners)."""
    [days] = scans_of("""
        with listeners as (select user_id from `p`.`tunesday_staging`.`stg_raw__users`),
        recent as (
            select user_id, listened_date from `p`.`tunesday_core`.`fct_user_track_days`
            where listened_date >= cast('2026-10-17' as date) and listened_date < cast('2026-10-31' as date)
        )
        select * from recent inner join listeners using (user_id)
    """)["fct_user_track_days"]
    assert days.bounded and days.days.intervals == (("2026-10-17", "2026-10-30"),)
    assert days.columns == {"user_id", "listened_date"}


def test_constant_filters_on_the_partition_column_bound_the_days():
    [raw] = scans_of("""
        select event_id, user_id from `p`.`tunesday_raw`.`listening_events`
        where
            played_at is null
            or played_at > current_timestamp()
            or (played_at >= cast('2026-10-28' as timestamp) and played_at < cast('2026-11-01' as timestamp))
    """)["listening_events"]
    assert raw.bounded and raw.days.nulls
    assert set(raw.days.intervals) == {("now", None), ("2026-10-28", "2026-10-31")}  # days read
    assert raw.columns == {"event_id", "user_id", "played_at"}
    [days] = scans_of("""
        select d.user_id from `p`.`tunesday_core`.`fct_user_track_days` as d
        inner join `p`.`tunesday_staging`.`stg_raw__users` as u on d.user_id = u.user_id
        where d.listened_date between date '2026-10-27' and date '2026-10-31' and u.country_code = 'SE'
    """)["d"]
    assert days.bounded and days.days.intervals == (("2026-10-27", "2026-10-31"),) and not days.days.nulls


@pytest.mark.parametrize(
    "condition",
    [
        "cast(played_at as date) >= '2026-10-28'",  # a function of the column
        "played_at > (select max(played_at) from other)",  # a subquery's result
        "played_at >= timestamp '2026-10-28' or user_id = 'u1'",  # or another column
        "played_at <= timestamp '2026-10-31'",  # no lower bound
        "user_id = 'u1'",
    ],
)
def test_anything_else_reads_every_day(condition):
    [raw] = scans_of(f"select user_id from `p`.`tunesday_raw`.`listening_events` where {condition}")["listening_events"]
    assert not raw.bounded, raw.days.describe()


def test_a_filter_on_a_cte_does_not_bound_the_table_inside_it():
    scans = scans_of("""
        with plays as (select * from `p`.`tunesday_raw`.`listening_events`)
        select * from plays where played_at >= timestamp '2026-10-28'
    """)
    [raw] = scans["listening_events"]
    assert not raw.bounded and "*" in raw.columns


def test_statements_of_a_daily_run_are_read_as_their_queries():
    """A delete reads its table where it says, its subqueries as queries; a merge its source."""
    scans = scans_of("""
        delete from `p`.`tunesday_core`.`int_sessions`
        where
            last_listened_date >= cast('2026-10-26' as date)
            and session_id in (
                select plays.session_id from `p`.`tunesday_core`.`fct_user_track_days` as plays
                where plays.listened_date >= cast('2026-10-27' as date)
            );
        merge into `p`.`tunesday_core`.`int_sessions` as DBT_INTERNAL_DEST
        using (select * from `p`.`tunesday_core`.`fct_user_track_days` where listened_date > '2026-10-20')
            as DBT_INTERNAL_SOURCE
        on (false) and (DBT_INTERNAL_SOURCE.session_id = DBT_INTERNAL_DEST.session_id)
        when not matched then insert (session_id) values (session_id)
    """)
    [deleted] = scans["int_sessions"]
    assert deleted.bounded and deleted.days.intervals == (("2026-10-26", None),)
    assert [scan.days.intervals for scan in scans["plays"]] == [(("2026-10-27", None),)]
    assert [scan.days.intervals for scan in scans["fct_user_track_days"]] == [(("2026-10-21", None),)]  # after the 20th


def test_a_count_of_a_whole_table_is_free_and_nothing_else_is():
    """BigQuery answers `select count(*) from t` from metadata: a SELECT that reads one table alone
    and names no column of it reads no day (audit_raw__row_counts counts the raw plays so). A
    column named anywhere in it, another table beside it or every column is a read."""
    [whole, due] = scans_of("""
        select
            (select count(*) from `p`.`tunesday_raw`.`listening_events`)
            - (
                select count(*) from `p`.`tunesday_raw`.`listening_events`
                where played_at >= cast('2026-11-01' as timestamp) and played_at <= current_timestamp()
            ) as raw_rows
    """)["listening_events"]
    assert whole.free and whole.bounded and not whole.columns
    assert not whole.days.bounded  # a free read, not one of some days
    assert not due.free and due.bounded and due.columns == {"played_at"}
    for sql in [
        "select count(*) from `p`.`tunesday_raw`.`listening_events` where user_id = 'u1'",
        "select count(user_id) from `p`.`tunesday_raw`.`listening_events`",
        "select count(*) from `p`.`tunesday_raw`.`listening_events` group by user_id",
        "select * from `p`.`tunesday_raw`.`listening_events`",
        "select count(*) from `p`.`tunesday_raw`.`listening_events` as e cross join `p`.`tunesday_raw`.`users` as u",
        "with e as (select * from `p`.`tunesday_raw`.`listening_events`) select count(*) from e",
    ]:
        [raw] = scans_of(sql).get("listening_events") or scans_of(sql)["e"]
        assert not raw.free and not raw.bounded, sql
