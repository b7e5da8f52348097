"""Reference data the generator draws from: genres and their sound, keys, countries, words.

The numbers are rough but deliberate: they follow published descriptions of Spotify's audio
features per genre (tempo ranges, minor keys in electronic music and metal, acoustic folk and
classical, loud metal, quiet ambient), so that audio-based features carry signal downstream.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Genre:
    name: str
    share: float                 # share of the catalogue's artists
    listener_share: float        # how often listeners pick it as a taste
    tempo: tuple[float, float]   # typical BPM range
    half_time_share: float       # share of tracks whose tempo is reported at half time (trap)
    major_share: float           # share of tracks in a major key
    energy: float                # means of the 0-1 audio features
    valence: float
    danceability: float
    acousticness: float
    instrumental_share: float    # share of (mostly) instrumental tracks
    loudness: tuple[float, float]  # mean and spread in dB
    minutes: float               # median duration
    minutes_sigma: float         # lognormal spread of the duration
    triple_meter_share: float    # share of tracks in 3/4
    neighbours: tuple[str, ...]  # genres a listener of this one may drift into


GENRES: tuple[Genre, ...] = (
    Genre("pop", .13, .17, (95, 130), 0, .66, .68, .56, .68, .18, .01, (-5.8, 1.8), 3.3, .18, .03,
          ("r&b", "latin", "house", "country")),
    Genre("hip hop", .11, .14, (80, 100), 0, .45, .65, .50, .78, .12, .02, (-6.5, 2.0), 3.4, .22, .01,
          ("trap", "r&b", "pop")),
    Genre("trap", .06, .07, (130, 150), .35, .30, .68, .38, .72, .10, .02, (-6.0, 2.0), 3.0, .22, .01,
          ("hip hop", "r&b")),
    Genre("r&b", .06, .06, (60, 100), 0, .50, .55, .50, .67, .22, .02, (-7.0, 2.0), 3.6, .20, .05,
          ("pop", "hip hop", "jazz")),
    Genre("rock", .09, .09, (100, 150), 0, .62, .78, .48, .50, .10, .05, (-6.5, 2.5), 3.8, .25, .06,
          ("metal", "folk", "pop")),
    Genre("metal", .05, .04, (90, 180), 0, .35, .92, .30, .42, .01, .10, (-4.8, 1.8), 4.6, .30, .03,
          ("rock",)),
    Genre("techno", .05, .04, (122, 135), 0, .30, .85, .35, .72, .02, .80, (-7.0, 2.0), 6.2, .25, .002,
          ("house", "drum and bass", "ambient")),
    Genre("house", .06, .05, (118, 128), 0, .45, .78, .55, .80, .04, .55, (-7.5, 2.0), 5.5, .25, .003,
          ("techno", "pop", "drum and bass")),
    Genre("drum and bass", .03, .02, (160, 178), 0, .30, .90, .40, .55, .02, .50, (-5.0, 1.5), 4.8, .25, .002,
          ("techno", "house")),
    Genre("ambient", .03, .02, (60, 100), 0, .50, .18, .22, .30, .80, .85, (-18.0, 5.0), 5.5, .40, .10,
          ("classical", "techno")),
    Genre("classical", .05, .03, (50, 170), 0, .55, .15, .30, .30, .92, .88, (-21.0, 5.0), 6.0, .50, .25,
          ("ambient", "jazz")),
    Genre("jazz", .04, .03, (80, 180), 0, .55, .40, .52, .55, .60, .45, (-12.0, 3.5), 4.8, .35, .15,
          ("r&b", "classical")),
    Genre("reggaeton", .05, .06, (88, 100), 0, .45, .75, .70, .82, .12, .01, (-5.0, 1.5), 3.3, .18, .01,
          ("latin", "pop", "trap")),
    Genre("latin", .06, .06, (90, 130), 0, .55, .72, .72, .70, .25, .02, (-6.0, 2.0), 3.5, .20, .05,
          ("reggaeton", "pop")),
    Genre("country", .06, .07, (90, 130), 0, .85, .65, .60, .60, .25, .01, (-6.5, 2.0), 3.3, .18, .12,
          ("folk", "rock", "pop")),
    Genre("folk", .05, .05, (80, 120), 0, .78, .38, .45, .52, .72, .10, (-10.0, 3.0), 3.8, .25, .20,
          ("country", "rock")),
)
GENRE_NAMES: tuple[str, ...] = tuple(g.name for g in GENRES)
GENRE_INDEX: dict[str, int] = {name: i for i, name in enumerate(GENRE_NAMES)}

# How often each pitch class (C .. B) appears in popular music: C, G, D, C#, A common, D# rare.
KEY_SHARES = np.array([.125, .105, .095, .03, .075, .085, .07, .115, .065, .095, .065, .075])
NO_KEY_SHARE = 0.01
# Odd meters besides 3/4: 5, 6 and 7 beats per bar.
ODD_METERS = {5: .008, 6: .003, 7: .002}

# Listener countries with their share of users and UTC offset in whole hours.
COUNTRIES: tuple[tuple[str, float, int], ...] = (
    ("US", .22, -5), ("BR", .08, -3), ("GB", .07, 0), ("DE", .07, 1), ("MX", .06, -6),
    ("FR", .05, 1), ("IN", .05, 5), ("ES", .04, 1), ("CA", .04, -5), ("IT", .04, 1),
    ("SE", .03, 1), ("AU", .03, 10), ("JP", .03, 9), ("NL", .03, 1), ("PL", .03, 1),
    ("AR", .03, -3), ("CO", .03, -5), ("ID", .03, 7), ("TR", .02, 3), ("PH", .02, 8),
)
COUNTRY_CODES: tuple[str, ...] = tuple(c[0] for c in COUNTRIES)
COUNTRY_SHARES = np.array([c[1] for c in COUNTRIES]) / sum(c[1] for c in COUNTRIES)
COUNTRY_UTC_OFFSET_HOURS = np.array([c[2] for c in COUNTRIES])
# Genres that listeners of a country pick more often than the world does.
COUNTRY_GENRE_AFFINITY: dict[str, dict[str, float]] = {
    "MX": {"latin": 3, "reggaeton": 3}, "CO": {"latin": 3, "reggaeton": 4},
    "AR": {"latin": 3, "reggaeton": 3}, "ES": {"latin": 2, "reggaeton": 2.5},
    "BR": {"latin": 2, "reggaeton": 1.5}, "US": {"country": 1.8, "hip hop": 1.3},
    "CA": {"country": 1.5}, "AU": {"country": 1.3}, "SE": {"metal": 2, "house": 1.5},
    "DE": {"techno": 2.5, "metal": 1.5}, "NL": {"house": 2, "techno": 2}, "GB": {"drum and bass": 2.5},
    "JP": {"jazz": 2, "classical": 1.5}, "FR": {"house": 1.5, "hip hop": 1.3},
}
# Where the artists of a genre come from, besides the world at large.
GENRE_ARTIST_COUNTRIES: dict[str, tuple[str, ...]] = {
    "reggaeton": ("PR", "CO", "MX", "ES", "AR"), "latin": ("MX", "CO", "AR", "BR", "ES", "CU"),
    "country": ("US", "US", "US", "CA", "AU"), "techno": ("DE", "NL", "GB", "BE"),
    "house": ("GB", "NL", "FR", "US"), "drum and bass": ("GB", "GB", "NL", "AU"),
    "metal": ("SE", "FI", "NO", "DE", "US"), "hip hop": ("US", "US", "GB", "FR"),
    "trap": ("US", "US", "GB"), "classical": ("DE", "AT", "IT", "RU", "GB", "FR"),
}
ARTIST_COUNTRIES: tuple[str, ...] = ("US", "GB", "CA", "AU", "SE", "DE", "FR", "NL", "IE", "NZ", "BR",
                                     "JP", "KR", "ES", "IT", "NO")

PRODUCT_TIERS: tuple[str, ...] = ("free", "premium", "family", "student")
PRODUCT_TIER_SHARES = np.array([.45, .33, .13, .09])
PRODUCT_TIER_ACTIVITY = np.array([.85, 1.15, 1.0, 1.05])   # premium listeners listen more
PRODUCT_TIER_SHUFFLE = np.array([.25, 0, 0, 0])            # free mobile listeners get shuffle

PLATFORMS: tuple[str, ...] = ("ios", "android", "desktop", "web", "smart_speaker")
PLATFORM_SHARES = np.array([.36, .42, .13, .06, .03])

# Local hour-of-day rhythm of session starts: a commute peak on weekdays, late mornings at weekends.
WEEKDAY_HOURS = np.array([1.2, .7, .4, .25, .2, .35, 1.0, 2.2, 3.0, 2.6, 2.4, 2.6,
                          3.0, 3.0, 2.8, 3.0, 3.4, 4.0, 4.2, 4.0, 3.8, 3.5, 2.8, 2.0])
WEEKEND_HOURS = np.array([2.0, 1.5, 1.0, .6, .3, .25, .4, .8, 1.4, 2.2, 3.0, 3.4,
                          3.6, 3.6, 3.5, 3.5, 3.6, 3.8, 3.8, 3.8, 3.8, 3.6, 3.2, 2.6])
# Sessions per day relative to a Monday (Monday first).
WEEKDAY_ACTIVITY = np.array([1.0, 1.0, 1.02, 1.03, 1.1, 1.15, 1.05])

CONTEXT_TYPES: tuple[str, ...] = ("playlist", "album", "artist", "collection", "radio", "search")
REASONS_START: tuple[str, ...] = ("clickrow", "trackdone", "fwdbtn", "backbtn", "playbtn", "appload",
                                  "remote")
REASONS_END: tuple[str, ...] = ("trackdone", "fwdbtn", "backbtn", "endplay", "logout", "unexpected-exit")

FIRST_NAMES = (
    "Ada", "Alma", "Amir", "Ana", "Ari", "Bea", "Ben", "Cleo", "Dani", "Eli", "Ella", "Emil", "Eva", "Felix",
    "Finn", "Gia", "Hana", "Ida", "Ines", "Ivo", "Jada", "Jonas", "Kai", "Lena", "Leo", "Lia", "Luca", "Mara",
    "Mateo", "Maya", "Milo", "Nia", "Nico", "Noa", "Omar", "Otto", "Paz", "Rafa", "Remy", "Rosa", "Sami",
    "Sara", "Theo", "Uma", "Vera", "Yara", "Zoe", "Marcus", "Olivia", "Frank", "June", "Ruby", "Sol",
)
LAST_NAMES = (
    "Alvarez", "Bauer", "Blake", "Castillo", "Chen", "Costa", "Dahl", "Diaz", "Duval", "Eriksen", "Ferro",
    "Fontaine", "Garcia", "Grey", "Haas", "Hayes", "Ito", "Jansen", "Keller", "Kowalski", "Lang", "Lindqvist",
    "Moreau", "Morgan", "Novak", "Okafor", "Ortiz", "Park", "Quinn", "Reyes", "Rossi", "Santos", "Silva",
    "Stone", "Tanaka", "Vance", "Varga", "Weber", "West", "Young", "Zeller", "Brooks", "Mendes", "Holm",
)
ADJECTIVES = (
    "Golden", "Silent", "Electric", "Velvet", "Broken", "Neon", "Midnight", "Crimson", "Hollow", "Wild",
    "Paper", "Endless", "Distant", "Lucky", "Blue", "Burning", "Crystal", "Quiet", "Heavy", "Little",
    "Lost", "Sweet", "Cold", "Bright", "Dark", "Secret", "Slow", "Young", "Savage", "Holy", "Lonely",
    "Shining", "Fading", "Northern", "Southern", "Hidden", "Restless", "Tender", "Static", "Sunday",
)
NOUNS = (
    "Heart", "River", "Echo", "City", "Fire", "Ocean", "Dream", "Shadow", "Summer", "Rain", "Light", "Road",
    "Garden", "Mirror", "Storm", "Moon", "Star", "Wave", "Signal", "Ghost", "Horizon", "Island", "Machine",
    "Kingdom", "Season", "Window", "Letter", "Highway", "Engine", "Flower", "Party", "Night", "Morning",
    "Rebel", "Tiger", "Wolf", "Diamond", "Sky", "Canyon", "Desert", "Paradise", "Satellite", "Memory",
)
ENSEMBLES = ("Quartet", "Orchestra", "Ensemble", "Trio", "Choir", "Collective", "Sound System", "Band")
# Appended to a small share of track names.
TRACK_SUFFIXES = ("", " - Remix", " - Live", " (Acoustic)", " Pt. 2", " - Radio Edit", " (feat. Nova)")
TRACK_SUFFIX_SHARES = np.array([.86, .04, .03, .02, .02, .02, .01])

# Playlist names: "<genre> mix"-style names, and mood names for high and low energy clusters.
GENRE_PLAYLIST_TEMPLATES = ("{} mix", "{} favourites", "Best of {}", "{} vibes", "My {}", "{} essentials")
ENERGETIC_PLAYLIST_NAMES = ("Workout", "Gym", "Party", "Running", "Pregame", "Road trip", "Summer")
CALM_PLAYLIST_NAMES = ("Chill", "Late night", "Focus", "Sleep", "Sunday morning", "Rainy day", "Study")
GENERIC_PLAYLIST_NAMES = ("Favourites", "On repeat", "Car", "Kitchen", "Throwbacks", "New stuff")
