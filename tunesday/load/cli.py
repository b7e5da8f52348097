"""tunesday-load: real exports into the raw contract, on DuckDB (Parquet) or BigQuery (load jobs).

    tunesday-load spotify-history PATH... [--user-id ID]           Spotify extended streaming history
    tunesday-load spotify-account-history PATH... [--user-id ID]   Spotify account-data streaming history
    tunesday-load mpd PATH...                                      Million Playlist Dataset slices
    tunesday-load audio-features PATH...                           audio-features CSVs (Spotify API names)
    tunesday-load exposures PATH...                                the serving shim's exposure log
    tunesday-load raw RAW_DIR... --bigquery                        raw contract Parquet (generated data)

Load order: MPD slices, audio features and extended histories before account-data histories
(their plays are matched to the catalog's tracks by name), and a listener's extended history
before their account data (the plays both hold are loaded once, and the first export loaded
keeps its record: the extended one is richer). Give both exports of a listener the same
``--user-id``. ``raw`` takes raw contract Parquet files as they are (the generator's raw folder):
the one way generated data gets into BigQuery.

Target: the DuckDB raw folder (``--raw-dir``, default ``$TUNESDAY_RAW_DIR``), or with
``--bigquery`` the raw dataset ``$TUNESDAY_BQ_RAW_DATASET`` of ``$TUNESDAY_BQ_PROJECT`` in
``$TUNESDAY_BQ_LOCATION`` (``--endpoint`` for an emulator); defaults in ``tunesday.settings``.
Rows are only ever added: new Parquet files, or appending load
jobs into tables created with the contract's schema when missing.

Prints one line per input file (records read, rows written per table, already loaded, set aside
by reason, notes: values loaded as null, an account-data file's match rate, plays the listener's
other export holds; records per second) and a total. A file already loaded (same bytes, in the load
ledger) is skipped; a file's rows are written all or none, with its ledger entry. A bad record is
set aside with its reason and a bad file is reported on one line; the others still load.

Exit status: 0 everything loaded; 1 nothing usable; 2 the target cannot be used (BigQuery
refused, the raw folder cannot be written, its ledger is damaged, another load holds it) or bad
arguments; 3 loaded with rejections (a file failed, or records were rejected as bad: see the
report). See ``tunesday.load.report``, ``tunesday.load.runner`` and each loader's module.
"""

import argparse
import sys
from pathlib import Path

from google.api_core.exceptions import GoogleAPIError

from tunesday import settings
from tunesday.command import Parser
from tunesday.generate.writer import generated
from tunesday.load.audio_features import AudioFeatures
from tunesday.load.exposures import ExposureLog
from tunesday.load.mpd import MillionPlaylistDataset
from tunesday.load.raw_contract import RawContract
from tunesday.load.report import LoadReport
from tunesday.load.runner import run
from tunesday.load.spotify_account_history import SpotifyAccountHistory
from tunesday.load.spotify_history import SpotifyHistory
from tunesday.load.stores import BigQueryStore, ParquetStore, Store, StoreUnusable


def make_store(args: argparse.Namespace) -> Store:
    if not args.bigquery:
        _refuse_generated(args)
        return ParquetStore(args.raw_dir)
    from tunesday.load.bigquery import make_client

    return BigQueryStore(make_client(args.project, args.endpoint), args.dataset, args.location)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="tunesday-load", description=__doc__.splitlines()[0])
    target = Parser(add_help=False)
    target.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    target.add_argument(
        "--raw-dir",
        type=Path,
        default=Path(settings.required(settings.RAW_DIR)),
        help="DuckDB raw folder (default: $TUNESDAY_RAW_DIR)",
    )
    target.add_argument("--bigquery", action="store_true", help="load into BigQuery instead")
    target.add_argument("--project", default=settings.given(settings.BQ_PROJECT))
    target.add_argument("--dataset", default=settings.value(settings.BQ_RAW_DATASET))
    target.add_argument("--location", default=settings.value(settings.BQ_LOCATION))
    target.add_argument("--endpoint", help="API endpoint of a BigQuery emulator (e.g. http://127.0.0.1:9050)")
    listener = Parser(add_help=False)
    listener.add_argument(
        "--user-id", help="the listener's user id (default: the folder's name); the same for both exports of a listener"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "spotify-history",
        parents=[target, listener],
        help="Spotify extended streaming history (Streaming_History_Audio_*.json)",
    )
    commands.add_parser(
        "spotify-account-history",
        parents=[target, listener],
        help="Spotify account-data streaming history (StreamingHistory*.json: names "
        "and minutes, no ids; load the catalog and the extended history first)",
    )
    commands.add_parser("mpd", parents=[target], help="Million Playlist Dataset slices (mpd.slice.*.json[.gz])")
    commands.add_parser("audio-features", parents=[target], help="audio-features CSVs (Spotify Web API names)")
    commands.add_parser(
        "exposures",
        parents=[target],
        help="the serving shim's exposure log: its folder ($TUNESDAY_EXPOSURE_LOG) or files",
    )
    commands.add_parser(
        "raw",
        parents=[target],
        help="raw contract Parquet files as they are: a raw folder (the generator's), a table's folder, or files",
    )
    args = parser.parse_args(argv)
    if args.bigquery and not args.project:
        parser.error("--bigquery needs a Google Cloud project: set TUNESDAY_BQ_PROJECT or pass --project")
    try:
        args.source = {
            "spotify-history": lambda: SpotifyHistory(args.user_id),
            "spotify-account-history": lambda: SpotifyAccountHistory(args.user_id),
            "mpd": MillionPlaylistDataset,
            "audio-features": AudioFeatures,
            "exposures": ExposureLog,
            "raw": RawContract,
        }[args.command]()
    except ValueError as error:
        parser.error(str(error))
    return args


def _refuse_generated(args: argparse.Namespace) -> None:
    """Real exports never go into the generator's folder: mixed with synthetic listeners they would
    be neither, and the generator's next run would delete them. The shim's exposure logs of a
    generated warehouse belong with it (`exposures` may)."""
    folder = Path(args.raw_dir).resolve().parent
    if args.command != "exposures" and generated(folder):
        raise StoreUnusable(
            f"{args.raw_dir} holds generated data (written by tunesday-generate): load real exports into a raw "
            "folder of their own, --raw-dir DIR (README: Real data)"
        )


def load(argv: list[str] | None = None, echo=print) -> LoadReport:
    """Run one subcommand and return its report (what main prints)."""
    args = parse_args(argv)
    with make_store(args) as store:
        return run(args.source, args.paths, store, echo=echo)


def main(argv: list[str] | None = None) -> int:
    try:
        return load(argv).exit_code
    except GoogleAPIError as error:
        print(f"tunesday-load: BigQuery refused: {error}", file=sys.stderr)
    except StoreUnusable as error:
        print(f"tunesday-load: {error}", file=sys.stderr)
    except OSError as error:
        print(f"tunesday-load: cannot write the raw folder: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
