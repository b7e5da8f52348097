"""Generator settings and the time window they imply."""

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tunesday.contract import SERVICE_LAUNCH_DATE

# Listeners per chunk. The chunk is the unit of memory, parallelism and randomness (each chunk
# draws from its own seed), so the output depends on this number and never on --workers.
CHUNK_USERS = 2000
# Each chunk has its own range of event ids and of unknown ids for bad rows (see ids.py).
MAX_CHUNKS = 9_999

MS_PER_DAY = 86_400_000
US_PER_MS = 1000
US_PER_SECOND = 1_000_000
US_PER_DAY = MS_PER_DAY * US_PER_MS
EPOCH = dt.date(1970, 1, 1)


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def now_utc() -> dt.datetime:
    """Now, UTC, to the second, without a time zone (as the raw contract stores times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class GeneratorConfig:
    users: int
    tracks: int
    days: int
    seed: int = 0
    end_date: dt.date = field(default_factory=today_utc)
    out: Path = Path("target/data")
    bad_share: float = 0.001
    artists: int | None = None  # None: one artist per ten tracks
    workers: int = 1
    chunk_users: int = CHUNK_USERS  # not on the command line; tests lower it to get several chunks
    # When every row is stamped as loaded (naive UTC). None: when the config is made, so that
    # `dbt source freshness` passes on fresh data; give it to get the same files twice.
    loaded_at: dt.datetime | None = None
    # Experiments (tunesday/generate/exposures.py): the treatment's true relative effect on its
    # listeners' plays after their first exposure (-0.1: a tenth fewer), and the share of treatment
    # listeners whose exposures are lost (a broken assignment, for the sample ratio check).
    experiment_effect: float = 0.0
    lost_treatment_exposures: float = 0.0

    @property
    def artist_count(self) -> int:
        """`artists`, its default filled in (__post_init__)."""
        assert self.artists is not None
        return self.artists

    @property
    def loaded_time(self) -> dt.datetime:
        """`loaded_at`, its default filled in (__post_init__)."""
        assert self.loaded_at is not None
        return self.loaded_at

    def __post_init__(self) -> None:
        if self.artists is None:
            object.__setattr__(self, "artists", max(32, self.tracks // 10))
        object.__setattr__(self, "out", Path(self.out))
        if self.loaded_at is None:
            object.__setattr__(self, "loaded_at", now_utc())
        problems = []
        artists, loaded_at = self.artist_count, self.loaded_time
        if not 1 <= self.users <= MAX_CHUNKS * self.chunk_users:
            problems.append(f"--users must be between 1 and {MAX_CHUNKS * self.chunk_users}")
        if self.seed < 0:
            problems.append("--seed must not be negative")
        if artists < 32:
            problems.append("--artists must be at least 32 (two scenes for each of the 16 genres)")
        if self.tracks < artists:
            problems.append("--tracks must be at least --artists (every artist has a track)")
        if self.days < 1:
            problems.append("--days must be at least 1")
        if not 0 <= self.bad_share <= 0.2:
            problems.append("--bad-share must be between 0 and 0.2")
        if self.workers < 1:
            problems.append("--workers must be at least 1")
        if not -0.9 <= self.experiment_effect <= 9:
            problems.append("--experiment-effect must be between -0.9 and 9")
        if not 0 <= self.lost_treatment_exposures <= 1:
            problems.append("--lose-treatment-exposures must be between 0 and 1")
        if self.chunk_users < 1:
            problems.append("chunk_users must be at least 1")
        if self.end_date > today_utc():
            problems.append("--end-date must not be after today (UTC): events would lie in the future")
        if loaded_at < dt.datetime.combine(self.end_date, dt.time()):
            problems.append("--loaded-at must not be before --end-date: rows cannot arrive before they were played")
        elif loaded_at > now_utc() + dt.timedelta(seconds=1):
            problems.append("--loaded-at must not be in the future")
        if self.window_start <= dt.date.fromisoformat(SERVICE_LAUNCH_DATE):
            problems.append(f"the window must start after the service launch ({SERVICE_LAUNCH_DATE})")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def window_start(self) -> dt.date:
        return self.end_date - dt.timedelta(days=self.days)

    @property
    def window_start_day(self) -> int:
        """The window start in days since 1970-01-01; all day numbers below count from it."""
        return (self.window_start - EPOCH).days

    @property
    def window_start_us(self) -> int:
        return self.window_start_day * US_PER_DAY

    @property
    def window_end_us(self) -> int:
        return self.window_start_us + self.days * US_PER_DAY

    @property
    def exposures_start_day(self) -> int:
        """The first day (since 1970-01-01) the simulated shim serves experiments: halfway through
        the window, so that the analysis has a pre-period (CUPED's covariate) before it."""
        return self.window_start_day + self.days // 2

    @property
    def n_chunks(self) -> int:
        return -(-self.users // self.chunk_users)

    def chunk_users_range(self, chunk: int) -> range:
        return range(chunk * self.chunk_users, min(self.users, (chunk + 1) * self.chunk_users))

    def as_dict(self) -> dict:
        args = asdict(self)
        args["end_date"] = self.end_date.isoformat()
        args["out"] = str(self.out)
        args["loaded_at"] = self.loaded_time.isoformat()
        return args
