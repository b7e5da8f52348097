"""The pre-commit hook that keeps build output and the shared real data out of commits
(ci/check_staged.py), on real files: a copy of a shared data file under another name is caught by
its bytes."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import PROJECT_DIR

CHECK = PROJECT_DIR / "ci" / "check_staged.py"


def check(*paths: str, cwd, shared) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECK), "--shared", str(shared), *paths],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_source_files_pass_and_build_output_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "fct_x.sql").write_text("select 1 as x\n")
    assert check("models/fct_x.sql", "README.md", cwd=tmp_path, shared=shared).returncode == 0
    for path in (
        "target/manifest.json",
        "logs/dbt.log",
        "warehouse.duckdb",
        "tunesday/__pycache__/a.pyc",
        ".venv/bin/python",
        "data/mpd.slice.0-999.json",
        "StreamingHistory_music_0.json",
    ):
        done = check(path, cwd=tmp_path, shared=shared)
        assert done.returncode == 1 and done.stderr.startswith(f"check_staged: {path}: "), done.stderr


def test_a_renamed_copy_of_the_shared_data_is_refused(tmp_path, shared_data):
    original = next(path for path in sorted(shared_data.rglob("*")) if path.is_file() and path.stat().st_size > 0)
    shutil.copy(original, tmp_path / "innocent_fixture.txt")
    (tmp_path / "same_size.txt").write_bytes(b"x" * original.stat().st_size)  # same size, other bytes: fine
    done = check("innocent_fixture.txt", "same_size.txt", cwd=tmp_path, shared=shared_data)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"check_staged: innocent_fixture.txt: a copy of {original}; the shared data must not be copied here"
    ]


@pytest.mark.parametrize("folder", ["tests/fixtures", "seeds"])
def test_the_repository_holds_no_shared_data(folder, shared_data):
    """What is committed passes the hook (CI's pre-commit run covers every file; this names the
    folders where a copy would most likely go)."""
    files = [str(path.relative_to(PROJECT_DIR)) for path in (PROJECT_DIR / folder).rglob("*") if path.is_file()]
    assert check(*files, cwd=PROJECT_DIR, shared=shared_data).returncode == 0
