"""How well the signals recover the generator's ground truth (run after `make run`).

    python bench/signal_quality.py [--warehouse target/tunesday.duckdb] [--truth target/data/truth]

- Affinity: every listener's true favourite artists (truth `user_favourite_artists`, favourite
  by the warehouse's as-of date) looked up in `fct_user_artist_affinity`: mean and median rank,
  share in the top 10; and, in the same run, the same for a plain lifetime stream count.
- Similarity: share of `fct_track_similarity` neighbour pairs in the same genre, against chance
  (sum of squared genre shares of the catalog), and in the same true artist cluster.
- Exploration and diversity: correlation of `fct_user_exploration.exploration_propensity`
  with the true propensity, and mean generalist score by the true number of taste genres.
"""

import argparse

from tunesday.warehouse import connect as connect_warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", default="target/tunesday.duckdb")
    parser.add_argument("--truth", default="target/data/truth")
    args = parser.parse_args()
    con = connect_warehouse(args.warehouse)
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
    print(
        f"true favourite artists   {favourites:,} of {listeners:,} listeners"
        f" (each has heard {heard:.0f} artists on average; {missing:.1%} of favourites never played)"
    )
    print(f"decayed affinity         mean rank {mean_rank:.2f}, median {median_rank:.0f}, in top 10: {top10:.1%}")
    print(
        f"lifetime stream count    mean rank {count_mean:.2f}, median {count_median:.0f}, in top 10: {count_top10:.1%}"
    )

    pairs, same_genre, chance, same_cluster = con.execute(f"""
        with clusters as (select * from read_parquet('{args.truth}/artist_clusters/*.parquet'))
        select
            count(*),
            avg((a.genre = b.genre)::int),
            (select sum(p * p) from (select count(*) / sum(count(*)) over () as p from dim_tracks group by genre)),
            avg((ca.cluster_id = cb.cluster_id)::int)
        from fct_track_similarity as s
        inner join dim_tracks as a on s.track_id = a.track_id
        inner join dim_tracks as b on s.similar_track_id = b.track_id
        inner join clusters as ca on a.artist_id = ca.artist_id
        inner join clusters as cb on b.artist_id = cb.artist_id
    """).fetchone()
    print(
        f"similar tracks           {pairs:,} neighbour pairs: same genre {same_genre:.1%} (chance {chance:.1%},"
        f" {same_genre / chance:.1f}x), same true artist cluster {same_cluster:.1%}"
    )

    [(correlation,)] = con.execute(f"""
        select corr(e.exploration_propensity, t.exploration_propensity)
        from fct_user_exploration as e
        inner join read_parquet('{args.truth}/user_profile/*.parquet') as t using (user_id)
    """).fetchall()
    by_genres = con.execute(f"""
        select t.genres, avg(e.generalist_score)
        from fct_user_exploration as e
        inner join (
            select user_id, count(distinct genre) as genres
            from read_parquet('{args.truth}/user_taste/*.parquet') group by user_id
        ) as t using (user_id)
        group by t.genres order by t.genres
    """).fetchall()
    print(f"exploration propensity   correlation with the true propensity {correlation:.2f}")
    print(
        "generalist score         by true taste genres: "
        + ", ".join(f"{genres} → {score:.2f}" for genres, score in by_genres)
    )


if __name__ == "__main__":
    main()
