"""The reason codes the warehouse gives with each recommendation, in words for people: the
report's listener pages (tunesday/report.py) and the shim's explorer page (serving/explore.py).

Codes are comma-separated in `reason_codes` (fct_discover_weekly, fct_user_recommendations,
fct_smart_shuffle_pools): the best candidate source with its seed (`similar_artists:<artist_id>`,
`long_term_favourite_neighbours:<track_id>`, …), then flags (tempo_match, key_match, …).
"""

from __future__ import annotations

from collections.abc import Mapping

WORDS = {
    "similar_artists": "fans of {artist} play them",
    "long_term_favourite_neighbours": "played with {track}, a long-time favourite of yours",
    "recent_favourite_neighbours": "played with {track}, a recent favourite of yours",
    "playlist_neighbours": "played with {track}, on this playlist",
    "new_releases": "new from {artist}",
    "popular": "popular right now",
    "tempo_match": "in your tempo range",
    "key_match": "in a key you play",
    "energy_match": "matches the playlist's energy",
    "new_artist": "an artist new to you",
    "known_artist": "an artist you know",
}


def in_words(code: str, artists: Mapping[str, str], tracks: Mapping[str, str]) -> str:
    """One code in words, its artist or track id replaced by the name (the code itself if unknown)."""
    name, _, argument = code.strip().partition(":")
    template = WORDS.get(name)
    if template is None:
        return code
    return template.format(artist=artists.get(argument, argument), track=tracks.get(argument, argument))


def all_in_words(codes: str | None, artists: Mapping[str, str], tracks: Mapping[str, str]) -> list[str]:
    """Every code of a `reason_codes` value in words, in order."""
    return [in_words(code, artists, tracks) for code in (codes or "").split(",") if code.strip()]
