"""The challenge's submission format: write it, read it, and reject anything else with a reason.

The format (Spotify Million Playlist Dataset Challenge, the continuation of the RecSys Challenge
2018; plain or gzipped CSV):
- fields separated by commas, whitespace around a comma allowed;
- lines starting with '#' are comments, empty lines are ignored;
- the first other line is `team_info,<team name>,<contact email>` (the 2018 challenge had a
  fourth field, main or creative track; the continuation dropped it, and so do we);
- then one line per challenge playlist: `<pid>,spotify:track:<id>,...` with exactly 500
  distinct track URIs, none of them a seed of that playlist, best first.
`write_submission` adds `# runtime_seconds: <s>` when given a runtime; the scorer prints it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tunesday.mpd import TRACK_URI, Playlist, open_text

TEAM_INFO = "team_info"
TRACKS_PER_PLAYLIST = 500
RUNTIME_COMMENT = re.compile(r"#\s*runtime_seconds:\s*([0-9.]+)")
MAX_LISTED_PROBLEMS = 10


class SubmissionError(ValueError):
    def __init__(self, path: str | Path, problems: Sequence[str]):
        self.problems = list(problems)
        shown = "\n".join(f"- {problem}" for problem in self.problems[:MAX_LISTED_PROBLEMS])
        more = len(self.problems) - MAX_LISTED_PROBLEMS
        super().__init__(
            f"{path}: invalid submission, {len(self.problems)} problem(s):\n{shown}"
            + (f"\n- ... and {more} more" if more > 0 else "")
        )


@dataclass
class Submission:
    team: str
    email: str
    recommendations: dict[int, list[str]]
    comments: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what reading found wrong

    @property
    def runtime_seconds(self) -> float | None:
        for comment in self.comments:
            if found := RUNTIME_COMMENT.fullmatch(comment.strip()):
                return float(found.group(1))
        return None


def write_submission(
    path: str | Path,
    recommendations: Mapping[int, Sequence[str]],
    team: str,
    email: str,
    runtime_seconds: float | None = None,
    comments: Iterable[str] = (),
) -> None:
    """Write as given (no check: `validate` is the check), gzipped when the name ends in .gz."""
    for value in (team, email):
        if not value or any(bad in value for bad in ",\n\r") or value.startswith("#"):
            raise ValueError(f"team name and email must be non-empty, without commas or newlines: {value!r}")
    with open_text(path, "w") as out:
        for comment in comments:
            out.write(f"# {comment}\n")
        if runtime_seconds is not None:
            out.write(f"# runtime_seconds: {runtime_seconds:.3f}\n")
        out.write(f"{TEAM_INFO},{team},{email}\n")
        for pid, tracks in recommendations.items():
            out.write(f"{pid}," + ",".join(tracks) + "\n")


def read_submission(path: str | Path) -> Submission:
    """Parse a submission; format problems are collected in `problems`, never raised here."""
    submission = Submission(team="", email="", recommendations={})
    seen_team_info = False
    with open_text(path) as stream:
        for number, line in enumerate(stream, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                submission.comments.append(line)
                continue
            fields = [value.strip() for value in line.split(",")]
            if not seen_team_info:
                seen_team_info = True
                if fields[0] == TEAM_INFO:
                    if len(fields) == 3 and all(fields[1:]):
                        submission.team, submission.email = fields[1], fields[2]
                    else:
                        submission.problems.append(
                            f"line {number}: team_info needs exactly a team name and a contact email"
                        )
                    continue
                submission.problems.append(
                    f"line {number}: the first line must be 'team_info,<team name>,<contact email>'"
                )
            if not (fields[0].isascii() and fields[0].isdigit()):
                submission.problems.append(f"line {number}: {fields[0]!r} is not a playlist id")
                continue
            pid = int(fields[0])
            if pid in submission.recommendations:
                submission.problems.append(f"line {number}: pid {pid} has a second line")
                continue
            submission.recommendations[pid] = fields[1:]
    if not seen_team_info:
        submission.problems.append("empty: no 'team_info,<team name>,<contact email>' line, no playlists")
    return submission


def validate(
    submission: Submission, challenge: Sequence[Playlist], tracks_per_playlist: int = TRACKS_PER_PLAYLIST
) -> list[str]:
    """Every reason the submission would be rejected (empty when it is valid)."""
    problems = list(submission.problems)
    seeds = {playlist.pid: set(playlist.track_uris) for playlist in challenge}
    unknown = sorted(set(submission.recommendations) - set(seeds))
    if unknown:
        problems.append(f"{len(unknown)} pid(s) not in the challenge file, e.g. {unknown[:5]}")
    missing = [pid for pid in seeds if pid not in submission.recommendations]
    if missing:
        problems.append(f"{len(missing)} challenge playlist(s) without a line, e.g. pids {missing[:5]}")
    for pid, tracks in submission.recommendations.items():
        if pid not in seeds:
            continue
        if len(tracks) != tracks_per_playlist:
            problems.append(f"pid {pid}: {len(tracks)} tracks, must be exactly {tracks_per_playlist}")
        first_at: dict[str, int] = {}
        for position, uri in enumerate(tracks, start=1):
            if not TRACK_URI.fullmatch(uri):
                problems.append(f"pid {pid}: {uri!r} at position {position} is not a spotify:track: URI")
            elif uri in first_at:
                problems.append(f"pid {pid}: {uri} twice (positions {first_at[uri]} and {position})")
            elif uri in seeds[pid]:
                problems.append(f"pid {pid}: {uri} at position {position} is a seed track")
            first_at.setdefault(uri, position)
    return problems


def read_valid_submission(path: str | Path, challenge: Sequence[Playlist]) -> Submission:
    """Read and validate; raise SubmissionError listing the problems when it is not valid."""
    submission = read_submission(path)
    problems = validate(submission, challenge)
    if problems:
        raise SubmissionError(path, problems)
    return submission
