"""A readable report of each listener's Discover Weekly, read from a built DuckDB warehouse.

    python -m tunesday.report [--duckdb target/tunesday.duckdb] [--out target/reports/discover_weekly.md]

Per listener: their top artists (affinity), their tempo and key profile, and this week's 30
tracks in flow order with the reasons the warehouse gave (reason codes spelled out, ids replaced
by names).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
from tunesday.warehouse import connect as connect_warehouse

from tunesday import settings

TOP_ARTISTS = 10
TOP_KEYS = 3

REASONS = {
    "similar_tracks": "listened with {track}",
    "recent_similar_tracks": "listened with {track}, a recent favourite",
    "similar_artists": "fans of {artist} play them",
    "new_release": "new from {artist}",
    "popular": "popular in {segment}",
    "tempo_match": "in your tempo range",
    "key_match": "in a key you play",
    "new_artist": "an artist new to you",
    "known_artist": "an artist you know",
}


def _reason(code: str, artists: dict[str, str], tracks: dict[str, str]) -> str:
    name, _, argument = code.partition(":")
    template = REASONS.get(name)
    if template is None:
        return code
    return template.format(artist=artists.get(argument, argument), track=tracks.get(argument, argument),
                           segment=argument)


def _cell(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def render(con: duckdb.DuckDBPyConnection) -> str:
    artists = dict(con.execute("select artist_id, artist_name from stg_raw__artists").fetchall())
    tracks = dict(con.execute("select track_id, track_name from dim_tracks").fetchall())
    listeners = [row[0] for row in con.execute(
        "select distinct user_id from fct_discover_weekly order by user_id").fetchall()]
    lines = ["# Discover Weekly, listener by listener", ""]
    for user_id in listeners:
        [(week_start, played, streams)] = con.execute("""
            select (select max(week_start) from fct_discover_weekly where user_id = $1),
                   (select count(distinct track_id) from stg_raw__listening_events where user_id = $1),
                   (select count(*) from stg_raw__listening_events where user_id = $1)
        """, [user_id]).fetchall()
        lines += [f"## {user_id}", "",
                  f"{streams:,} plays of {played:,} tracks; Discover Weekly of the week of {week_start}.", ""]
        top = con.execute("""
            select affinity.artist_id, affinity.affinity_score, affinity.stream_count
            from fct_user_artist_affinity as affinity
            where affinity.user_id = $1
            order by affinity.affinity_score desc, affinity.artist_id
            limit $2
        """, [user_id, TOP_ARTISTS]).fetchall()
        lines.append("**Top artists:** " + ", ".join(
            f"{_cell(artists.get(artist_id, artist_id))} ({streams_of:,} stream{'' if streams_of == 1 else 's'})" for artist_id, _, streams_of in top))
        profile = con.execute("""
            select tempo_centre_bpm, tempo_spread_bpm, energy_centre, valence_centre, weighted_track_count
            from fct_user_audio_profile where user_id = $1
        """, [user_id]).fetchone()
        keys = con.execute("""
            select camelot_code, listening_share from fct_user_camelot_keys
            where user_id = $1 and key_rank <= $2 order by key_rank
        """, [user_id, TOP_KEYS]).fetchall()
        if profile is None:
            lines.append("**Tempo and keys:** no audio features for the tracks they play.")
        else:
            tempo, spread, energy, valence, weight = profile
            lines.append(f"**Tempo:** around {tempo:.0f} BPM (± {spread or 0:.0f}), energy {energy:.2f}, "
                         f"valence {valence:.2f} (from {weight:,} tracks with audio features). "
                         "**Keys:** " + (", ".join(f"{code} ({share:.0%})" for code, share in keys) or "none known")
                         + ".")
        lines += ["", "| # | track | artist | BPM | key | why |", "|---:|---|---|---:|---|---|"]
        for position, track_name, artist_name, tempo, camelot, codes in con.execute("""
            select weekly.playlist_position, tracks.track_name, tracks.artist_name, tracks.tempo_bpm,
                   tracks.camelot_code, weekly.reason_codes
            from fct_discover_weekly as weekly
            inner join dim_tracks as tracks on weekly.track_id = tracks.track_id
            where weekly.user_id = $1 and weekly.week_start = $2
            order by weekly.playlist_position
        """, [user_id, week_start]).fetchall():
            why = "; ".join(_reason(code, artists, tracks) for code in (codes or "").split(",") if code)
            lines.append(f"| {position} | {_cell(track_name)} | {_cell(artist_name)} | "
                         f"{'' if tempo is None else f'{tempo:.0f}'} | {_cell(camelot)} | {_cell(why)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunesday.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duckdb", default=settings.value(settings.DUCKDB_PATH))
    parser.add_argument("--out", default="target/reports/discover_weekly.md")
    args = parser.parse_args(argv)
    try:
        with connect_warehouse(args.duckdb) as con:
            text = render(con)
    except duckdb.Error as error:
        print(f"tunesday.report: cannot read the warehouse {args.duckdb}: {error}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
