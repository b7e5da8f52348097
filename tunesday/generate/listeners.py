"""Listeners of one chunk: who they are and their latent taste (the ground truth).

A taste is a sparse mix of a few clusters from one to three genres, plus a preferred tempo and
energy (those of the favourite cluster), an exploration propensity and an activity level. Each
listener has favourite artists in those clusters; some of them only become favourites on a day
inside the window (a discovery), which the truth records.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tunesday.contract import RECORDS, SERVICE_LAUNCH_DATE
from tunesday.generate import profiles
from tunesday.generate.catalog import Catalog
from tunesday.generate.config import GeneratorConfig
from tunesday.generate.sampling import GroupSampler, choose, first_occurrences, offsets_from_counts, rank_in_segment

MAX_TASTE_CLUSTERS = 6
DISCOVERY_SHARE = 0.3  # of favourites beyond the top two
DISCOVERY_BOOST = 2.0  # a fresh favourite is played more than an old one of the same rank
OLDEST_SIGNUP_YEARS = 12


@dataclass
class Listeners:
    numbers: np.ndarray  # global user numbers
    country: np.ndarray
    tier: np.ndarray
    signup_day: np.ndarray  # days from the window start (negative: before the window)
    activity: np.ndarray
    exploration: np.ndarray
    shuffle_propensity: np.ndarray
    platform: np.ndarray
    preferred_tempo: np.ndarray
    preferred_energy: np.ndarray
    taste_cluster: np.ndarray  # CSR by listener (taste_offsets)
    taste_weight: np.ndarray
    taste_offsets: np.ndarray
    taste: GroupSampler
    favourite_artist: np.ndarray  # CSR by listener, in rank order
    favourite_from_day: np.ndarray
    favourite_offsets: np.ndarray
    favourites: GroupSampler  # all favourites, fresh ones boosted
    initial_favourites: GroupSampler  # favourites from before the window only
    favourite_track: np.ndarray  # CSR by listener (favourite_track_offsets)
    favourite_track_from_day: np.ndarray
    favourite_track_offsets: np.ndarray
    favourite_tracks: GroupSampler
    initial_favourite_tracks: GroupSampler

    @property
    def n(self) -> int:
        return len(self.numbers)

    def in_taste(self, users: np.ndarray, clusters: np.ndarray, n_clusters: int) -> np.ndarray:
        """Whether each cluster is one of the listener's taste clusters."""
        taste_user = np.repeat(np.arange(self.n), np.diff(self.taste_offsets))
        return np.isin(users * n_clusters + clusters, taste_user * n_clusters + self.taste_cluster)


def build_listeners(cat: Catalog, config: GeneratorConfig, numbers: np.ndarray, rng: np.random.Generator) -> Listeners:
    n = len(numbers)
    country = choose(rng, profiles.COUNTRY_SHARES, n)
    tier = choose(rng, profiles.PRODUCT_TIER_SHARES, n)
    signup_day = _signup_days(config, rng, n)
    activity = np.clip(rng.lognormal(-0.25, 0.85, n) * profiles.PRODUCT_TIER_ACTIVITY[tier], 0.03, 6.0)
    exploration = rng.beta(1.6, 6.0, n)
    shuffle_propensity = np.clip(rng.beta(2, 3, n) + profiles.PRODUCT_TIER_SHUFFLE[tier], 0, 0.95)
    platform = choose(rng, profiles.PLATFORM_SHARES, n)

    taste_user, taste_cluster, taste_weight = _tastes(cat, rng, country)
    taste_offsets = offsets_from_counts(np.bincount(taste_user, minlength=n))
    top = taste_offsets[:-1]  # tastes are sorted by weight within a listener
    preferred_tempo = np.round(cat.cluster_tempo[taste_cluster[top]] + rng.normal(0, 3, n), 2)
    preferred_energy = np.round(np.clip(cat.cluster_energy[taste_cluster[top]] + rng.normal(0, 0.05, n), 0.02, 0.98), 3)
    taste = GroupSampler(taste_user, taste_weight, n)

    fav_user, fav_artist, fav_from = _favourite_artists(cat, config, rng, taste, taste_cluster, signup_day)
    fav_offsets = offsets_from_counts(np.bincount(fav_user, minlength=n))
    fav_rank = rank_in_segment(fav_user)
    fav_weight = (fav_rank + 1.0) ** -0.6 * np.where(fav_from > 0, DISCOVERY_BOOST, 1.0)
    initial = fav_from <= 0

    track_owner, fav_track, track_from = _favourite_tracks(cat, rng, fav_user, fav_artist, fav_from)
    track_weight = np.ones(len(fav_track))
    return Listeners(
        numbers=np.asarray(numbers, dtype=np.int64),
        country=country,
        tier=tier,
        signup_day=signup_day,
        activity=activity,
        exploration=exploration,
        shuffle_propensity=shuffle_propensity,
        platform=platform,
        preferred_tempo=preferred_tempo,
        preferred_energy=preferred_energy,
        taste_cluster=taste_cluster,
        taste_weight=taste_weight,
        taste_offsets=taste_offsets,
        taste=taste,
        favourite_artist=fav_artist,
        favourite_from_day=fav_from,
        favourite_offsets=fav_offsets,
        favourites=GroupSampler(fav_user, fav_weight, n),
        initial_favourites=GroupSampler(fav_user, fav_weight * initial, n),
        favourite_track=fav_track,
        favourite_track_from_day=track_from,
        favourite_track_offsets=offsets_from_counts(np.bincount(track_owner, minlength=n)),
        favourite_tracks=GroupSampler(track_owner, track_weight, n),
        initial_favourite_tracks=GroupSampler(track_owner, track_weight * (track_from <= 0), n),
    )


def _signup_days(config: GeneratorConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Most listeners joined before the window (recent years more likely), some during it."""
    launch = (np.datetime64(SERVICE_LAUNCH_DATE) - np.datetime64(config.window_start)).astype(int)
    before = -1 - np.minimum(rng.exponential(2.5 * 365, n), OLDEST_SIGNUP_YEARS * 365).astype(np.int64)
    during = rng.integers(0, config.days, n)
    return np.where(rng.random(n) < 0.08, during, np.maximum(before, launch + 1))


def _tastes(cat: Catalog, rng: np.random.Generator, country: np.ndarray):
    """One to three genres per listener, then two to six clusters of them with Dirichlet weights."""
    n = len(country)
    genre_weight = np.tile([g.listener_share for g in profiles.GENRES], (n, 1))
    for code, affinity in profiles.COUNTRY_GENRE_AFFINITY.items():
        rows = country == profiles.COUNTRY_CODES.index(code)
        for genre, factor in affinity.items():
            genre_weight[rows, profiles.GENRE_INDEX[genre]] *= factor
    n_taste_genres = choose(rng, np.array([0.35, 0.45, 0.20]), n) + 1
    genre_rank = _gumbel_ranks(rng, np.log(genre_weight))
    chosen_genre = genre_rank < n_taste_genres[:, None]

    # Clusters of the chosen genres, popular scenes first but with plenty of chance.
    scene_size = np.log(np.bincount(cat.artist_cluster, minlength=cat.n_clusters))
    cluster_score = np.where(chosen_genre[:, cat.cluster_genre], scene_size[None, :], -np.inf)
    cluster_rank = _gumbel_ranks(rng, cluster_score)
    available = chosen_genre[:, cat.cluster_genre].sum(axis=1)
    n_clusters = np.minimum(rng.integers(2, MAX_TASTE_CLUSTERS + 1, n), available)
    user, cluster = np.nonzero(cluster_rank < n_clusters[:, None])
    weight = rng.gamma(1.0, 1.0, len(user))
    weight /= np.bincount(user, weight, minlength=n)[user]
    order = np.lexsort((-weight, user))
    return user[order], cluster[order], weight[order]


def _gumbel_ranks(rng: np.random.Generator, log_weights: np.ndarray) -> np.ndarray:
    """Per row, the rank of each column in a weighted draw without replacement (0 = first)."""
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    return np.argsort(np.argsort(-keys, axis=1), axis=1)


def _favourite_artists(cat, config, rng, taste: GroupSampler, taste_cluster: np.ndarray, signup_day: np.ndarray):
    """Favourite artists from the taste clusters, in rank order.

    Some favourites beyond the top two are discoveries: lesser-known artists of a taste cluster
    who become favourites on a day inside the window.
    """
    n = len(signup_day)
    wanted = np.minimum(3 + rng.poisson(5, n), 25)
    user = np.repeat(np.arange(n), 2 * wanted + 4)
    cluster = taste_cluster[taste.sample(user, rng.random(len(user)))]
    artist = cat.artists_by_cluster.sample(cluster, rng.random(len(user)))
    keep = first_occurrences(user * cat.n_artists + artist)
    user, artist, cluster = user[keep], artist[keep], cluster[keep]
    rank = rank_in_segment(user)
    keep = rank < wanted[user]
    user, artist, cluster, rank = user[keep], artist[keep], cluster[keep], rank[keep]

    first_day = np.maximum(signup_day + 1, 1)[user]
    last_day = config.days - 4  # leave days to come back to a fresh favourite
    discovered = (rank >= 2) & (rng.random(len(user)) < DISCOVERY_SHARE) & (first_day < last_day)
    artist[discovered] = cat.lesser_artists_by_cluster.sample(cluster[discovered], rng.random(int(discovered.sum())))
    from_day = np.zeros(len(user), dtype=np.int64)
    from_day[discovered] = rng.integers(first_day[discovered], last_day)
    keep = first_occurrences(user * cat.n_artists + artist)
    return user[keep], artist[keep], from_day[keep]


def _favourite_tracks(cat, rng, fav_user, fav_artist, fav_from):
    """One to a few popular tracks of each favourite artist: the listener's repeats."""
    draws = 1 + np.minimum(rng.poisson(1.2, len(fav_artist)), 4)
    owner = np.repeat(fav_user, draws)
    track = cat.settled_by_artist.sample(np.repeat(fav_artist, draws), rng.random(len(owner)))
    from_day = np.repeat(fav_from, draws)
    keep = first_occurrences(owner * cat.n_tracks + track)
    return owner[keep], track[keep], from_day[keep]


def listener_tables(
    cat: Catalog, config: GeneratorConfig, lis: Listeners, user_ids: pa.Array
) -> tuple[pa.Table, dict[str, pa.Table]]:
    """The users rows and the truth rows of one chunk."""
    users = pa.Table.from_arrays(
        [
            user_ids,
            pa.array(profiles.COUNTRY_CODES).take(lis.country),
            pa.array((config.window_start_day + lis.signup_day).astype(np.int32), type=pa.date32()),
            pa.array(profiles.PRODUCT_TIERS).take(lis.tier),
        ],
        schema=RECORDS["users"],
    )
    taste_user = np.repeat(np.arange(lis.n), np.diff(lis.taste_offsets))
    fav_user = np.repeat(np.arange(lis.n), np.diff(lis.favourite_offsets))
    genre_names = pa.array(profiles.GENRE_NAMES)
    truth = {
        "user_taste": pa.table(
            {
                "user_id": user_ids.take(taste_user),
                "cluster_id": pa.array(lis.taste_cluster),
                "genre": genre_names.take(cat.cluster_genre[lis.taste_cluster]),
                "weight": pa.array(np.round(lis.taste_weight, 4)),
            }
        ),
        "user_profile": pa.table(
            {
                "user_id": user_ids,
                "preferred_tempo": pa.array(lis.preferred_tempo),
                "preferred_energy": pa.array(lis.preferred_energy),
                "exploration_propensity": pa.array(np.round(lis.exploration, 4)),
                "activity": pa.array(np.round(lis.activity, 4)),
            }
        ),
        "user_favourite_artists": pa.table(
            {
                "user_id": user_ids.take(fav_user),
                "artist_id": cat.artist_ids.take(lis.favourite_artist),
                "rank": pa.array(rank_in_segment(fav_user) + 1),
                "favourite_from_date": pa.array(
                    (config.window_start_day + np.maximum(lis.favourite_from_day, 0)).astype(np.int32), type=pa.date32()
                ),
            }
        ),
    }
    return users, truth
