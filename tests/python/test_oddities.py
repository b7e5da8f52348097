"""Real exports in the wild: no odd row of a play can stop the day's build.

The cases (tests/fixtures/oddities/cases.json) are loaded with the real loader into a small
generated dataset and the whole project is built. Each case has its own listener, track and artist,
so that built together each is alone in its corner of the warehouse; the issue's own case (a null
skip flag that no end reason explains, which once failed `not_null_int_plays_sessionized_is_skip`
and skipped 218 models) is also built truly alone. The group `each_oddity_alone` builds every case
alone, one build each (`make test-oddities`; too slow for CI: one full build per case).
"""

import copy
import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR, RUN_DATE, generate

from tunesday import dbt
from tunesday.load import ids
from tunesday.load.cli import load

CASES = json.loads((PROJECT_DIR / "tests" / "fixtures" / "oddities" / "cases.json").read_text())
ABSENT = "<absent>"
# Spotify's account-data export: no reason codes, skip or shuffle flags, platform or country at all.
ACCOUNT_FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "account_history" / "music_plays.json"
ACCOUNT_LISTENER = "account_export_listener"
RULE_FIELDS = ("context_type", "start_reason", "end_reason", "shuffle", "skip_flag", "platform", "country")


def listener(case: dict) -> str:
    return f"odd_{case['case']}"


def play(case: dict, number: int) -> dict:
    """The case's record: the base play on the case's own track and artist, with its changes."""
    record = copy.deepcopy(CASES["base"])
    record["spotify_track_uri"] = f"spotify:track:0Oddity{number:015d}"
    record["master_metadata_track_name"] += f" {number}"
    record["master_metadata_album_artist_name"] += f" {number}"
    for key, value in case["changes"].items():
        if value == ABSENT:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def later_play(case: dict, number: int, index: int) -> dict:
    """A play of its own in the case's later files, so that they overlap the first in time
    without being the same bytes (a file already loaded is skipped whole)."""
    record = play(case, number)
    record["ms_played"] = 100000 + index
    return record


def write_exports(cases: list[dict], root: Path) -> Path:
    """Each case's plays as its listener's export files, the way Spotify names them."""
    for number, case in enumerate(CASES["cases"]):
        if case not in cases:
            continue
        for index, file in enumerate(case["files"]):
            path = root / listener(case) / f"Streaming_History_Audio_{file}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            plays = [play(case, number)] * case.get("copies", 1)
            plays += [later_play(case, number, index)] if index else []
            path.write_text(json.dumps(plays, indent=1))
    return root


def event_id(case: dict) -> str:
    """The id the loader gives the case's play (tunesday.load.spotify_history)."""
    record = play(case, CASES["cases"].index(case))
    raw = (record.get("ts"), record.get("spotify_track_uri"), record.get("ms_played"))
    return ids.event_id(ids.EXTENDED_EVENT, listener(case), raw)


@pytest.fixture(scope="module")
def background(tmp_path_factory) -> Path:
    """The small generated dataset the oddities are added to (its raw folder, kept pristine)."""
    data = tmp_path_factory.mktemp("oddities_background")
    generate(
        data,
        "--users",
        "30",
        "--tracks",
        "300",
        "--days",
        "7",
        "--seed",
        "7",
        "--bad-share",
        "0",
        "--end-date",
        "2026-11-01",
    )
    return data / "raw"


def build_with(cases: list[dict], background: Path, work: Path, account_export: bool = False):
    """Load the cases into a copy of the background's raw data (and, if asked, the account-data
    export fixture as listener ACCOUNT_LISTENER), then `dbt build` everything."""
    raw = work / "raw"
    shutil.copytree(background, raw)
    report = load(
        ["spotify-history", str(write_exports(cases, work / "exports")), "--raw-dir", str(raw)], echo=lambda line: None
    )
    if account_export:
        folder = work / "account" / ACCOUNT_LISTENER
        folder.mkdir(parents=True)
        shutil.copy(ACCOUNT_FIXTURE, folder / "StreamingHistory_music_0.json")
        load(["spotify-account-history", str(folder), "--raw-dir", str(raw)], echo=lambda line: None)
    env = dbt.duckdb_env(work, raw, work / "warehouse.duckdb")
    result = dbt.run(["build", "--vars", f"{{run_date: '{RUN_DATE}'}}"], env, timeout=1200)
    return report, result, work / "warehouse.duckdb"


def reaching_raw(case: dict) -> bool:
    return case["expect"]["load"] == "loaded"


ACCOUNT_DEFAULTS = {
    "start_reason": "missing",
    "end_reason": "missing",
    "shuffle": "missing",
    "skip_flag": "from_time_played",
    "platform": "missing",
    "country": "missing",
}


def check_outcomes(cases: list[dict], report, warehouse: Path, account_export: bool = False) -> None:
    """Every case ended where the fixture says: loader, staging, defaults, skip flag, audits."""
    set_aside = Counter(
        case["expect"]["load"].split(":", 1)[1] for case in cases if case["expect"]["load"].startswith("set_aside:")
    )
    assert sum((Counter(f.set_aside) for f in report.files), Counter()) == set_aside
    assert sum(f.already_known for f in report.files) == sum(len(c["files"]) - 1 for c in cases if reaching_raw(c))

    con = duckdb.connect(str(warehouse), read_only=True)
    rule_columns = ", ".join(f"{field}_rule" for field in RULE_FIELDS)
    for case in filter(reaching_raw, cases):
        rows = con.execute(
            f"select row_status, rejection_reason, is_skipped, {rule_columns} "
            "from tunesday_staging.base_raw__listening_events where event_id = ? order by row_status",
            [event_id(case)],
        ).fetchall()
        copies = case.get("copies", 1)
        expected = case["expect"]["staging"]
        name = case["case"]
        if expected.startswith("rejected:"):
            assert [(r[0], r[1]) for r in rows] == [("rejected", expected.split(":")[1])] * copies, name
            continue
        assert sorted(r[0] for r in rows) == ["accepted"] + ["duplicate"] * (copies - 1), name
        accepted = next(r for r in rows if r[0] == "accepted")
        # The extended export never says where a play came from: a missing context is the norm.
        rules = {
            field: rule
            for field, rule in zip(RULE_FIELDS, accepted[3:])
            if rule != "as_reported" and (field, rule) != ("context_type", "missing")
        }
        assert rules == case["expect"]["rules"], name
        assert accepted[2] is case["expect"]["is_skipped"], name

    # The audits: every raw row accounted for, and each listener's oddities counted.
    unreconciled = con.execute(
        "select source_table from tunesday_audit.audit_raw__row_counts "
        "where raw_rows <> accepted_rows + rejected_rows + duplicate_rows"
    ).fetchall()
    assert unreconciled == []
    per_listener = {
        row[0]: row[1:]
        for row in con.execute(
            "select user_id, accepted_plays, rejected_plays, duplicate_plays, defaulted_plays, main_rejection_reason "
            "from tunesday_audit.audit_raw__listener_oddities where user_id like 'odd_%'"
        ).fetchall()
    }
    expected_listeners = {}
    for case in filter(reaching_raw, cases):
        staging, copies = case["expect"]["staging"], case.get("copies", 1)
        rejected = staging.startswith("rejected:")
        later_plays = len(case["files"]) - 1  # accepted, as_reported (see later_play)
        expected_listeners[listener(case)] = (
            (0 if rejected else 1) + later_plays,
            copies if rejected else 0,
            0 if rejected else copies - 1,
            1 if not rejected and case["expect"]["rules"] else 0,
            staging.split(":")[1] if rejected else None,
        )
    assert per_listener == expected_listeners
    defaults = Counter()
    if account_export:  # its plays lack every optional field (checked per listener in the test)
        [(accepted,)] = con.execute(
            "select accepted_plays from tunesday_audit.audit_raw__listener_oddities where user_id = ?",
            [ACCOUNT_LISTENER],
        ).fetchall()
        defaults.update({item: accepted for item in ACCOUNT_DEFAULTS.items()})
    for case in filter(reaching_raw, cases):
        if case["expect"]["staging"] == "accepted":
            defaults.update((field, rule) for field, rule in case["expect"]["rules"].items())
    measured = dict(
        ((field, rule), n)
        for field, rule, n in con.execute(
            "select field, default_rule, defaulted_rows from tunesday_audit.audit_raw__defaults "
            "where source_table = 'listening_events' and field <> 'context_type'"
        ).fetchall()
    )
    assert measured == dict(defaults)


def test_the_oddities_build_green_and_end_where_they_should(background, tmp_path):
    cases = CASES["cases"]
    report, result, warehouse = build_with(cases, background, tmp_path, account_export=True)
    assert result.success, result.describe(6000)
    check_outcomes(cases, report, warehouse, account_export=True)
    # The account-data export's plays: accepted with every field it lacks defaulted and counted.
    con = duckdb.connect(str(warehouse), read_only=True)
    accepted, defaulted, missing_reasons, from_time = con.execute(
        "select accepted_plays, defaulted_plays, missing_start_reason_plays, skip_flag_from_time_played_plays "
        "from tunesday_audit.audit_raw__listener_oddities where user_id = ?",
        [ACCOUNT_LISTENER],
    ).fetchone()
    assert accepted > 0 and defaulted == missing_reasons == from_time == accepted


def test_the_issues_null_skip_flag_alone_builds_green(background, tmp_path):
    """The row that once failed the day: no skip flag, and no end reason to derive it from."""
    case = next(c for c in CASES["cases"] if c["case"] == "end_reason_null_long_play")
    report, result, warehouse = build_with([case], background, tmp_path)
    assert result.success, result.describe(6000)
    check_outcomes([case], report, warehouse)


@pytest.mark.each_oddity_alone
@pytest.mark.parametrize("case", [c for c in CASES["cases"] if reaching_raw(c)], ids=lambda c: c["case"])
def test_each_oddity_alone_builds_green(case, background, tmp_path):
    report, result, warehouse = build_with([case], background, tmp_path)
    assert result.success, result.describe(6000)
    check_outcomes([case], report, warehouse)
