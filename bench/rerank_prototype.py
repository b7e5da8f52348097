"""The prototype behind issue 18's design: several candidate generators, then a LightGBM
lambdarank reranker over their scores and ranks, against tuned ALS on the same split.

    python bench/rerank_prototype.py [--split target/recsys] [--cuts 11 12 13] [--depth 300]

Research, in numpy, to learn before building it in SQL whether the two stages can clear the bar
(+8 % over the best peer): it is not the product and nothing imports it. Delete it once the
generators are dbt models and `tunesday-recsys train-ranker` exists.

- Generators (each query's top `depth`, seeds excluded): asymmetric cosine item-item
  (c_ij / (pop_i^0.7 pop_j^0.3 + 10)), playlist kNN (the 100 training playlists with the most
  seeds per sqrt of their length, voting with that similarity), title tokens → tracks (idf-
  weighted), the seeds' artists' tracks (by sqrt popularity), ALS and EASE (peers.py, at the
  parameters `score --peers` chose on split seed 0's validation split).
- Features: each generator's score and rank (depth + 1 when it did not propose the track), log
  popularity, seed count, plain co-occurrence.
- Training: pseudo-queries cut from the training playlists only (a split of them per seed of
  --cuts, 500 queries each, features from the rest), labels = their held-out tracks; the last
  15 % of the queries for early stopping. Never the challenge playlists.
- Then the challenge's candidates are ranked by the model, finished to 500, and compared with
  ALS by the paired bootstrap (metrics.against_best_peer).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tunesday.mpd import Playlist
from tunesday.recsys import baselines, metrics, peers
from tunesday.recsys.cli import read_training
from tunesday.recsys.split import make_split, read_challenge, read_ground_truth

ALS = {"factors": 128, "regularization": 0.01, "alpha": 10.0, "bm25": False, "iterations": 15}
EASE = {"l2": 1000.0}
GENERATORS = ("cosine", "knn", "title", "artist", "als", "ease")
FEATURES = ("log_popularity", "seed_count", "cosine", "knn", "title", "artist", "cooccurrence",
            *(f"rank_{name}" for name in GENERATORS))


def tokens(name: str) -> set[str]:
    return {token for token in re.sub(r"[^a-z0-9 ]", " ", (name or "").lower()).split() if token}


def top(scores: np.ndarray, count: int, seeds: np.ndarray) -> np.ndarray:
    """The columns of the `count` best positive scores, best first, seeds excluded."""
    scores = scores.astype(np.float64).copy()
    scores[seeds] = -np.inf
    count = min(count, int((scores > 0).sum()))
    if count == 0:
        return np.array([], dtype=np.int64)
    best = np.argpartition(-scores, count - 1)[:count]
    return best[np.argsort(-scores[best], kind="stable")]


def candidates(train: list[Playlist], queries: list[Playlist], depth: int) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
    """Per query: its candidate columns, their feature rows (FEATURES) and the column URIs."""
    matrix = peers.Matrix.build(train, queries)
    x = matrix.rows.tocsr()
    trained = x[:len(train)]
    popularity = np.asarray(trained.sum(0)).ravel()
    query = x[[matrix.query_rows[q.pid] for q in queries]]
    pairs = (trained.T @ trained).tocsr()
    pairs.setdiag(0)
    pairs.eliminate_zeros()
    coo = pairs.tocoo()
    cosine = sp.csr_matrix((coo.data / (np.maximum(popularity[coo.row], 1) ** 0.7
                                        * np.maximum(popularity[coo.col], 1) ** 0.3 + 10), (coo.row, coo.col)),
                           shape=pairs.shape)
    by_cosine = np.asarray((query @ cosine).todense())
    by_cooccurrence = np.asarray((query @ pairs).todense())
    lengths = np.maximum(np.asarray(trained.sum(1)).ravel(), 1)
    likeness = np.asarray((query @ trained.T).todense()) / np.sqrt(lengths)[None, :]
    vocabulary: dict[str, int] = {}
    title_rows, title_columns = [], []
    for row, playlist in enumerate(train):
        for token in tokens(playlist.name):
            title_rows.append(row)
            title_columns.append(vocabulary.setdefault(token, len(vocabulary)))
    titles = sp.csr_matrix((np.ones(len(title_rows)), (title_rows, title_columns)),
                           shape=(len(train), max(len(vocabulary), 1)))
    idf = np.log(len(train) / np.maximum(np.asarray(titles.sum(0)).ravel(), 1))
    query_tokens = [(row, vocabulary[token]) for row, q in enumerate(queries) for token in tokens(q.name)
                    if token in vocabulary]
    query_titles = sp.csr_matrix((np.ones(len(query_tokens)), tuple(zip(*query_tokens)) if query_tokens else ([], [])),
                                 shape=(len(queries), titles.shape[1]))
    by_title = np.asarray((query_titles @ sp.diags(idf) @ (titles.T @ trained)).todense())
    artist_of = {track.track_uri: track.artist for playlist in [*train, *queries] for track in playlist.tracks}
    artist_ids = {artist: n for n, artist in enumerate(sorted(set(artist_of.values())))}
    artists = sp.csr_matrix((np.ones(x.shape[1]), ([artist_ids[artist_of[uri]] for uri in matrix.uris],
                                                   np.arange(x.shape[1]))), shape=(len(artist_ids), x.shape[1]))
    by_artist = np.asarray(((query @ artists.T) @ artists).todense())
    column = {uri: n for n, uri in enumerate(matrix.uris)}
    latent = {"als": peers.als(train, queries, k=depth, **ALS), "ease": peers.ease(train, queries, k=depth, **EASE)}
    made = []
    for row, q in enumerate(queries):
        seeds = query[row].indices
        neighbours = np.argpartition(-likeness[row], 100)[:100]
        by_knn = np.asarray(sp.csr_matrix(likeness[row, neighbours][None, :]) @ trained[neighbours].todense()).ravel()
        lists = {"cosine": top(by_cosine[row], depth, seeds), "knn": top(by_knn, depth, seeds),
                 "title": top(by_title[row], 100, seeds),
                 "artist": top(by_artist[row] * np.sqrt(popularity + 1), 100, seeds),
                 **{name: np.array([column[uri] for uri in made_lists[q.pid][:depth]])
                    for name, made_lists in latent.items()}}
        union = np.unique(np.concatenate(list(lists.values())))
        columns = [np.log1p(popularity[union]), np.full(len(union), len(seeds)), by_cosine[row][union],
                   by_knn[union], by_title[row][union], by_artist[row][union], by_cooccurrence[row][union]]
        for name in GENERATORS:
            rank = np.full(x.shape[1], depth + 1.0)
            rank[lists[name]] = np.arange(1, len(lists[name]) + 1)
            columns.append(rank[union])
        made.append((union, np.column_stack(columns), matrix.uris))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, default=Path("target/recsys"))
    parser.add_argument("--cuts", type=int, nargs="+", default=[11, 12, 13])
    parser.add_argument("--depth", type=int, default=300)
    args = parser.parse_args()
    import lightgbm

    started = time.perf_counter()
    train = read_training(args.split / "train.json.gz")
    challenge = read_challenge(args.split / "challenge.json")
    truth = read_ground_truth(args.split / "ground_truth.json.gz")
    rows, labels, groups = [], [], []
    for seed in args.cuts:
        cut = make_split(train, 500, seed)
        queries = [Playlist(c.playlist.pid, c.playlist.name, c.playlist.tracks[:c.num_samples]) for c in cut.cases]
        held_out = {c.playlist.pid: set(c.holdouts) for c in cut.cases}
        for q, (union, features, uris) in zip(queries, candidates(cut.train, queries, args.depth)):
            rows.append(features)
            labels.append(np.array([uris[c] in held_out[q.pid] for c in union], dtype=np.int32))
            groups.append(len(union))
        print(f"pseudo-queries of cut {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    features, labels, groups = np.vstack(rows), np.concatenate(labels), np.array(groups)
    stop_at = int(len(groups) * 0.85)
    row_at = int(groups[:stop_at].sum())
    params = {"objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 50,
              "bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.8, "seed": 0,
              "lambdarank_truncation_level": 200, "metric": "ndcg", "eval_at": [100], "verbose": -1, "num_threads": 2}
    model = lightgbm.train(
        params, lightgbm.Dataset(features[:row_at], labels[:row_at], group=groups[:stop_at]), num_boost_round=600,
        valid_sets=[lightgbm.Dataset(features[row_at:], labels[row_at:], group=groups[stop_at:])],
        callbacks=[lightgbm.early_stopping(50, verbose=False)])
    print(f"trained: {len(groups)} pseudo-queries, {len(labels):,} candidates, {int(labels.sum()):,} positives, "
          f"best iteration {model.best_iteration}, {time.perf_counter() - started:.0f} s")
    popular = baselines.build_index(train).popular
    reranked = {}
    for q, (union, features, uris) in zip(challenge, candidates(train, challenge, args.depth)):
        order = union[np.argsort(-model.predict(features, num_iteration=model.best_iteration), kind="stable")]
        reranked[q.pid] = baselines.finish((uris[c] for c in order), q.track_uris, popular)
    seeds = {q.pid: q.track_uris for q in challenge}
    als = peers.als(train, challenge, **ALS)
    print(metrics.markdown_table({"reranker": metrics.evaluate(reranked, truth, seeds),
                                  "als": metrics.evaluate(als, truth, seeds)}))
    print(metrics.against_best_peer({"reranker": metrics.per_playlist(reranked, truth, seeds)},
                                    {"als": metrics.per_playlist(als, truth, seeds)}, truth))
    gains = model.feature_importance("gain")
    print("gain by feature:", ", ".join(f"{name} {gain / gains.sum():.1%}" for name, gain in
                                         sorted(zip(FEATURES, gains), key=lambda pair: -pair[1])))
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
