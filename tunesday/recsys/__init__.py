"""Playlist continuation the RecSys Challenge 2018 way: read MPD slices (with the one MPD reader,
``tunesday.mpd``: whole, clean playlists only, bad records counted and skipped), split off a
challenge set, write and check submissions, score them with the challenge's metrics, and two
baselines.

    split.py       challenge file + ground truth + training playlists, deterministic for a seed
    submission.py  the official submission format: write, read, validate
    metrics.py     R-precision (official with the artist bonus, and track-only), NDCG, clicks, recall@500
    baselines.py   popularity and plain co-occurrence rankings
    cli.py         tunesday-recsys split | baseline | score

A ranking to compare is anything that writes a submission file for the challenge file (training
from train.json.gz only); `baselines.finish` turns a ranked list into a valid line (no seeds, no
duplicates, 500 tracks, filled in popularity order); `tunesday-recsys score` checks and scores it.
"""
