"""The catalogue: genres split into clusters (sub-scenes), artists, albums and tracks.

Internally everything is an integer index. Artists are sorted by cluster and tracks by artist and
album, so that "the tracks of an artist", "of an album" and "of a cluster" are contiguous ranges
and one GroupSampler per grouping draws popularity-weighted tracks for any number of requests.
The public ids are shuffled numbers, so that neither ids nor row order give the clusters away.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tunesday.contract import RECORDS
from tunesday.generate import ids, profiles
from tunesday.generate.config import GeneratorConfig
from tunesday.generate.sampling import GroupSampler, beta_by_mean, choose, rank_in_segment, segment_starts

# A new release is this many times as popular as its artist's back catalogue on release day;
# the bump decays with this time constant in days.
NEW_RELEASE_HYPE = 6.0
NEW_RELEASE_DECAY_DAYS = 5.0
NEW_RELEASE_TRACK_SHARE = 0.10
OLDEST_RELEASE = np.datetime64("1955-01-01")
MAX_ALBUM_TRACKS = 20


@dataclass
class Catalog:
    n_clusters: int
    cluster_genre: np.ndarray
    cluster_tempo: np.ndarray
    cluster_energy: np.ndarray
    neighbour_offsets: np.ndarray  # CSR of the clusters a listener may drift into
    neighbour_clusters: np.ndarray
    artist_cluster: np.ndarray
    artist_weight: np.ndarray
    artist_fallback_track: np.ndarray  # the artist's most popular back-catalogue track, or -1
    track_artist: np.ndarray
    track_cluster: np.ndarray
    track_album: np.ndarray
    track_weight: np.ndarray  # sampling weight of plays, new releases at their peak
    track_release_day: np.ndarray  # days since the window start (negative: back catalogue)
    track_duration_ms: np.ndarray
    track_tempo: np.ndarray
    track_energy: np.ndarray
    album_start: np.ndarray
    album_length: np.ndarray
    by_artist: GroupSampler
    settled_by_artist: GroupSampler  # new releases at their lasting level: for favourites
    by_cluster: GroupSampler
    back_catalog_by_cluster: GroupSampler
    explore_by_cluster: GroupSampler  # flattened popularity: favours the less known
    playlist_by_cluster: GroupSampler
    artists_by_cluster: GroupSampler
    lesser_artists_by_cluster: GroupSampler  # flattened: the artists a listener discovers
    any_artist: GroupSampler  # one group: the whole catalogue
    any_back_catalog_track: GroupSampler
    track_ids: pa.Array
    artist_ids: pa.Array
    album_ids: pa.Array

    @property
    def n_artists(self) -> int:
        return len(self.artist_cluster)

    @property
    def n_tracks(self) -> int:
        return len(self.track_artist)

    def new_release_acceptance(self, tracks: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Probability to keep a popularity-weighted draw of a track on a day.

        Weights hold new releases at their release-day peak; thinning the draws by this factor
        turns the peak into a bump that decays back to the normal level.
        """
        age = days - self.track_release_day[tracks]
        bump = 1 + (NEW_RELEASE_HYPE - 1) * np.exp(-np.maximum(age, 0) / NEW_RELEASE_DECAY_DAYS)
        return np.where(self.track_release_day[tracks] >= 0, bump / NEW_RELEASE_HYPE, 1.0)


def build_catalog(
    config: GeneratorConfig, rng: np.random.Generator
) -> tuple[Catalog, dict[str, pa.Table], dict[str, pa.Table]]:
    """The catalogue, its raw tables (tracks, artists; good rows only) and its truth tables."""
    genres = profiles.GENRES
    n_genres = len(genres)
    n_artists, n_tracks = config.artist_count, config.tracks

    # Clusters: several sub-scenes per genre, each with its own tempo and energy centre.
    per_genre = int(np.clip(n_artists // 100, 2, 8))
    n_clusters = n_genres * per_genre
    cluster_genre = np.repeat(np.arange(n_genres), per_genre)
    tempo_lo = np.array([g.tempo[0] for g in genres])[cluster_genre]
    tempo_hi = np.array([g.tempo[1] for g in genres])[cluster_genre]
    cluster_tempo = tempo_lo + (tempo_hi - tempo_lo) * rng.beta(2, 2, n_clusters)
    cluster_energy = np.clip(
        np.array([g.energy for g in genres])[cluster_genre] + rng.normal(0, 0.07, n_clusters), 0.05, 0.95
    )
    cluster_valence_shift = rng.normal(0, 0.07, n_clusters)
    cluster_major_shift = rng.normal(0, 0.08, n_clusters)
    cluster_size = rng.gamma(2.0, 1.0, n_clusters) * np.array([g.share for g in genres])[cluster_genre]
    neighbour_offsets, neighbour_clusters = _neighbours(cluster_genre, per_genre)

    # Artists, one per cluster first so that no cluster is empty, sorted by cluster.
    artist_cluster = np.sort(np.concatenate([np.arange(n_clusters), choose(rng, cluster_size, n_artists - n_clusters)]))
    artist_genre = cluster_genre[artist_cluster]
    artist_weight = (rng.permutation(n_artists) + 1.0) ** -1.0  # Zipf over artists

    # Tracks, one per artist first; prolific artists tend to be the popular ones.
    extra = rng.multinomial(n_tracks - n_artists, artist_weight**0.4 / np.sum(artist_weight**0.4))
    track_artist = np.repeat(np.arange(n_artists), 1 + extra)
    track_cluster = artist_cluster[track_artist]
    track_genre = cluster_genre[track_cluster]

    # Albums: runs of an artist's tracks (singles, EPs, LPs), each with one release date.
    album_break = (rank_in_segment(track_artist) % MAX_ALBUM_TRACKS == 0) | (rng.random(n_tracks) < 0.12)
    track_album = np.cumsum(album_break) - 1
    n_albums = int(track_album[-1]) + 1
    album_length = np.bincount(track_album, minlength=n_albums)
    album_start = np.concatenate([[0], np.cumsum(album_length)[:-1]])
    album_genre = track_genre[album_start]

    base_weight = artist_weight[track_artist] * rng.lognormal(0, 1.5, n_tracks)
    album_release_day = _release_days(
        config, rng, album_genre, album_length, track_album, track_cluster, base_weight, n_clusters
    )
    track_release_day = album_release_day[track_album]
    new_release = track_release_day >= 0
    recency = np.maximum(0.15, np.exp(np.minimum(track_release_day, 0) / (4 * 365)))
    settled_weight = base_weight * recency
    track_weight = settled_weight * np.where(new_release, NEW_RELEASE_HYPE, 1.0)

    features = _audio_features(
        rng,
        genres,
        track_genre,
        track_cluster,
        cluster_tempo,
        cluster_energy,
        cluster_valence_shift,
        cluster_major_shift,
    )

    back_weight = np.where(new_release, 0.0, track_weight)
    artist_fallback = _top_item_per_group(track_artist, back_weight, n_artists)
    cat = Catalog(
        n_clusters=n_clusters,
        cluster_genre=cluster_genre,
        cluster_tempo=cluster_tempo,
        cluster_energy=cluster_energy,
        neighbour_offsets=neighbour_offsets,
        neighbour_clusters=neighbour_clusters,
        artist_cluster=artist_cluster,
        artist_weight=artist_weight,
        artist_fallback_track=artist_fallback,
        track_artist=track_artist,
        track_cluster=track_cluster,
        track_album=track_album,
        track_weight=track_weight,
        track_release_day=track_release_day,
        track_duration_ms=features["duration_ms"],
        track_tempo=features["tempo"],
        track_energy=features["energy"],
        album_start=album_start,
        album_length=album_length,
        by_artist=GroupSampler(track_artist, track_weight, n_artists),
        settled_by_artist=GroupSampler(track_artist, settled_weight, n_artists),
        by_cluster=GroupSampler(track_cluster, track_weight, n_clusters),
        back_catalog_by_cluster=GroupSampler(track_cluster, back_weight, n_clusters),
        explore_by_cluster=GroupSampler(track_cluster, track_weight**0.35, n_clusters),
        playlist_by_cluster=GroupSampler(track_cluster, settled_weight**0.6, n_clusters),
        artists_by_cluster=GroupSampler(artist_cluster, artist_weight**0.7, n_clusters),
        lesser_artists_by_cluster=GroupSampler(artist_cluster, artist_weight**0.2, n_clusters),
        any_artist=GroupSampler(np.zeros(n_artists), artist_weight, 1),
        any_back_catalog_track=GroupSampler(np.zeros(n_tracks), back_weight, 1),
        track_ids=ids.format_ids(ids.TRACK, rng.permutation(n_tracks)),
        artist_ids=ids.format_ids(ids.ARTIST, rng.permutation(n_artists)),
        album_ids=ids.format_ids(ids.ALBUM, rng.permutation(n_albums)),
    )
    popularity = _popularity(cat, config.days)
    tables = _tables(cat, rng, config, artist_genre, track_genre, album_release_day, popularity, features)
    return cat, tables, _truth(cat)


def _neighbours(cluster_genre: np.ndarray, per_genre: int) -> tuple[np.ndarray, np.ndarray]:
    """For each cluster: the other clusters of its genre and all clusters of neighbouring genres."""
    lists = []
    for cluster, genre in enumerate(cluster_genre):
        near = [profiles.GENRE_INDEX[name] for name in profiles.GENRES[genre].neighbours]
        same = [c for c in range(genre * per_genre, (genre + 1) * per_genre) if c != cluster]
        lists.append(same + [g * per_genre + k for g in near for k in range(per_genre)])
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in lists])])
    return offsets, np.concatenate(lists).astype(np.int64)


def _release_days(
    config, rng, album_genre, album_length, track_album, track_cluster, base_weight, n_clusters
) -> np.ndarray:
    """Release day of each album, in days from the window start.

    About NEW_RELEASE_TRACK_SHARE of the tracks come out inside the window (mostly on Fridays).
    The album of each cluster's most popular track stays in the back catalogue, so that every
    cluster always has something released to fall back on.
    """
    n_albums = len(album_length)
    old = np.isin(album_genre, [profiles.GENRE_INDEX["classical"], profiles.GENRE_INDEX["jazz"]])
    years_back = rng.exponential(np.where(old, 15.0, 5.0), n_albums)
    oldest = (OLDEST_RELEASE - np.datetime64(config.window_start)).astype(int)
    release = np.maximum(-1 - (years_back * 365).astype(np.int64), oldest)

    protected = np.zeros(n_albums, dtype=bool)
    protected[track_album[_top_item_per_group(track_cluster, base_weight, n_clusters)]] = True
    order = rng.permutation(np.flatnonzero(~protected))
    budget = NEW_RELEASE_TRACK_SHARE * len(track_album)
    new = order[np.cumsum(album_length[order]) <= budget]
    release[new] = rng.integers(0, config.days, len(new))
    weekdays = (config.window_start_day + np.arange(config.days) + 3) % 7  # 1970-01-01 was a Thursday
    fridays = np.flatnonzero(weekdays == 4)
    if len(fridays):
        on_friday = new[rng.random(len(new)) < 0.7]
        release[on_friday] = fridays[rng.integers(0, len(fridays), len(on_friday))]
    return release


def _top_item_per_group(groups: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """Index of the heaviest item of each group; -1 where a group is empty or weighs nothing."""
    order = np.lexsort((-weights, groups))
    firsts = order[segment_starts(groups[order])]
    top = np.full(n_groups, -1, dtype=np.int64)
    top[groups[firsts]] = np.where(weights[firsts] > 0, firsts, -1)
    return top


def _audio_features(
    rng, genres, track_genre, track_cluster, cluster_tempo, cluster_energy, cluster_valence_shift, cluster_major_shift
) -> dict[str, np.ndarray]:
    n = len(track_genre)

    def per_genre(attribute):
        return np.array([getattr(g, attribute) for g in genres])[track_genre]

    tempo_lo = np.array([g.tempo[0] for g in genres])[track_genre]
    tempo_hi = np.array([g.tempo[1] for g in genres])[track_genre]
    tempo = np.clip(cluster_tempo[track_cluster] + rng.normal(0, (tempo_hi - tempo_lo) / 8), tempo_lo - 3, tempo_hi + 3)
    tempo = np.where(rng.random(n) < per_genre("half_time_share"), tempo / 2, tempo)
    tempo = np.round(np.clip(tempo, 30, 250), 3)

    key = choose(rng, profiles.KEY_SHARES, n)
    key[rng.random(n) < profiles.NO_KEY_SHARE] = -1
    mode = rng.random(n) < np.clip(per_genre("major_share") + cluster_major_shift[track_cluster], 0, 1)

    odd = profiles.ODD_METERS
    meter_shares = np.column_stack([per_genre("triple_meter_share")] + [np.full(n, s) for s in odd.values()])
    meters = np.array([3, *odd])
    cumulative = np.cumsum(meter_shares, axis=1)
    draw = rng.random(n)
    odd_meter = meters[(draw[:, None] < cumulative).argmax(axis=1)]
    time_signature = np.where(draw < cumulative[:, -1], odd_meter, 4)

    energy = beta_by_mean(rng, cluster_energy[track_cluster], 14)
    valence = beta_by_mean(rng, per_genre("valence") + cluster_valence_shift[track_cluster], 10)
    danceability = beta_by_mean(rng, per_genre("danceability"), 14)
    acousticness = beta_by_mean(rng, per_genre("acousticness") + 0.3 * (per_genre("energy") - energy), 6)
    instrumentalness = np.where(rng.random(n) < per_genre("instrumental_share"), rng.beta(8, 2, n), rng.beta(1, 30, n))
    loud_mean = np.array([g.loudness[0] for g in genres])[track_genre]
    loud_sd = np.array([g.loudness[1] for g in genres])[track_genre]
    loudness = np.clip(rng.normal(loud_mean + 8 * (energy - per_genre("energy")), loud_sd), -60, -0.5)
    minutes = rng.lognormal(np.log(per_genre("minutes")), per_genre("minutes_sigma"))
    duration_ms = np.clip(minutes * 60_000, 45_000, 25 * 60_000).astype(np.int64)
    return {
        "tempo": tempo,
        "key": key.astype(np.int64),
        "mode": mode.astype(np.int64),
        "time_signature": time_signature.astype(np.int64),
        "energy": np.round(energy, 4),
        "valence": np.round(valence, 4),
        "danceability": np.round(danceability, 4),
        "acousticness": np.round(acousticness, 4),
        "instrumentalness": np.round(instrumentalness, 4),
        "loudness": np.round(loudness, 3),
        "duration_ms": duration_ms,
    }


def _popularity(cat: Catalog, days: int) -> np.ndarray:
    """0-100 from log popularity at the window end, the way streaming services report it."""
    at_end = cat.new_release_acceptance(np.arange(cat.n_tracks), np.full(cat.n_tracks, days))
    effective = cat.track_weight * at_end
    log_w = np.log(effective)
    low, high = np.quantile(log_w, 0.02), log_w.max()
    scaled = np.clip((log_w - low) / max(high - low, 1e-9), 0, 1) ** 1.3
    return np.round(100 * scaled).astype(np.int64)


def _vocab(words) -> pa.Array:
    return pa.array(list(words), type=pa.string())


def _track_names(rng, n: int) -> pa.Array:
    adjectives, nouns = _vocab(profiles.ADJECTIVES), _vocab(profiles.NOUNS)
    suffixes = _vocab(profiles.TRACK_SUFFIXES)
    base = pc.binary_join_element_wise(
        adjectives.take(rng.integers(0, len(adjectives), n)), nouns.take(rng.integers(0, len(nouns), n)), " "
    )
    single_word = nouns.take(rng.integers(0, len(nouns), n))
    base = pc.if_else(pa.array(rng.random(n) < 0.25), single_word, base)
    return pc.binary_join_element_wise(base, suffixes.take(choose(rng, profiles.TRACK_SUFFIX_SHARES, n)), "")


def _album_names(rng, track_names: pa.Array, album_start: np.ndarray, album_length: np.ndarray) -> pa.Array:
    """Singles and title-track albums take a track's name; the rest get a name of their own."""
    n = len(album_start)
    words = pc.binary_join_element_wise(
        _vocab(profiles.ADJECTIVES).take(rng.integers(0, len(profiles.ADJECTIVES), n)),
        _vocab([w + "s" for w in profiles.NOUNS]).take(rng.integers(0, len(profiles.NOUNS), n)),
        " ",
    )
    title_track = track_names.take(album_start + rng.integers(0, album_length))
    return pc.if_else(pa.array((album_length == 1) | (rng.random(n) < 0.4)), title_track, words)


def _artist_names(rng, artist_genre: np.ndarray) -> pa.Array:
    first, last = profiles.FIRST_NAMES, profiles.LAST_NAMES
    adjectives, nouns, ensembles = profiles.ADJECTIVES, profiles.NOUNS, profiles.ENSEMBLES
    urban = {profiles.GENRE_INDEX[g] for g in ("hip hop", "trap", "reggaeton")}
    club = {profiles.GENRE_INDEX[g] for g in ("techno", "house", "drum and bass")}
    bands = {profiles.GENRE_INDEX[g] for g in ("rock", "metal", "folk", "country")}
    formal = {profiles.GENRE_INDEX[g] for g in ("classical", "jazz")}
    n = len(artist_genre)
    u, a, b, c = rng.random(n), rng.integers(0, 1000, n), rng.integers(0, 1000, n), rng.integers(0, 1000, n)
    names = []
    for i in range(n):
        g, person = artist_genre[i], f"{first[a[i] % len(first)]} {last[b[i] % len(last)]}"
        if g in urban and u[i] < 0.4:
            name = ("Lil " if u[i] < 0.2 else "Young ") + nouns[c[i] % len(nouns)]
        elif g in club and u[i] < 0.5:
            words = f"{adjectives[a[i] % len(adjectives)]} {nouns[c[i] % len(nouns)]}"
            name = ("DJ " if u[i] < 0.2 else "") + words
        elif g in bands and u[i] < 0.6:
            name = f"The {adjectives[a[i] % len(adjectives)]} {nouns[c[i] % len(nouns)]}s"
        elif g in formal and u[i] < 0.4:
            name = f"{last[b[i] % len(last)]} {ensembles[c[i] % len(ensembles)]}"
        else:
            name = person
        names.append(name)
    return pa.array(names, type=pa.string())


def _artist_countries(rng, artist_genre: np.ndarray) -> pa.Array:
    world = np.array(profiles.ARTIST_COUNTRIES)
    countries = world[rng.integers(0, len(world), len(artist_genre))]
    local = rng.random(len(artist_genre)) < 0.6
    for genre, pool in profiles.GENRE_ARTIST_COUNTRIES.items():
        mask = local & (artist_genre == profiles.GENRE_INDEX[genre])
        countries[mask] = np.array(pool)[rng.integers(0, len(pool), int(mask.sum()))]
    return pa.array(countries, type=pa.string())


def _tables(cat, rng, config, artist_genre, track_genre, album_release_day, popularity, features):
    genre_names = _vocab(profiles.GENRE_NAMES)
    track_names = _track_names(rng, cat.n_tracks)
    album_names = _album_names(rng, track_names, cat.album_start, cat.album_length)
    release_dates = pa.array(
        (config.window_start_day + album_release_day[cat.track_album]).astype(np.int32), type=pa.date32()
    )
    tracks = pa.Table.from_arrays(
        [
            cat.track_ids,
            track_names,
            cat.artist_ids.take(cat.track_artist),
            cat.album_ids.take(cat.track_album),
            album_names.take(cat.track_album),
            release_dates,
            pa.array(features["duration_ms"]),
            pa.array(popularity),
            genre_names.take(track_genre),
            *[
                pa.array(features[c])
                for c in (
                    "tempo",
                    "key",
                    "mode",
                    "time_signature",
                    "energy",
                    "valence",
                    "danceability",
                    "acousticness",
                    "instrumentalness",
                    "loudness",
                )
            ],
        ],
        schema=RECORDS["tracks"],
    )
    artists = pa.Table.from_arrays(
        [
            cat.artist_ids,
            _artist_names(rng, artist_genre),
            genre_names.take(artist_genre),
            _artist_countries(rng, artist_genre),
        ],
        schema=RECORDS["artists"],
    )
    # Rows in id order: the internal (cluster) order must not leak into the raw files.
    return {
        "tracks": tracks.take(pc.sort_indices(cat.track_ids)),
        "artists": artists.take(pc.sort_indices(cat.artist_ids)),
    }


def _truth(cat: Catalog) -> dict[str, pa.Table]:
    genre_names = _vocab(profiles.GENRE_NAMES)
    return {
        "artist_clusters": pa.table(
            {
                "artist_id": cat.artist_ids,
                "cluster_id": pa.array(cat.artist_cluster),
                "genre": genre_names.take(cat.cluster_genre[cat.artist_cluster]),
            }
        ),
        "clusters": pa.table(
            {
                "cluster_id": pa.array(np.arange(cat.n_clusters)),
                "genre": genre_names.take(cat.cluster_genre),
                "tempo": pa.array(np.round(cat.cluster_tempo, 2)),
                "energy": pa.array(np.round(cat.cluster_energy, 3)),
            }
        ),
    }
