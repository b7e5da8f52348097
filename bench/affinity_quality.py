"""How well the affinity signals recover the generator's ground truth.

    python bench/affinity_quality.py [--warehouse target/tunesday.duckdb] [--truth target/data/truth]

For every listener, the true favourite artists (truth `user_favourite_artists`, favourite by the
warehouse's as-of date) are looked up in `fct_user_artist_affinity`. Prints the mean and median
rank of a true favourite, and the share of true favourites in the listener's top 10, for our
decayed affinity and, measured in the same run, for a plain lifetime stream count.
"""

import argparse

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", default="target/tunesday.duckdb")
    parser.add_argument("--truth", default="target/data/truth")
    args = parser.parse_args()
    con = duckdb.connect(args.warehouse, read_only=True)
    con.execute(f"""
        create temp view favourites as
        select f.user_id, f.artist_id
        from read_parquet('{args.truth}/user_favourite_artists/*.parquet') as f
        where f.favourite_from_date <= (select max(as_of_date) from fct_user_artist_affinity)
    """)
    con.execute("""
        create temp view ranked as
        select
            user_id, artist_id, affinity_rank,
            row_number() over (partition by user_id order by stream_count desc, artist_id) as stream_count_rank,
            count(*) over (partition by user_id) as artists_heard
        from fct_user_artist_affinity
    """)
    rows = con.execute("""
        select
            count(*) as favourites,
            count(distinct f.user_id) as listeners,
            avg(r.affinity_rank), median(r.affinity_rank), avg((r.affinity_rank <= 10)::int),
            avg(r.stream_count_rank), median(r.stream_count_rank), avg((r.stream_count_rank <= 10)::int),
            avg(r.artists_heard), avg((r.artist_id is null)::int)
        from favourites as f
        left join ranked as r using (user_id, artist_id)
    """).fetchone()
    favourites, listeners, mean_rank, median_rank, top10, count_mean, count_median, count_top10, heard, missing = rows
    print(f"true favourite artists   {favourites:,} of {listeners:,} listeners"
          f" (each has heard {heard:.0f} artists on average; {missing:.1%} of favourites never played)")
    print(f"decayed affinity         mean rank {mean_rank:.2f}, median {median_rank:.0f}, in top 10: {top10:.1%}")
    print(f"lifetime stream count    mean rank {count_mean:.2f}, median {count_median:.0f}, in top 10: {count_top10:.1%}")


if __name__ == "__main__":
    main()
