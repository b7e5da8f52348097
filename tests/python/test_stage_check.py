"""ci/stage_check.py: the models read only their own stage and the stages before it, and the
check fails on a model that reads ahead."""

import copy
import json
import subprocess
import sys

from conftest import PROJECT_DIR

CHECK = PROJECT_DIR / "ci" / "stage_check.py"


def check(manifest_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(manifest_path)], capture_output=True, text=True)


def model_id(manifest: dict, name: str) -> str:
    return next(
        key for key, node in manifest["nodes"].items() if node["resource_type"] == "model" and node["name"] == name
    )


def test_the_project_follows_the_flow(warehouse):
    result = check(warehouse.env_target_path / "manifest.json")
    assert result.returncode == 0, result.stderr
    assert "each reads only its own stage" in result.stdout


def test_a_model_that_reads_ahead_fails(warehouse, tmp_path):
    manifest = json.loads((warehouse.env_target_path / "manifest.json").read_text())
    cases = {
        # a daily fact reading a surface
        "fct_user_track_days": (
            "fct_discover_weekly",
            "fct_user_track_days (core) reads fct_discover_weekly (surfaces)",
        ),
        # a surface reading the evaluation, which nothing may read
        "fct_discover_weekly": (
            "eval_discover_weekly",
            "fct_discover_weekly (surfaces) reads eval_discover_weekly (evaluation)",
        ),
    }
    for reader, (read, expected) in cases.items():
        broken = copy.deepcopy(manifest)
        broken["nodes"][model_id(broken, reader)]["depends_on"]["nodes"].append(model_id(broken, read))
        path = tmp_path / f"{reader}.json"
        path.write_text(json.dumps(broken))
        result = check(path)
        assert result.returncode == 1
        assert expected in result.stderr


def test_a_model_in_no_stage_fails(warehouse, tmp_path):
    manifest = json.loads((warehouse.env_target_path / "manifest.json").read_text())
    manifest["nodes"][model_id(manifest, "dim_tracks")]["group"] = None
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    result = check(tmp_path / "manifest.json")
    assert result.returncode == 1 and "dim_tracks: in no stage" in result.stderr
