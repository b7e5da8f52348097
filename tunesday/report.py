"""The analysts' report: one self-contained HTML file (charts as inline SVG, no script, nothing
fetched) read from a built DuckDB warehouse, written at the end of `make run`.

    tunesday report [--duckdb FILE] [--out target/reports/tunesday.html]
    tunesday report --user ID [--out target/reports/users/ID.html]

The warehouse report shows, each from the marts that hold it:
- the recommendations' quality over days: how many listeners streamed a track of their Discover
  Weekly in the days after it was made (eval_discover_weekly_outcomes, built by every daily run);
- where recommendations come from: the candidate sources of the pools, For You and Discover Weekly;
- discovery: the share of lists by artists new to the listener, of listening that is a first
  listen of an artist, and the discoveries that stuck, by the week they were made;
- tempo and Camelot keys of listening against recommendations;
- the Bloom filters of heard tracks: their sizes, and their false-positive rate measured by probing
  them with tracks their listener never heard, against the rate they were sized for;
- the raw rows rejected per source over the runs (audit_raw__row_counts_history);
and it writes the experiments' pages beside it (tunesday/experiment_report.py) and links them.

`--user ID` writes one listener's page: their top artists, tempo and key profile, and their 30
Discover Weekly tracks with their audio attributes and the reasons in words.

Every file is written whole or not at all. A warehouse that is missing or not built yet is a
one-line error (exit 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

from tunesday import charts, settings
from tunesday.bloom import BloomFilter
from tunesday.files import write_whole
from tunesday.reasons import all_in_words
from tunesday.warehouse import connect as connect_warehouse

TOP_ARTISTS = 10
TOP_KEYS = 3
#: Listeners whose Bloom filters are probed, and tracks they never heard probed in each.
BLOOM_LISTENERS = 300
BLOOM_PROBES = 400
#: Tempo bins of the distributions, in BPM.
TEMPO_BIN = 10
TEMPO_RANGE = (60, 200)
CAMELOT_CODES = [f"{number}{letter}" for number in range(1, 13) for letter in "AB"]
#: Weeks of discoveries (and of Discover Weekly outcomes) shown, and days of first listens.
DISCOVERY_WEEKS = 8
RECENT_DAYS = 28

STYLE = (
    "body{font-family:sans-serif;max-width:62em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
    "td.text,th.text{text-align:left}h2{margin-top:2em;border-bottom:1px solid #ddd}"
    "p.note{color:#555;max-width:48em}svg{display:block;margin:1em 0}"
)


class ReportError(Exception):
    """The warehouse cannot give the report (missing, or not built): one line for the user."""


def _page(title: str, body: list[str]) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def _table(header: list[str], rows: list[list[object]], text_columns: tuple[int, ...] = (0,)) -> str:
    """A table of escaped cells; the columns in `text_columns` are aligned left, the others right."""

    def cell(tag: str, index: int, value: object) -> str:
        css = ' class="text"' if index in text_columns else ""
        return f"<{tag}{css}>{html.escape('' if value is None else str(value))}</{tag}>"

    return (
        "<table><tr>"
        + "".join(cell("th", i, name) for i, name in enumerate(header))
        + "</tr>"
        + "".join("<tr>" + "".join(cell("td", i, value) for i, value in enumerate(row)) + "</tr>" for row in rows)
        + "</table>"
    )


def _shares(counts: dict[Any, float], categories: Sequence[object]) -> list[float]:
    total = sum(counts.values()) or 1.0
    return [counts.get(category, 0.0) / total for category in categories]


def _quality(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("""
        select week_start, as_of_date, day_number, listener_count, hit_rate, streamed_track_share
        from eval_discover_weekly_outcomes order by week_start, day_number
    """).fetchall()
    out = [
        "<h2>Recommendation quality over days</h2>",
        '<p class="note">Of the listeners who got a Discover Weekly, the share who streamed at least one of its '
        "tracks by each day after it was made (every track is one they had never played). One line per "
        "published week; a week's days appear as the daily runs pass them "
        "(<code>eval_discover_weekly_outcomes</code>).</p>",
    ]
    weeks = sorted({row[0] for row in rows})[-DISCOVERY_WEEKS:]
    out.append(
        charts.line_chart(
            {f"week of {week}": [(row[1], row[4]) for row in rows if row[0] == week] for week in weeks},
            "Listeners who streamed a track of their list",
            charts.percent,
        )
    )
    out.append(
        charts.line_chart(
            {f"week of {week}": [(row[1], row[5]) for row in rows if row[0] == week] for week in weeks},
            "Listed tracks streamed",
            charts.percent,
        )
    )
    latest = [row for row in rows if row[0] in weeks and row[2] == max(r[2] for r in rows if r[0] == row[0])]
    out.append(
        _table(
            ["week", "days since made", "listeners", "hit rate", "listed tracks streamed"],
            [
                [week, day, f"{listeners:,}", f"{hit:.1%}", f"{share:.2%}"]
                for week, _, day, listeners, hit, share in latest
            ],
        )
    )
    return out


def _sources(con: duckdb.DuckDBPyConnection) -> list[str]:
    mixes = {
        "candidate pools": dict(
            con.execute("select best_source, count(*) from int_user_candidates group by best_source").fetchall()
        ),
        "For You": dict(
            con.execute("select best_source, count(*) from fct_user_recommendations group by best_source").fetchall()
        ),
        "Discover Weekly": dict(
            con.execute("""
            select best_source, count(*) from fct_discover_weekly
            where week_start = (select max(week_start) from fct_discover_weekly) group by best_source
        """).fetchall()
        ),
    }
    sources = sorted(
        {source for mix in mixes.values() for source in mix},
        key=lambda source: -sum(mix.get(source, 0) for mix in mixes.values()),
    )
    labels = [source.replace("_", " ") for source in sources]
    return [
        "<h2>Where recommendations come from</h2>",
        '<p class="note">Each candidate\'s best source (the one that scored it highest), as a share of the '
        "listeners' candidate pools, of For You and of this week's Discover Weekly: a source that "
        "dominates the pools but not the lists is one the ranking discounts.</p>",
        charts.bar_chart(
            labels,
            {name: _shares(mix, sources) for name, mix in mixes.items()},
            "Share by best candidate source",
            charts.percent,
        ),
    ]


def _discovery(con: duckdb.DuckDBPyConnection) -> list[str]:
    [(dw_share, fy_share)] = con.execute("""
        select
            (select avg(case when is_new_artist then 1.0 else 0.0 end) from fct_discover_weekly
             where week_start = (select max(week_start) from fct_discover_weekly)),
            (select avg(case when is_new_artist then 1.0 else 0.0 end) from fct_user_recommendations)
    """).fetchall()
    first_listens = con.execute(f"""
        select listened_date, sum(case when is_first_listen then stream_count else 0 end) / sum(stream_count)
        from fct_user_artist_days
        where listened_date > (select max(listened_date) from fct_user_artist_days) - interval {RECENT_DAYS} day
        group by listened_date having sum(stream_count) > 0 order by listened_date
    """).fetchall()
    outcomes = con.execute("""
        select date_trunc('week', first_listen_date) as week, discovery_outcome, count(*)
        from fct_user_artist_familiarity where is_discovery group by all order by week
    """).fetchall()
    weeks = sorted({row[0] for row in outcomes})[-DISCOVERY_WEEKS:]
    kinds = ["stuck", "did_not_stick", "pending"]
    counts = {(week, kind): n for week, kind, n in outcomes}
    return [
        "<h2>Discovery</h2>",
        f'<p class="note">Tracks by an artist new to the listener: {dw_share or 0:.0%} of this week\'s Discover '
        f"Weekly, {fy_share or 0:.0%} of For You. In their own listening, the share of streams that were a "
        f"first listen of an artist, day by day over the last {RECENT_DAYS} days (the first days of the data "
        "are all first listens):</p>",
        charts.line_chart(
            {"first listens of an artist": [(day, share) for day, share in first_listens]},
            "Streams that discover an artist",
            charts.percent,
        ),
        '<p class="note">Discoveries (an artist\'s first stream) by the week they were made, and whether they '
        "stuck (the listener came back to the artist on later days), did not, or cannot tell yet (pending: too "
        "recent to say; <code>fct_user_artist_familiarity</code>).</p>",
        charts.bar_chart(
            [str(week.date() if hasattr(week, "date") else week) for week in weeks],
            {kind.replace("_", " "): [counts.get((week, kind), 0) for week in weeks] for kind in kinds},
            "Discoveries by week and outcome",
            charts.number,
            stacked=True,
        ),
    ]


def _audio(con: duckdb.DuckDBPyConnection) -> list[str]:
    low, high = TEMPO_RANGE
    bins = list(range(low, high, TEMPO_BIN))
    bin_of = f"least(greatest(cast(floor(tracks.tempo_bpm / {TEMPO_BIN}) * {TEMPO_BIN} as integer), {low}), {bins[-1]})"
    [(last_day,)] = con.execute("select max(listened_date) from fct_user_track_days").fetchall()
    sources = {
        "listening (28 days)": (
            "select track_id, stream_count as weight from fct_user_track_days "
            f"where listened_date > cast('{last_day}' as date) - interval 28 day"
        ),
        "Discover Weekly": (
            "select track_id, 1 as weight from fct_discover_weekly "
            "where week_start = (select max(week_start) from fct_discover_weekly)"
        ),
        "For You": "select track_id, 1 as weight from fct_user_recommendations",
    }
    tempo, keys = {}, {}
    for name, rows in sources.items():
        tempo[name] = _shares(
            dict(
                con.execute(f"""
            select {bin_of}, sum(rows.weight) from ({rows}) as rows
            inner join dim_tracks as tracks on rows.track_id = tracks.track_id
            where tracks.tempo_bpm is not null group by 1
        """).fetchall()
            ),
            bins,
        )
        keys[name] = _shares(
            dict(
                con.execute(f"""
            select tracks.camelot_code, sum(rows.weight) from ({rows}) as rows
            inner join dim_tracks as tracks on rows.track_id = tracks.track_id
            where tracks.camelot_code is not null group by 1
        """).fetchall()
            ),
            CAMELOT_CODES,
        )
    return [
        "<h2>Tempo and key: listening against recommendations</h2>",
        '<p class="note">Shares of streams (listening, the last 28 days) and of listed tracks, by tempo '
        f"({TEMPO_BIN} BPM bins; the ends gather everything beyond) and by Camelot key (A minor, B major). "
        "Recommendations that follow listeners' taste have the listening's shape.</p>",
        charts.bar_chart([str(b) for b in bins], tempo, "Tempo (BPM)", charts.percent),
        charts.bar_chart(CAMELOT_CODES, keys, "Camelot key", charts.percent),
    ]


def measured_bloom_false_positives(
    con: duckdb.DuckDBPyConnection, listeners: int = BLOOM_LISTENERS, probes: int = BLOOM_PROBES
) -> tuple[int, int, float]:
    """Probe the filters of up to `listeners` listeners each with up to `probes` catalog tracks the
    listener never heard: (false positives, probes, mean expected rate of the filters probed)."""
    filters = con.execute(
        """
        select user_id, bit_count, hash_count, expected_false_positive_rate from serving_bloom_filters
        order by user_id limit ?
    """,
        [listeners],
    ).fetchall()
    if not filters:
        return 0, 0, 0.0
    words: dict[str, dict[int, int]] = {}
    for user_id, index, word in con.execute(
        """
        select words.user_id, words.word_index, words.word from serving_bloom_filter_words as words
        where words.user_id in (select user_id from serving_bloom_filters order by user_id limit ?)
    """,
        [listeners],
    ).fetchall():
        words.setdefault(user_id, {})[index] = word
    catalog = [
        row[0]
        for row in con.execute("select track_id from dim_tracks order by track_id limit ?", [probes * 4]).fetchall()
    ]
    heard: dict[str, set[str]] = {}
    for user_id, track_id in con.execute(
        """
        select user_id, track_id from int_user_heard_tracks
        where user_id in (select user_id from serving_bloom_filters order by user_id limit ?)
    """,
        [listeners],
    ).fetchall():
        heard.setdefault(user_id, set()).add(track_id)
    positives = probed = 0
    for user_id, bit_count, hash_count, _ in filters:
        bloom = BloomFilter(bit_count, hash_count, words.get(user_id, {}))
        unheard = [track for track in catalog if track not in heard.get(user_id, set())][:probes]
        probed += len(unheard)
        positives += sum(1 for track in unheard if bloom.might_contain(track))
    return positives, probed, sum(row[3] for row in filters) / len(filters)


def _bloom(con: duckdb.DuckDBPyConnection) -> list[str]:
    [(listeners, items_median, items_max, bytes_median, bytes_max, bytes_total, target)] = con.execute("""
        select count(*), median(item_count), max(item_count), median(word_count * 8), max(word_count * 8),
               sum(word_count * 8), max(target_false_positive_rate)
        from serving_bloom_filters
    """).fetchall()
    sizes = dict(
        con.execute("""
        select least(cast(floor(log2(greatest(word_count * 8, 1))) as integer), 20), count(*)
        from serving_bloom_filters group by 1
    """).fetchall()
    )
    classes = list(range(min(sizes, default=0), max(sizes, default=0) + 1))
    positives, probed, expected = measured_bloom_false_positives(con)
    measured = positives / probed if probed else 0.0
    return [
        "<h2>Bloom filters of heard tracks</h2>",
        '<p class="note">Each listener\'s filter holds the tracks they have heard, so that a surface never '
        "serves one again; it answers “maybe heard” for some tracks they never heard (a false positive: a "
        "recommendation lost, never a repeat).</p>",
        _table(
            [
                "listeners",
                "tracks per filter (median, max)",
                "bytes per filter (median, max)",
                "bytes in all",
                "sized for",
                "expected rate",
                "measured rate",
            ],
            [
                [
                    f"{listeners:,}",
                    f"{items_median:,.0f}, {items_max:,}",
                    f"{bytes_median:,.0f}, {bytes_max:,}",
                    f"{bytes_total:,}",
                    f"{target or 0:.2%}",
                    f"{expected:.2%}",
                    f"{measured:.2%} ({positives:,} of {probed:,} probes)",
                ]
            ],
            text_columns=(),
        ),
        f'<p class="note">Measured: the filters of {min(listeners, BLOOM_LISTENERS):,} listeners, each probed '
        f"with up to {BLOOM_PROBES} catalog tracks the listener never heard.</p>",
        charts.bar_chart(
            [f"{2**c:,}" for c in classes],
            {"listeners": [sizes.get(c, 0) for c in classes]},
            "Listeners by filter size (bytes, powers of two)",
            charts.number,
        ),
    ]


def _rejections(con: duckdb.DuckDBPyConnection) -> list[str]:
    history = con.execute("""
        select run_date, source_table, rejected_share from audit_raw__row_counts_history order by run_date, source_table
    """).fetchall()
    latest = con.execute("""
        select source_table, raw_rows, accepted_rows, rejected_rows, duplicate_rows, too_late_rows, rejected_share
        from audit_raw__row_counts order by source_table
    """).fetchall()
    sources = sorted({row[1] for row in history})
    return [
        "<h2>Raw rows rejected, per source over runs</h2>",
        '<p class="note">The share of each raw table\'s rows that staging set aside as malformed, as each run '
        "left it (<code>audit_raw__row_counts_history</code>): a feed degrading shows here before it fails "
        "the build. Reasons per row are in the <code>quarantine_</code> tables.</p>",
        charts.line_chart(
            {source: [(run, share) for run, name, share in history if name == source] for source in sources},
            "Rejected share by run",
            charts.percent,
        ),
        _table(
            ["source", "raw", "accepted", "rejected", "duplicates", "too late", "rejected share"],
            [
                [source, f"{raw:,}", f"{accepted:,}", f"{rejected:,}", f"{duplicates:,}", f"{late:,}", f"{share:.2%}"]
                for source, raw, accepted, rejected, duplicates, late, share in latest
            ],
        ),
    ]


def warehouse_report(con: duckdb.DuckDBPyConnection, experiment_links: Sequence[tuple[str, str]] = ()) -> str:
    """The warehouse report's HTML; `experiment_links` are (name, relative href) of the experiments'
    pages."""
    [(run_date, listeners, tracks)] = con.execute("""
        select (select max(run_date) from serving_users), (select count(*) from serving_users),
               (select count(*) from dim_tracks)
    """).fetchall()
    body = [
        f"<h1>Tunesday: the warehouse on {run_date}</h1>",
        f'<p class="note">{listeners:,} listeners served, {tracks:,} tracks in the catalog. Written by '
        f"<code>tunesday report</code> at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        "every chart's data is a mart named under it (the docs site, <code>make docs</code>, describes "
        "each).</p>",
    ]
    if experiment_links:
        body.append(
            "<p>Experiments: "
            + ", ".join(f'<a href="{html.escape(href)}">{html.escape(name)}</a>' for name, href in experiment_links)
            + "</p>"
        )
    for section in (_quality, _sources, _discovery, _audio, _bloom, _rejections):
        body += section(con)
    return _page(f"Tunesday warehouse report, {run_date}", body)


def listener_page(con: duckdb.DuckDBPyConnection, user_id: str) -> str:
    """One listener's page: top artists, tempo and key profile, their Discover Weekly with reasons."""
    [(known,)] = con.execute("select count(*) from serving_users where user_id = ?", [user_id]).fetchall()
    if not known:
        raise ReportError(f"no listener {user_id!r} in the warehouse's serving_users")
    artists = dict(con.execute("select artist_id, artist_name from stg_raw__artists").fetchall())
    tracks = dict(con.execute("select track_id, track_name from dim_tracks").fetchall())
    [(week_start, streams, played)] = con.execute(
        """
        select (select max(week_start) from fct_discover_weekly where user_id = $1),
               (select coalesce(sum(stream_count), 0) from fct_user_track_days where user_id = $1),
               (select count(distinct track_id) from fct_user_track_days where user_id = $1)
    """,
        [user_id],
    ).fetchall()
    esc = html.escape
    body = [
        f"<h1>Listener <code>{esc(user_id)}</code></h1>",
        f'<p class="note">{streams:,} streams of {played:,} tracks; Discover Weekly of the week of {week_start}.</p>',
    ]
    top = con.execute(
        """
        select artist_id, affinity_score, stream_count from fct_user_artist_affinity
        where user_id = $1 order by affinity_score desc, artist_id limit $2
    """,
        [user_id, TOP_ARTISTS],
    ).fetchall()
    body.append("<h2>Top artists</h2>")
    body.append(
        charts.bar_chart(
            [artists.get(artist, artist) for artist, _, _ in top],
            {"affinity": [score for _, score, _ in top]},
            "Artist affinity",
            charts.number,
        )
    )
    body.append(
        _table(
            ["artist", "affinity", "streams"],
            [[artists.get(artist, artist), f"{score:.2f}", f"{count:,}"] for artist, score, count in top],
        )
    )
    profile = con.execute(
        """
        select tempo_centre_bpm, tempo_spread_bpm, energy_centre, valence_centre, weighted_track_count
        from fct_user_audio_profile where user_id = ?
    """,
        [user_id],
    ).fetchone()
    keys = dict(
        con.execute(
            "select camelot_code, listening_share from fct_user_camelot_keys where user_id = ?", [user_id]
        ).fetchall()
    )
    body.append("<h2>Tempo and keys</h2>")
    if profile is None:
        body.append("<p>No audio features for the tracks they play.</p>")
    else:
        tempo, spread, energy, valence, weight = profile
        top_keys = sorted(keys.items(), key=lambda item: -item[1])[:TOP_KEYS]
        body.append(
            f"<p>Tempo around <b>{tempo:.0f} BPM</b> (± {spread or 0:.0f}), energy {energy:.2f}, valence "
            f"{valence:.2f}, from {weight:,} tracks with audio features. Keys: "
            + (", ".join(f"<b>{esc(code)}</b> ({share:.0%})" for code, share in top_keys) or "none known")
            + ".</p>"
        )
        body.append(
            charts.bar_chart(
                CAMELOT_CODES,
                {"listening share": [keys.get(code, 0.0) for code in CAMELOT_CODES]},
                "Listening by Camelot key",
                charts.percent,
            )
        )
    rows = con.execute(
        """
        select weekly.playlist_position, tracks.track_name, tracks.artist_name, tracks.tempo_bpm, tracks.camelot_code,
               tracks.energy, tracks.valence, weekly.is_new_artist, weekly.reason_codes
        from fct_discover_weekly as weekly
        inner join dim_tracks as tracks on weekly.track_id = tracks.track_id
        where weekly.user_id = $1 and weekly.week_start = $2
        order by weekly.playlist_position
    """,
        [user_id, week_start],
    ).fetchall()
    body.append(f"<h2>Discover Weekly ({len(rows)} tracks)</h2>")
    body.append(
        _table(
            ["#", "track", "artist", "BPM", "key", "energy", "valence", "why"],
            [
                [
                    position,
                    name,
                    artist,
                    "" if tempo is None else f"{tempo:.0f}",
                    camelot or "",
                    "" if energy is None else f"{energy:.2f}",
                    "" if valence is None else f"{valence:.2f}",
                    "; ".join(all_in_words(codes, artists, tracks)),
                ]
                for position, name, artist, tempo, camelot, energy, valence, _, codes in rows
            ],
            text_columns=(1, 2, 7),
        )
    )
    return _page(f"Listener {user_id}", body)


def write(duckdb_path: str, out: Path | None, user_id: str | None) -> list[Path]:
    """Write the report (or one listener's page) and, for the report, the experiments' pages
    beside it; the paths written."""
    from tunesday.experiment_report import write_reports

    if not Path(duckdb_path).exists():
        raise ReportError(f"the warehouse {duckdb_path} is not built: run `make run` or `tunesday daily` first")
    try:
        con = connect_warehouse(duckdb_path)
    except (duckdb.Error, OSError) as error:
        raise ReportError(f"cannot open the warehouse {duckdb_path}: {str(error).splitlines()[0]}") from None
    try:
        if user_id is not None:
            path = out or Path("target/reports/users") / f"{quote(user_id, safe='')}.html"
            write_whole(path, listener_page(con, user_id).encode())
            return [path]
        path = out or Path("target/reports/tunesday.html")
        path.parent.mkdir(parents=True, exist_ok=True)
        experiments = write_reports(con, path.parent / "experiments")
        links = [(page.stem, f"experiments/{page.name}") for page in experiments if page.name != "index.html"]
        write_whole(path, warehouse_report(con, links).encode())
        return [path, *experiments]
    except duckdb.CatalogException as error:
        raise ReportError(
            f"the warehouse {duckdb_path} is not built (run `make run` or `tunesday daily` first): "
            f"{str(error).splitlines()[0]}"
        ) from None
    finally:
        con.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duckdb", default=settings.value(settings.DUCKDB_PATH), help="the warehouse file")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the file to write (default target/reports/tunesday.html, or target/reports/users/ID.html with --user)",
    )
    parser.add_argument("--user", default=None, help="write this listener's page instead")


def run(args: argparse.Namespace) -> int:
    try:
        paths = write(args.duckdb, args.out, args.user)
    except ReportError as error:
        print(f"tunesday report: {error}", file=sys.stderr)
        return 1
    print(f"tunesday report: wrote {', '.join(str(path) for path in paths)}")
    return 0
