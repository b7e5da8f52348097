"""tunesday-recsys: playlist continuation the RecSys Challenge 2018 way.

    tunesday-recsys split MPD_PATH... [--out target/recsys] [--test-playlists 1000] [--seed 0]
        MPD slices (files or folders) -> challenge.json, ground_truth.json.gz, train.json.gz
    tunesday-recsys baseline popularity|cooccurrence [--out FILE.csv.gz]
        training playlists + challenge file -> a submission
    tunesday-recsys continue [--out target/recsys/tunesday.csv.gz]
        the project's ranking (dbt model fct_playlist_continuations, built on the training and
        challenge playlists) -> a submission
    tunesday-recsys generators [--work target/recsys/warehouse] [--at 500 1000]
        each candidate generator's own list and their union, from the warehouse `continue` built ->
        the metrics table and recall at each cut-off
    tunesday-recsys fit-generators --duckdb FILE | --bigquery
        the Python step between the two dbt runs of the continuations: ALS and EASE fitted on the
        warehouse's playlists, their candidates written to source recsys (`continue` runs it itself)
    tunesday-recsys train-ranker [--train target/recsys/train.json.gz] [--cuts 11 12 13 14]
        the reranker of the continuations (LightGBM lambdarank) trained on pseudo-queries cut from
        the training playlists -> rankers/continuation_ranker.txt and its SQL,
        macros/rankers/continuation_ranker.sql; prints its validation metrics and feature importances
    tunesday-recsys train-listener-ranker [--data target/data] [--test-days 7]
        the listeners' reranker (For You and Discover Weekly) trained on a time split of a listening
        data folder (tunesday/recsys/listeners.py) -> rankers/listener_ranker.txt and
        macros/rankers/listener_ranker.sql; prints its held-out metrics and feature importances
    tunesday-recsys score [SUBMISSION...] [--train target/recsys/train.json.gz] [--peers ease,als]
        submissions (validated first) + ground truth -> Markdown table per seed count and overall;
        with --train, the popularity and co-occurrence baselines are computed and scored in the same run;
        with --peers, EASE and implicit's ALS too, each tuned on a validation split of the training
        playlists, then a paired bootstrap of every submission against the best peer

Paths default to the files `split` writes in target/recsys. Exit status 1, with the reasons,
when an input is invalid (a submission that breaks the format, too few eligible playlists).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

from tunesday.command import Parser
from tunesday.dbt import PROJECT_DIR
from tunesday.mpd import Playlist, ReadStats, read_playlists
from tunesday.recsys import baselines, metrics, peers
from tunesday.recsys.split import MIN_HOLDOUTS, SEED_COUNTS, make_split, read_challenge, read_ground_truth, write_split
from tunesday.recsys.submission import (
    TRACKS_PER_PLAYLIST,
    Submission,
    SubmissionError,
    read_valid_submission,
    validate,
    write_submission,
)
from tunesday.settings import SettingMissing

DEFAULT_DIR = Path("target/recsys")
DEFAULT_TEAM = "tunesday"
DEFAULT_EMAIL = "recsys@tunesday.example"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="tunesday-recsys", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    split_parser = commands.add_parser("split", help="make a challenge set, its ground truth and the training set")
    split_parser.add_argument("mpd", nargs="+", help="MPD slice files (.json or .json.gz) or folders of them")
    split_parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    split_parser.add_argument(
        "--test-playlists",
        type=int,
        default=1000,
        help="test playlists, half with 5 seeds, half with 25 (default 1000)",
    )
    split_parser.add_argument("--seed", type=int, default=0)
    split_parser.add_argument(
        "--min-holdouts",
        type=int,
        default=MIN_HOLDOUTS,
        help=f"smallest ground truth (distinct non-seed tracks) of a test playlist (default {MIN_HOLDOUTS})",
    )

    baseline_parser = commands.add_parser("baseline", help="write a baseline's submission")
    baseline_parser.add_argument("name", choices=sorted(baselines.BASELINES))
    baseline_parser.add_argument("--train", type=Path, default=DEFAULT_DIR / "train.json.gz")
    baseline_parser.add_argument("--challenge", type=Path, default=DEFAULT_DIR / "challenge.json")
    baseline_parser.add_argument("--out", type=Path, help="default target/recsys/<name>.csv.gz")
    baseline_parser.add_argument("--team", default=DEFAULT_TEAM)
    baseline_parser.add_argument("--email", default=DEFAULT_EMAIL)

    continue_parser = commands.add_parser("continue", help="the project's SQL ranking's submission")
    continue_parser.add_argument("--train", type=Path, default=DEFAULT_DIR / "train.json.gz")
    continue_parser.add_argument("--challenge", type=Path, default=DEFAULT_DIR / "challenge.json")
    continue_parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_DIR / "warehouse",
        help="raw folder and DuckDB warehouse of the run (replaced)",
    )
    continue_parser.add_argument("--out", type=Path, default=DEFAULT_DIR / "tunesday.csv.gz")
    continue_parser.add_argument("--team", default=DEFAULT_TEAM)
    continue_parser.add_argument("--email", default=DEFAULT_EMAIL)
    continue_parser.add_argument(
        "--ranking",
        choices=("ranker", "blend"),
        default="ranker",
        help="the second stage: the learned reranker (default) or the hand-weighted blend",
    )

    continue_parser.add_argument(
        "--depth", type=int, help="each generator's candidates per playlist (default: var continuation_generator_depth)"
    )

    generators_parser = commands.add_parser(
        "generators", help="score each candidate generator alone and their union, from a `continue` warehouse"
    )
    generators_parser.add_argument("--work", type=Path, default=DEFAULT_DIR / "warehouse")
    generators_parser.add_argument(
        "--depth", type=int, help="the depth the warehouse was built with (default: the var's)"
    )
    generators_parser.add_argument("--challenge", type=Path, default=DEFAULT_DIR / "challenge.json")
    generators_parser.add_argument("--ground-truth", type=Path, default=DEFAULT_DIR / "ground_truth.json.gz")
    generators_parser.add_argument("--at", type=int, nargs="+", default=[500, 1000], help="recall cut-offs")

    fit_parser = commands.add_parser(
        "fit-generators",
        help="the fitted generators' step (ALS, EASE) on a warehouse built up to int_playlist_track_keys",
    )
    where = fit_parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--duckdb", type=Path, help="the DuckDB warehouse file")
    where.add_argument(
        "--bigquery",
        action="store_true",
        help="the BigQuery target of TUNESDAY_TARGET (bigquery or bq_emulator) and its settings",
    )
    fit_parser.add_argument(
        "--max-seed-tracks",
        type=int,
        help="continue playlists of at most this many tracks (default: var continuation_max_seed_tracks)",
    )
    fit_parser.add_argument(
        "--depth", type=int, help="candidates per playlist (default: var continuation_feature_depth)"
    )

    ranker_parser = commands.add_parser("train-ranker", help="train the continuations' reranker on pseudo-queries")
    ranker_parser.add_argument("--train", type=Path, default=DEFAULT_DIR / "train.json.gz")
    ranker_parser.add_argument(
        "--cuts",
        type=int,
        nargs="+",
        default=[11, 12, 13, 14],
        help="shuffle seeds of the pseudo-query splits of --train, one warehouse each",
    )
    ranker_parser.add_argument("--per-cut", type=int, default=500, help="pseudo-queries per cut (default 500)")
    ranker_parser.add_argument(
        "--work", type=Path, default=DEFAULT_DIR / "ranker", help="the cuts' splits and warehouses (replaced)"
    )
    ranker_parser.add_argument(
        "--artifacts",
        type=Path,
        default=PROJECT_DIR,
        help="write rankers/ and macros/rankers/ under this folder (default: the project's)",
    )

    listener_parser = commands.add_parser(
        "train-listener-ranker", help="train the listeners' reranker on a time split of listening"
    )
    listener_parser.add_argument(
        "--data",
        type=Path,
        default=Path("target/data"),
        help="a data folder (manifest.json and raw/), e.g. tunesday-generate's",
    )
    listener_parser.add_argument(
        "--test-days",
        type=int,
        default=7,
        help="label days; the warehouse is built as of the last day minus twice this",
    )
    listener_parser.add_argument(
        "--work", type=Path, default=Path("target/listener-ranker"), help="the training warehouse (replaced)"
    )
    listener_parser.add_argument(
        "--artifacts",
        type=Path,
        default=PROJECT_DIR,
        help="write rankers/ and macros/rankers/ under this folder (default: the project's)",
    )

    score_parser = commands.add_parser("score", help="score submissions, and the baselines with --train")
    score_parser.add_argument("submissions", nargs="*", type=Path)
    score_parser.add_argument("--challenge", type=Path, default=DEFAULT_DIR / "challenge.json")
    score_parser.add_argument("--ground-truth", type=Path, default=DEFAULT_DIR / "ground_truth.json.gz")
    score_parser.add_argument(
        "--train", type=Path, help="training playlists: compute and score the baselines in this run too"
    )
    score_parser.add_argument(
        "--baselines", default=",".join(baselines.BASELINES), help="with --train, which baselines (default: all)"
    )
    score_parser.add_argument(
        "--peers",
        default="",
        help=f"with --train, the tuned peers to fit in this run too, of {sorted(peers.PEERS)} "
        "(needs the recsys extra; tuned on a validation split of --train)",
    )
    score_parser.add_argument(
        "--validation-seed",
        type=int,
        default=0,
        help="the peers' validation split: its shuffle seed, before the offset "
        f"{peers.VALIDATION_SEED_OFFSET} (default 0)",
    )
    score_parser.add_argument(
        "--resamples", type=int, default=10_000, help="the paired bootstrap's resamples (default 10000)"
    )

    args = parser.parse_args(argv)
    try:
        return {
            "split": run_split,
            "baseline": run_baseline,
            "continue": run_continue,
            "generators": run_generators,
            "fit-generators": run_fit_generators,
            "train-ranker": run_train_ranker,
            "train-listener-ranker": run_train_listener_ranker,
            "score": run_score,
        }[args.command](args)
    except (SubmissionError, ValueError, OSError, SettingMissing) as problem:
        print(f"tunesday-recsys {args.command}: {problem}", file=sys.stderr)
        return 1


def read_training(path: Path) -> list[Playlist]:
    """Training playlists as `split` wrote them: any damage or bad record means a wrong file."""
    stats = ReadStats()
    playlists = list(read_playlists([path], stats))
    if stats.damaged_files or stats.skipped:
        raise ValueError(f"training file {path} is not as split wrote it: {stats.as_dict()}")
    return playlists


def run_split(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    stats = ReadStats()
    playlists = list(read_playlists(args.mpd, stats))
    for damaged in stats.damaged_files:
        print(f"tunesday-recsys split: damaged input, playlists before the damage kept: {damaged}", file=sys.stderr)
    split = make_split(playlists, args.test_playlists, args.seed, SEED_COUNTS, args.min_holdouts)
    paths = write_split(split, args.out, args.seed, args.min_holdouts)
    summary = {
        "read": stats.as_dict(),
        "test_playlists": {f"{k} seeds": sum(case.num_samples == k for case in split.cases) for k in SEED_COUNTS},
        "train_playlists": len(split.train),
        "files": {key: str(path) for key, path in paths.items()},
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(summary, indent=2))
    return 0


def timed_baseline(name: str, train: list[Playlist], challenge: list[Playlist]) -> tuple[dict[int, list[str]], float]:
    """A baseline's recommendations and its seconds (index build + ranking, files not counted)."""
    started = time.perf_counter()
    recommendations = baselines.BASELINES[name](baselines.build_index(train), challenge)
    return recommendations, time.perf_counter() - started


def run_baseline(args: argparse.Namespace) -> int:
    challenge = read_challenge(args.challenge)
    train = read_training(args.train)
    recommendations, seconds = timed_baseline(args.name, train, challenge)
    out = args.out or DEFAULT_DIR / f"{args.name}.csv.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_submission(
        out,
        recommendations,
        args.team,
        args.email,
        runtime_seconds=seconds,
        comments=[f"tunesday-recsys baseline {args.name}: {len(train)} training playlists"],
    )
    read_valid_submission(out, challenge)
    print(f"{out}: {len(recommendations)} playlists in {seconds:.2f} s")
    return 0


def run_continue(args: argparse.Namespace) -> int:
    from tunesday.recsys.warehouse import continuations

    challenge = read_challenge(args.challenge)
    train = read_training(args.train)
    recommendations, seconds = continuations(
        args.train, args.challenge, train, challenge, args.work, args.ranking, args.depth
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_submission(
        args.out,
        recommendations,
        args.team,
        args.email,
        runtime_seconds=seconds,
        comments=[
            f"tunesday-recsys continue: dbt model fct_playlist_continuations, "
            f"ranking {args.ranking}, {len(train)} training playlists"
        ],
    )
    read_valid_submission(args.out, challenge)
    print(f"{args.out}: {len(recommendations)} playlists in {seconds:.1f} s (load + dbt build + read)")
    return 0


def run_fit_generators(args: argparse.Namespace) -> int:
    import os

    from tunesday.recsys import fitted
    from tunesday.recsys.warehouse import project_var

    depth = args.depth or int(project_var("continuation_feature_depth"))
    longest = args.max_seed_tracks or int(project_var("continuation_max_seed_tracks"))
    if args.duckdb:
        written = fitted.write_fitted_candidates(args.duckdb, depth, longest)
    else:
        from tunesday.job.target import from_env
        from tunesday.load.bigquery import make_client

        target = from_env(os.environ)
        if target.is_duckdb:
            raise ValueError("--bigquery needs TUNESDAY_TARGET=bigquery or bq_emulator")
        written = fitted.write_fitted_candidates_bigquery(
            make_client(target.bq_project, target.bq_endpoint), target.bq_dataset, depth, longest
        )
    print(
        f"{written.playlists} playlists continued; "
        + ", ".join(
            f"{model}: {written.rows[model]:,} candidates in {written.seconds[model]:.1f} s" for model in written.rows
        )
        + f"; {written.total_seconds:.1f} s in all"
    )
    return 0


def run_generators(args: argparse.Namespace) -> int:
    from tunesday.recsys.warehouse import generator_lists, project_var

    challenge = read_challenge(args.challenge)
    truth = read_ground_truth(args.ground_truth)
    seeds = {playlist.pid: playlist.track_uris for playlist in challenge}
    depth = args.depth or int(project_var("continuation_generator_depth"))
    lists = generator_lists(args.work / "warehouse.duckdb", depth)
    print(
        f"candidates of {args.work} (depth {depth} per generator); the metrics table scores each list cut to "
        f"{TRACKS_PER_PLAYLIST}, not finished with popularity\n"
    )
    print(metrics.markdown_table({name: metrics.evaluate(cut(made), truth, seeds) for name, made in lists.items()}))
    print("\n| generator | seeds | " + " | ".join(f"recall@{k}" for k in args.at) + " | mean list |")
    print("|---|---|" + "---:|" * (len(args.at) + 1))
    for name, made in lists.items():
        for category, pids in metrics.categories(truth).items():
            held = [set(truth.holdouts[pid]) - set(seeds[pid]) for pid in pids]
            recalls = []
            for k in args.at:
                recalls.append(
                    sum(len(g & set(made.get(pid, [])[:k])) / len(g) for pid, g in zip(pids, held)) / len(pids)
                )
            length = sum(len(made.get(pid, [])) for pid in pids) / len(pids)
            print(
                f"| {name} | {category.removesuffix(' seeds')} | "
                + " | ".join(f"{r:.4f}" for r in recalls)
                + f" | {length:.0f} |"
            )
    return 0


def cut(lists: dict[int, list[str]], size: int = TRACKS_PER_PLAYLIST) -> dict[int, list[str]]:
    """Lists as long as a submission's at most, so that they compare with one."""
    return {pid: made[:size] for pid, made in lists.items()}


def run_train_ranker(args: argparse.Namespace) -> int:
    from tunesday.recsys import ranker

    started = time.perf_counter()
    train = read_training(args.train)
    shutil.rmtree(args.work, ignore_errors=True)
    queries = ranker.pseudo_queries(
        train, args.cuts, args.work, args.per_cut, progress=lambda line: print(line, file=sys.stderr, flush=True)
    )
    trained = ranker.train(queries)
    artifact = dataclasses.replace(ranker.CONTINUATION, root=args.artifacts.resolve())
    written = ranker.write_artifacts(
        trained.booster,
        {
            "trained_on": str(args.train),
            "cuts": args.cuts,
            "pseudo_queries": len(queries.groups),
            "candidates": int(len(queries.labels)),
            "positives": int(queries.labels.sum()),
            "trees": trained.best_iteration,
            "held_out_ndcg": {k: round(v, 4) for k, v in trained.validation.items()},
            "held_out_r_precision": round(trained.validation_r_precision, 4),
        },
        artifact,
    )
    print(
        f"pseudo-queries: {len(queries.groups)} from cuts {args.cuts} of {args.train} "
        f"({len(queries.labels):,} candidates, {int(queries.labels.sum()):,} positives)"
    )
    print(f"trees: {trained.best_iteration} (early stopping on a held-out fold of 1/{ranker.FOLDS} of the queries)")
    print("held-out fold: " + ", ".join(f"{metric} {value:.4f}" for metric, value in trained.validation.items()))
    print(
        f"held-out R-precision (track): reranker {trained.validation_r_precision:.4f}; by one generator's rank: "
        + ", ".join(f"{name} {value:.4f}" for name, value in trained.first_generator_r_precision.items())
    )
    print(
        "feature importance (share of gain): " + ", ".join(f"{name} {share:.1%}" for name, share in trained.importances)
    )
    print(
        f"wrote {artifact.model_file} and {artifact.macro_file}, version {written['version']}, "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 0


def run_train_listener_ranker(args: argparse.Namespace) -> int:
    from tunesday.recsys import listeners

    if not (args.data / "manifest.json").is_file():
        raise ValueError(f"{args.data} holds no manifest.json: generate data first (make generate) or pass --data")
    artifact = dataclasses.replace(listeners.ARTIFACT, root=args.artifacts.resolve())
    done = listeners.run(
        args.data.resolve(),
        args.work.resolve(),
        args.test_days,
        artifact,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    listening, trained, written = done["listening"], done["trained"], done["written"]
    print(
        f"listeners: {len(listening.groups):,} with a stream among their candidates in the {args.test_days} days "
        f"after {listening.run_date} ({len(listening.labels):,} candidates, {int(listening.labels.sum()):,} positives)"
    )
    print(
        f"trees: {trained.best_iteration} (early stopping on a held-out fold of 1/{listeners.ranker.FOLDS} "
        "of the listeners)"
    )
    print("held-out fold: " + ", ".join(f"{metric} {value:.4f}" for metric, value in trained.validation.items()))
    for name, figures in trained.held_out.items():
        print(
            f"held-out, top 30 of the pool by {name}: "
            + ", ".join(f"{metric} {value:.4f}" for metric, value in figures.items())
        )
    print(
        "feature importance (share of gain): " + ", ".join(f"{name} {share:.1%}" for name, share in trained.importances)
    )
    print(
        f"wrote {artifact.model_file} and {artifact.macro_file}, version {written['version']}, "
        f"in {done['seconds']:.0f} s"
    )
    return 0


def run_score(args: argparse.Namespace) -> int:
    challenge = read_challenge(args.challenge)
    truth = read_ground_truth(args.ground_truth)
    seeds = {playlist.pid: playlist.track_uris for playlist in challenge}
    missing = set(truth.holdouts) ^ set(seeds)
    if missing:
        raise ValueError(
            f"the challenge file and the ground truth disagree on {len(missing)} pid(s), "
            f"e.g. {sorted(missing)[:5]}: not from the same split"
        )
    results, seconds, per_playlist = {}, {}, {}
    for path in args.submissions:
        submission = read_valid_submission(path, challenge)
        name = path.name.removesuffix(".gz").removesuffix(".csv")
        name = str(path) if name in results else name
        per_playlist[name] = metrics.per_playlist(submission.recommendations, truth, seeds)
        results[name] = metrics.means(per_playlist[name], truth)
        seconds[name] = submission.runtime_seconds
    peer_names: list[str] = []
    if args.train:
        train = read_training(args.train)
        for name in filter(None, args.baselines.split(",")):
            if name not in baselines.BASELINES:
                raise ValueError(f"unknown baseline {name!r}, known: {sorted(baselines.BASELINES)}")
            recommendations, seconds[f"{name} (this run)"] = timed_baseline(name, train, challenge)
            check_made(name, recommendations, challenge)
            results[f"{name} (this run)"] = metrics.evaluate(recommendations, truth, seeds)
        if args.peers:
            validation = peers.Validation.cut(train, args.validation_seed)
        for name in filter(None, args.peers.split(",")):
            if name not in peers.PEERS:
                raise ValueError(f"unknown peer {name!r}, known: {sorted(peers.PEERS)}")
            tuned = peers.tune(name, validation)
            print(f"tuned {tuned.describe()}", file=sys.stderr)
            started = time.perf_counter()
            recommendations = peers.PEERS[name](train, challenge, **tuned.params)
            label = f"{name} (this run, tuned)"
            seconds[label] = time.perf_counter() - started
            check_made(name, recommendations, challenge)
            per_playlist[label] = metrics.per_playlist(recommendations, truth, seeds)
            results[label] = metrics.means(per_playlist[label], truth)
            peer_names.append(label)
    if not results:
        raise ValueError("nothing to score: give submission files, or --train for the baselines")
    sizes = [len(set(holdouts) - set(seeds[pid])) for pid, holdouts in truth.holdouts.items()]
    print(
        f"{len(sizes)} challenge playlists, ground truth |G| mean {sum(sizes) / len(sizes):.1f} "
        f"(min {min(sizes)}, max {max(sizes)}); seconds = index build + ranking, files not counted\n"
    )
    print(metrics.markdown_table(results, seconds))
    if peer_names:
        ours = [name for name in results if name not in peer_names and not name.endswith("(this run)")]
        print(
            "\n"
            + metrics.against_best_peer(
                {name: per_playlist[name] for name in ours},
                {name: per_playlist[name] for name in peer_names},
                truth,
                args.resamples,
            )
        )
    return 0


def check_made(name: str, recommendations: dict[int, list[str]], challenge: list[Playlist]) -> None:
    problems = validate(Submission(DEFAULT_TEAM, DEFAULT_EMAIL, recommendations), challenge)
    if problems:
        raise ValueError(f"{name} made an invalid submission: {problems[:3]}")


if __name__ == "__main__":
    sys.exit(main())
