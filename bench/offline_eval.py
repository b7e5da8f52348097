"""Offline evaluation of the recommendations (run after `make run`, or on any generated data).

    python bench/offline_eval.py [--data target/data] [--test-days 7]

Builds the warehouse into its own DuckDB file with run_date = the last day of data minus
--test-days, so that Discover Weekly is made from the earlier days only, then prints
`eval_discover_weekly` (the published lists, the lists of each ranking — the learned reranker and
the hand-weighted blend — and a popularity baseline, all made in the same run, scored on
the streams of the test days) and, from the generator's ground truth, the share of each list's
tracks in the listener's true taste clusters and how far the list's tempo is from their true
preferred tempo (folded to one octave).
"""

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from tunesday import dbt
from tunesday.warehouse import connect as connect_warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="target/data")
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--warehouse", default="target/eval/tunesday.duckdb")
    parser.add_argument("--no-build", action="store_true", help="only report on an earlier build")
    args = parser.parse_args()
    data = Path(args.data).resolve()
    if not (data / "manifest.json").is_file():
        sys.exit(
            f"offline_eval: no generated data in {data} (its manifest.json): run `make run` or `make generate` "
            "first, or give --data"
        )
    manifest = json.loads((data / "manifest.json").read_text())
    last_day = dt.date.fromisoformat(manifest["args"]["end_date"]) - dt.timedelta(days=1)
    run_date = last_day - dt.timedelta(days=args.test_days)
    warehouse = Path(args.warehouse).resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    if not args.no_build:
        build = dbt.run(
            [
                "build",
                "--full-refresh",
                "--exclude",
                "resource_type:test",
                "--vars",
                json.dumps(
                    {
                        "run_date": run_date.isoformat(),
                        "eval_test_days": args.test_days,
                        "rebuild_published_weeks": True,
                    }
                ),
            ],
            dbt.duckdb_env(warehouse.parent, data / "raw", warehouse),
        )
        if not build.success:
            sys.exit(build.describe())

    con = connect_warehouse(str(warehouse))
    print(
        f"train: data up to {run_date}; test: streams of new-to-the-listener tracks {run_date + dt.timedelta(days=1)}"
        f" .. {last_day}"
    )
    rows = con.execute("select * from eval_discover_weekly order by list_name").fetchall()
    names = [d[0] for d in con.description]
    for row in rows:
        print(f"\n{row[0]}")
        for name, value in zip(names[1:], row[1:]):
            print(f"  {name:26} {value:.4f}" if isinstance(value, float) else f"  {name:26} {value}")

    truth = data / "truth"
    con.execute(f"create temp view taste as select * from read_parquet('{truth}/user_taste/*.parquet')")
    con.execute(f"create temp view artist_clusters as select * from read_parquet('{truth}/artist_clusters/*.parquet')")
    con.execute(f"create temp view profile as select * from read_parquet('{truth}/user_profile/*.parquet')")
    print("\nagainst the ground truth (generated data)")
    for name, relation in [
        ("discover_weekly", "fct_discover_weekly"),
        ("for_you (top 30)", "(select * from fct_user_recommendations where recommendation_rank <= 30)"),
        (
            "popular (top 30 by popularity, unplayed)",
            """(
            select u.user_id, p.track_id from (select distinct user_id from fct_discover_weekly) u
            cross join (select track_id, max(popularity_prior) pp from int_track_popularity group by 1) p
            anti join int_user_track_affinity_state s on s.user_id = u.user_id and s.track_id = p.track_id
            qualify row_number() over (partition by u.user_id order by pp desc, p.track_id) <= 30)""",
        ),
    ]:
        in_taste, tempo_gap = con.execute(f"""
            with items as (
                select l.user_id, t.artist_id, t.tempo_bpm from {relation} l join dim_tracks t using (track_id)
            ), folded as (
                select i.*, i.tempo_bpm * pow(2, floor(ln(160 / i.tempo_bpm) / ln(2))) as ft,
                       p.preferred_tempo * pow(2, floor(ln(160 / p.preferred_tempo) / ln(2))) as fp
                from items i join profile p using (user_id)
            )
            select avg((exists (select 1 from taste ut join artist_clusters ac using (cluster_id)
                                 where ut.user_id = f.user_id and ac.artist_id = f.artist_id))::int),
                   median(least(abs(ft - fp), abs(2 * ft - fp), abs(ft / 2 - fp)))
            from folded f
        """).fetchone()
        print(f"  {name:42} in true taste clusters {in_taste:.1%}, median tempo gap {tempo_gap:.1f} BPM")

    # Flow: adjacent tracks of a list in compatible keys (macro camelot_compatible) and within 8 % in
    # folded tempo, in the published order against the same tracks in score order.
    print("\nflow of the Discover Weekly lists (share of adjacent pairs)")
    for name, order in [("published (flow) order", "playlist_position"), ("score order", "score desc, track_id")]:
        compatible, tempo_close = con.execute(f"""
            with keyed as (
                select d.user_id, t.musical_mode as mode,
                       (7 * t.pitch_class + case when t.musical_mode = 1 then 7 else 4 end) % 12 + 1 as num,
                       t.tempo_bpm * pow(2, floor(ln(160 / t.tempo_bpm) / ln(2))) as ft,
                       row_number() over (partition by d.user_id order by {order}) as pos
                from fct_discover_weekly d join dim_tracks t using (track_id)
            ), pairs as (
                select a.*, b.mode as mode2, b.num as num2, b.ft as ft2
                from keyed a join keyed b on a.user_id = b.user_id and b.pos = a.pos + 1
            )
            select avg(((mode = mode2 and (num - num2 + 12) % 12 in (0, 1, 11)) or num = num2)::int),
                   avg((abs(ft - ft2) / least(ft, ft2) <= 0.08)::int)
            from pairs
        """).fetchone()
        print(f"  {name:24} compatible keys {compatible:.1%}, tempo within 8 % {tempo_close:.1%}")


if __name__ == "__main__":
    main()
