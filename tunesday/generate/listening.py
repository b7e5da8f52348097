"""Listening sessions and plays of one chunk of listeners, fully vectorised.

Per listener and day a Poisson number of sessions (more at weekends, none before signup), each
with a context (playlist, album, artist, collection, radio, search), a platform, a shuffle flag and
a start hour following a daily rhythm in the listener's time zone. Every play picks its track by a
mode: the context's list (playlist, album), the context artist, a favourite track, a favourite
artist, a taste cluster, or exploration (flattened popularity in a taste or neighbouring cluster).
Skips depend on taste and on the distance between the track's tempo and energy and the
listener's preferred ones. Sessions are laid out in time without overlapping.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tunesday.contract import RECORDS
from tunesday.generate import ids, profiles
from tunesday.generate.catalog import Catalog
from tunesday.generate.config import MS_PER_DAY, US_PER_DAY, US_PER_MS, GeneratorConfig
from tunesday.generate.listeners import Listeners
from tunesday.generate.playlists import Playlists
from tunesday.generate.sampling import choose, exclusive_cumsum_in_segments, offsets_from_counts

PLAYLIST, ALBUM, ARTIST, COLLECTION, RADIO, SEARCH = range(6)  # context types
CONTEXT_SHARES = np.array([0.34, 0.14, 0.10, 0.16, 0.13, 0.13])
(MODE_LIST, MODE_CONTEXT_ARTIST, MODE_FAVOURITE_TRACK, MODE_FAVOURITE_ARTIST, MODE_CLUSTER, MODE_EXPLORE) = range(
    6
)  # how a play picks its track
# Free-choice contexts: shares of (favourite track, favourite artist, taste cluster) plays, and how
# strongly the listener's exploration propensity turns plays into exploration. The three shares map
# onto MODE_FAVOURITE_TRACK, MODE_FAVOURITE_ARTIST and MODE_CLUSTER, in that order.
FREE_CONTEXT_MIX = {COLLECTION: ((0.7, 0.3, 0), 0.0), RADIO: ((0, 0.25, 0.75), 1.5), SEARCH: ((0.25, 0.35, 0.4), 1.0)}
EXPLORE_CAP = 0.85

SESSIONS_PER_DAY = 1.1
PLAYS_PER_SESSION_MEDIAN = 7.5
MAX_PLAYS_PER_SESSION = 60
MIN_SESSION_GAP_MS = 30 * 60_000
MS_PER_HOUR = 3_600_000
# Primes above any playlist or album length: stepping through a list by one of them visits
# every item once, in a shuffled-looking order.
SHUFFLE_STRIDES = np.array([83, 89, 97, 101, 103, 107, 109, 113])

START_REASON = {name: i for i, name in enumerate(profiles.REASONS_START)}
END_REASON = {name: i for i, name in enumerate(profiles.REASONS_END)}
# The next play's reason_start, by the previous play's reason_end (profiles.REASONS_END order):
# trackdone -> trackdone, fwdbtn -> fwdbtn, endplay -> clickrow (the listener picked another track).
NEXT_START = np.array([START_REASON[r] for r in ("trackdone", "fwdbtn", "backbtn", "clickrow", "appload", "appload")])


@dataclass
class Events:
    """One chunk's plays, sorted by listener and time, plus the sessions they belong to."""

    user: np.ndarray
    track: np.ndarray
    played_at_us: np.ndarray
    ms_played: np.ndarray
    session: np.ndarray
    reason_start: np.ndarray
    reason_end: np.ndarray
    skipped: np.ndarray
    session_context: np.ndarray  # context type per session
    session_ref: np.ndarray  # local playlist, album or artist index per session; -1 if none
    session_shuffle: np.ndarray
    session_platform: np.ndarray

    def __len__(self) -> int:
        return len(self.user)


@dataclass
class _Sessions:
    user: np.ndarray
    day: np.ndarray
    start_ms: np.ndarray  # wished start, ms from the window start
    context: np.ndarray
    ref: np.ndarray
    shuffle: np.ndarray
    platform: np.ndarray
    start_reason: np.ndarray
    plays: np.ndarray
    list_length: np.ndarray  # length of the playlist or album played through, else 0
    first_position: np.ndarray
    stride: np.ndarray


class ListeningSimulator:
    def __init__(self, cat: Catalog, config: GeneratorConfig, lis: Listeners, pls: Playlists, rng: np.random.Generator):
        self.cat, self.config, self.lis, self.pls, self.rng = cat, config, lis, pls, rng

    def run(self) -> Events:
        s = self._sessions()
        sess = np.repeat(np.arange(len(s.user)), s.plays)
        position = np.arange(len(sess)) - offsets_from_counts(s.plays)[sess]
        user, day = s.user[sess], s.day[sess]
        mode = self._modes(s, sess)
        track = self._tracks(s, sess, position, mode, user, day)
        skipped = self._skips(s, sess, mode, user, track)
        reason_start, reason_end, ms_played = self._outcomes(s, sess, position, track, skipped)
        played_ms = self._timeline(s, sess, ms_played)
        keep = played_ms < self.config.days * MS_PER_DAY
        return Events(
            user=user[keep],
            track=track[keep],
            played_at_us=self.config.window_start_us + played_ms[keep] * US_PER_MS,
            ms_played=ms_played[keep],
            session=sess[keep],
            reason_start=reason_start[keep],
            reason_end=reason_end[keep],
            skipped=skipped[keep],
            session_context=s.context,
            session_ref=s.ref,
            session_shuffle=s.shuffle,
            session_platform=s.platform,
        )

    # Sessions -------------------------------------------------------------------------------

    def _sessions(self) -> _Sessions:
        rng, lis, days = self.rng, self.lis, self.config.days
        weekday = (self.config.window_start_day + np.arange(days) + 3) % 7  # 0 = Monday
        rate = (
            lis.activity[:, None]
            * SESSIONS_PER_DAY
            * profiles.WEEKDAY_ACTIVITY[weekday][None, :]
            * rng.gamma(2.0, 0.5, (lis.n, days))
        )
        rate[np.arange(days)[None, :] < lis.signup_day[:, None]] = 0
        cell = np.repeat(np.arange(lis.n * days), rng.poisson(rate).ravel())
        user, day = cell // days, cell % days

        weekend = weekday[day] >= 5
        hour = np.where(
            weekend, choose(rng, profiles.WEEKEND_HOURS, len(day)), choose(rng, profiles.WEEKDAY_HOURS, len(day))
        )
        local_ms = hour * MS_PER_HOUR + rng.integers(0, MS_PER_HOUR, len(day))
        utc_ms = (local_ms - profiles.COUNTRY_UTC_OFFSET_HOURS[lis.country[user]] * MS_PER_HOUR) % MS_PER_DAY
        start_ms = day * MS_PER_DAY + utc_ms
        order = np.lexsort((start_ms, user))
        user, day, start_ms = user[order], day[order], start_ms[order]
        n = len(user)

        context = choose(rng, CONTEXT_SHARES, n)
        ref = np.full(n, -1, dtype=np.int64)
        self._playlist_contexts(context, ref, user, day)
        albums = context == ALBUM
        ref[albums] = self.cat.track_album[self._seed_tracks(user[albums], day[albums])]
        artists = context == ARTIST
        ref[artists] = self._context_artists(user[artists], day[artists])

        shuffle = rng.random(n) < lis.shuffle_propensity[user] * np.where(context == ALBUM, 0.4, 1.0)
        other_platform = choose(rng, profiles.PLATFORM_SHARES, n)
        platform = np.where(rng.random(n) < 0.88, lis.platform[user], other_platform)
        start_reason = np.array([START_REASON[r] for r in ("clickrow", "playbtn", "appload")])[
            choose(rng, np.array([0.5, 0.32, 0.18]), n)
        ]
        start_reason[platform == profiles.PLATFORMS.index("smart_speaker")] = START_REASON["remote"]

        plays = np.clip(
            np.round(rng.lognormal(np.log(PLAYS_PER_SESSION_MEDIAN), 0.75, n)), 1, MAX_PLAYS_PER_SESSION
        ).astype(np.int64)
        list_length = np.zeros(n, dtype=np.int64)
        list_length[context == PLAYLIST] = np.diff(self.pls.item_offsets)[ref[context == PLAYLIST]]
        list_length[albums] = self.cat.album_length[ref[albums]]
        lists = list_length > 0
        plays[lists] = np.minimum(plays[lists], list_length[lists])  # play a list through at most once
        first_position = np.where(rng.random(n) < 0.5, 0, rng.integers(0, np.maximum(list_length, 1)))
        stride = np.where(shuffle, SHUFFLE_STRIDES[rng.integers(0, len(SHUFFLE_STRIDES), n)], 1)
        return _Sessions(
            user,
            day,
            start_ms,
            context,
            ref,
            shuffle,
            platform,
            start_reason,
            plays,
            list_length,
            first_position,
            stride,
        )

    def _playlist_contexts(self, context, ref, user, day) -> None:
        """Pick one of the listener's playlists; without one that exists by then, play the collection."""
        on = np.flatnonzero(context == PLAYLIST)
        offsets = self.pls.by_owner_offsets
        owned = offsets[user[on] + 1] - offsets[user[on]]
        pick = offsets[user[on]] + (self.rng.random(len(on)) * owned).astype(np.int64)
        pick = np.minimum(pick, max(len(self.pls.numbers) - 1, 0))
        day_start_us = self.config.window_start_us + day[on] * US_PER_DAY
        exists = owned > 0
        exists[exists] = self.pls.first_added_us[pick[exists]] < day_start_us[exists]
        ref[on[exists]] = pick[exists]
        context[on[~exists]] = COLLECTION

    def _seed_tracks(self, user, day) -> np.ndarray:
        """A released track of a favourite artist (or of a taste cluster): what an album session plays."""
        rng, cat = self.rng, self.cat
        n = len(user)
        favourite = rng.random(n) < 0.7
        track = cat.by_cluster.sample(self._taste_clusters(user), rng.random(n))
        track[favourite] = cat.by_artist.sample(
            self._favourite_artists(user[favourite], day[favourite]), rng.random(int(favourite.sum()))
        )
        late = (cat.track_release_day[track] > day) | (rng.random(n) >= cat.new_release_acceptance(track, day))
        track[late] = self._fallback(track[late], by_artist=True)
        return track

    def _context_artists(self, user, day) -> np.ndarray:
        """The artist of an artist session: mostly a favourite, else one of a taste cluster."""
        favourite = self.rng.random(len(user)) < 0.7
        artist = self.cat.track_artist[
            self.cat.by_cluster.sample(self._taste_clusters(user), self.rng.random(len(user)))
        ]
        artist[favourite] = self._favourite_artists(user[favourite], day[favourite])
        return artist

    # Picking tracks -------------------------------------------------------------------------

    def _taste_clusters(self, user) -> np.ndarray:
        return self.lis.taste_cluster[self.lis.taste.sample(user, self.rng.random(len(user)))]

    def _favourite_artists(self, user, day) -> np.ndarray:
        """A favourite artist of each listener as of that day (later discoveries not yet)."""
        lis = self.lis
        entry = lis.favourites.sample(user, self.rng.random(len(user)))
        early = lis.favourite_from_day[entry] > day
        entry[early] = lis.initial_favourites.sample(user[early], self.rng.random(int(early.sum())))
        return lis.favourite_artist[entry]

    def _favourite_tracks(self, user, day) -> np.ndarray:
        lis = self.lis
        entry = lis.favourite_tracks.sample(user, self.rng.random(len(user)))
        early = lis.favourite_track_from_day[entry] > day
        entry[early] = lis.initial_favourite_tracks.sample(user[early], self.rng.random(int(early.sum())))
        return lis.favourite_track[entry]

    def _explore_clusters(self, user) -> np.ndarray:
        """Half the time a taste cluster, otherwise a cluster next to one."""
        cat, rng = self.cat, self.rng
        cluster = self._taste_clusters(user)
        drift = np.flatnonzero(rng.random(len(user)) < 0.5)
        start = cat.neighbour_offsets[cluster[drift]]
        count = cat.neighbour_offsets[cluster[drift] + 1] - start
        cluster[drift] = cat.neighbour_clusters[start + (rng.random(len(drift)) * count).astype(np.int64)]
        return cluster

    def _fallback(self, track, by_artist: bool) -> np.ndarray:
        """A released stand-in: the artist's top back-catalogue track, or a back-catalogue track of
        the cluster (which always exists)."""
        cat = self.cat
        out = cat.artist_fallback_track[cat.track_artist[track]] if by_artist else np.full(len(track), -1)
        none = out < 0
        out[none] = cat.back_catalog_by_cluster.sample(cat.track_cluster[track[none]], self.rng.random(int(none.sum())))
        return out

    def _modes(self, s: _Sessions, sess) -> np.ndarray:
        context = s.context[sess]
        mode = np.full(len(sess), MODE_LIST)
        mode[context == ARTIST] = MODE_CONTEXT_ARTIST
        draw = self.rng.random(len(sess))
        for kind, (mix, explore_scale) in FREE_CONTEXT_MIX.items():
            on = context == kind
            explore = np.minimum(EXPLORE_CAP, explore_scale * self.lis.exploration[s.user[sess[on]]])
            bounds = np.cumsum(mix)[None, :] * (1 - explore[:, None])
            picked = (draw[on][:, None] < bounds).argmax(axis=1)
            inside = draw[on] < bounds[:, -1]
            mode[on] = np.where(inside, MODE_FAVOURITE_TRACK + picked, MODE_EXPLORE)
        return mode

    def _tracks(self, s: _Sessions, sess, position, mode, user, day) -> np.ndarray:
        cat, pls, rng = self.cat, self.pls, self.rng
        track = np.empty(len(sess), dtype=np.int64)

        on = np.flatnonzero(mode == MODE_LIST)
        list_sess = sess[on]
        index = (s.first_position[list_sess] + position[on] * s.stride[list_sess]) % np.maximum(
            s.list_length[list_sess], 1
        )
        playlist = s.context[list_sess] == PLAYLIST
        item = pls.item_offsets[s.ref[list_sess[playlist]]] + index[playlist]
        # An item added after the session's day is not on the playlist yet: play the first one.
        day_start_us = self.config.window_start_us + day[on[playlist]] * US_PER_DAY
        not_yet = pls.item_added_us[item] >= day_start_us
        item[not_yet] = pls.item_offsets[s.ref[list_sess[playlist][not_yet]]]
        track[on[playlist]] = pls.item_track[item]
        track[on[~playlist]] = cat.album_start[s.ref[list_sess[~playlist]]] + index[~playlist]

        on = np.flatnonzero(mode == MODE_CONTEXT_ARTIST)
        track[on] = cat.by_artist.sample(s.ref[sess[on]], rng.random(len(on)))
        on = np.flatnonzero(mode == MODE_FAVOURITE_TRACK)
        track[on] = self._favourite_tracks(user[on], day[on])
        on = np.flatnonzero(mode == MODE_FAVOURITE_ARTIST)
        track[on] = cat.by_artist.sample(self._favourite_artists(user[on], day[on]), rng.random(len(on)))
        on = np.flatnonzero(mode == MODE_CLUSTER)
        track[on] = cat.by_cluster.sample(self._taste_clusters(user[on]), rng.random(len(on)))
        on = np.flatnonzero(mode == MODE_EXPLORE)
        track[on] = cat.explore_by_cluster.sample(self._explore_clusters(user[on]), rng.random(len(on)))

        # Nothing plays before its release; popularity draws see new releases' bump fade.
        popularity_draw = mode >= MODE_CONTEXT_ARTIST
        popularity_draw[mode == MODE_FAVOURITE_TRACK] = False
        keep = cat.track_release_day[track] <= day
        keep[popularity_draw] &= rng.random(int(popularity_draw.sum())) < cat.new_release_acceptance(
            track[popularity_draw], day[popularity_draw]
        )
        redo = np.flatnonzero(~keep)
        by_artist = mode[redo] <= MODE_FAVOURITE_ARTIST
        track[redo[by_artist]] = self._fallback(track[redo[by_artist]], by_artist=True)
        track[redo[~by_artist]] = self._fallback(track[redo[~by_artist]], by_artist=False)
        return track

    # Outcomes -------------------------------------------------------------------------------

    def _skips(self, s: _Sessions, sess, mode, user, track) -> np.ndarray:
        """Skips rise outside the taste, when exploring, and with tempo and energy mismatch."""
        cat, lis = self.cat, self.lis
        in_taste = lis.in_taste(user, cat.track_cluster[track], cat.n_clusters)
        tempo, preferred = cat.track_tempo[track], lis.preferred_tempo[user]
        tempo_gap = np.minimum(
            np.abs(tempo - preferred), np.minimum(np.abs(2 * tempo - preferred), np.abs(tempo / 2 - preferred))
        )
        energy_gap = np.abs(cat.track_energy[track] - lis.preferred_energy[user])
        logit = (
            -2.0
            + 1.3 * ~in_taste
            + 0.6 * (mode == MODE_EXPLORE)
            - 0.9 * (mode == MODE_FAVOURITE_TRACK)
            - 0.4 * ((mode == MODE_FAVOURITE_ARTIST) | (mode == MODE_CONTEXT_ARTIST))
            + 0.05 * np.minimum(tempo_gap, 40)
            + 2.0 * energy_gap
            + 0.3 * s.shuffle[sess]
            + 0.25 * (s.context[sess] == RADIO)
        )
        return self.rng.random(len(track)) < 1 / (1 + np.exp(-logit))

    def _outcomes(self, s: _Sessions, sess, position, track, skipped):
        rng = self.rng
        n = len(track)
        last = position == s.plays[sess] - 1
        reason_end = np.full(n, END_REASON["trackdone"])
        reason_end[skipped] = np.where(
            rng.random(int(skipped.sum())) < 0.9, END_REASON["fwdbtn"], END_REASON["backbtn"]
        )
        middle = ~skipped & ~last
        reason_end[middle & (rng.random(n) < 0.04)] = END_REASON["endplay"]
        final = np.flatnonzero(~skipped & last)
        endings = np.array([END_REASON[r] for r in ("trackdone", "endplay", "logout", "unexpected-exit")])
        reason_end[final] = endings[choose(rng, np.array([0.3, 0.45, 0.2, 0.05]), len(final))]

        reason_start = np.empty(n, dtype=np.int64)
        first = position == 0
        reason_start[first] = s.start_reason[sess[first]]
        reason_start[~first] = NEXT_START[reason_end[np.flatnonzero(~first) - 1]]

        duration = self.cat.track_duration_ms[track]
        ms = duration - rng.integers(0, 800, n)
        quick = rng.lognormal(np.log(9000), 0.8, n).clip(500, 29_900)
        just_over = rng.uniform(30_000, 60_000, n)
        ms = np.where(skipped, np.minimum(np.where(rng.random(n) < 0.85, quick, just_over), duration), ms)
        partial = ~skipped & (reason_end != END_REASON["trackdone"])
        ms = np.where(partial, rng.uniform(0.3, 0.97, n) * duration, ms)
        return reason_start, reason_end, ms.astype(np.int64)

    def _timeline(self, s: _Sessions, sess, ms_played) -> np.ndarray:
        """Play start times in ms from the window start.

        Within a session a play starts when the previous one ends, after a short gap (now and
        then a pause of a few minutes). A session starts at its wished time, or 30+ minutes after
        the listener's previous session ended if that is later: with c the listener's cumulative
        session lengths and gaps, start_k = c_k + max_{j<=k}(wish_j - c_j), a running maximum.
        """
        rng = self.rng
        n = len(sess)
        gap = np.where(rng.random(n) < 0.03, rng.integers(30_000, 240_000, n), rng.integers(0, 1_500, n))
        step = ms_played + gap
        offset = exclusive_cumsum_in_segments(step, sess)
        length = np.add.reduceat(step, offsets_from_counts(s.plays)[:-1]) if n else np.zeros(0, np.int64)
        between = MIN_SESSION_GAP_MS + rng.integers(60_000, 20 * 60_000, len(s.user))
        before = exclusive_cumsum_in_segments(length + between, s.user)
        slack = s.start_ms - before
        separation = self.config.days * MS_PER_DAY + (before.max() if len(before) else 0) + 1
        start = np.maximum.accumulate(slack + s.user * separation) - s.user * separation + before
        return start[sess] + offset


def event_table(cat: Catalog, lis: Listeners, pls: Playlists, ev: Events, user_ids: pa.Array, chunk: int) -> pa.Table:
    """The chunk's listening_events rows; ids are built once per entity and taken per play."""
    n = len(ev)
    numbers = chunk * ids.EVENTS_PER_CHUNK_LIMIT + np.arange(n)
    return pa.Table.from_arrays(
        [
            ids.format_ids(ids.EVENT, numbers),
            user_ids.take(ev.user),
            cat.track_ids.take(ev.track),
            pa.array(ev.played_at_us, type=pa.timestamp("us")),
            pa.array(ev.ms_played),
            pa.array(profiles.CONTEXT_TYPES).take(ev.session_context[ev.session]),
            _session_context_ids(cat, pls, ev).take(ev.session),
            pa.array(profiles.REASONS_START).take(ev.reason_start),
            pa.array(profiles.REASONS_END).take(ev.reason_end),
            pa.array(ev.session_shuffle[ev.session]),
            pa.array(ev.skipped),
            pa.array(profiles.PLATFORMS).take(ev.session_platform[ev.session]),
            pa.array(profiles.COUNTRY_CODES).take(lis.country[ev.user]),
        ],
        schema=RECORDS["listening_events"],
    )


def _session_context_ids(cat: Catalog, pls: Playlists, ev: Events) -> pa.Array:
    """The playlist, album or artist id of each session; null for the other contexts."""
    parts, index = [], np.full(len(ev.session_context), -1, dtype=np.int64)
    done = 0
    for kind, make in (
        (PLAYLIST, lambda refs: ids.format_ids(ids.PLAYLIST, pls.numbers[refs])),
        (ALBUM, cat.album_ids.take),
        (ARTIST, cat.artist_ids.take),
    ):
        on = np.flatnonzero(ev.session_context == kind)
        parts.append(make(ev.session_ref[on]))
        index[on] = done + np.arange(len(on))
        done += len(on)
    return pa.concat_arrays(parts).take(pa.array(index, mask=index < 0))
