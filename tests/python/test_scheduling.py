"""The daily job's schedules for teams without Flyte (deploy/cron, deploy/kubernetes): valid, on
the Flyte launch plan's schedule, and retrying only what the job's exit codes call transient."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from conftest import PROJECT_DIR

from tunesday import settings
from tunesday.job.stages import EXIT_CODES
from tunesday.orchestration.workflows import SCHEDULE

CRON = PROJECT_DIR / "deploy" / "cron" / "tunesday.cron"
CRONJOB = PROJECT_DIR / "deploy" / "kubernetes" / "cronjob.yaml"
KUBERNETES = "1.31.0"  # podFailurePolicy is stable from 1.31


def manifests() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(CRONJOB.read_text()) if doc}


def test_the_kubernetes_manifests_validate_against_the_schemas():
    docs = manifests()
    assert set(docs) == {"ConfigMap", "PersistentVolumeClaim", "CronJob"}
    for doc in docs.values():
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)  # raises on any unknown or wrong field


@pytest.mark.parametrize(
    "where, value, named",
    [
        (("spec", "jobTemplate", "spec", "backoffLimit"), "two", "'two' is not of type 'integer'"),
        (("spec", "jobTemplate", "spec", "backofLimit"), 2, "'backofLimit' was unexpected"),
        (("spec", "jobTemplate", "spec", "template", "spec", "containers"), [{"image": "x"}], "'name' is a required"),
    ],
)
def test_a_broken_manifest_is_caught_by_the_validation(where, value, named):
    cronjob = manifests()["CronJob"]
    parent = cronjob
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError) as error:
        kubernetes_validate.validate(cronjob, KUBERNETES, strict=True)
    assert named in str(error.value)


def test_the_cronjob_runs_the_daily_job_once_at_a_time_and_fails_fast_on_a_failed_stage():
    docs = manifests()
    cronjob = docs["CronJob"]["spec"]
    assert (cronjob["schedule"], cronjob["timeZone"], cronjob["concurrencyPolicy"]) == (SCHEDULE, "Etc/UTC", "Forbid")
    job = cronjob["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1
    [fail] = [rule for rule in job["podFailurePolicy"]["rules"] if rule["action"] == "FailJob"]
    # Every stage's failure (and bad settings, 2) fails the Job; a held lock (3) is retried.
    assert sorted(fail["onExitCodes"]["values"]) == sorted({2, *EXIT_CODES.values()} - {EXIT_CODES["lock"]})

    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["command"] == ["tunesday", "daily"]
    sources = {kind: ref[kind]["name"] for ref in container["envFrom"] for kind in ref}
    assert sources == {"configMapRef": "tunesday-config", "secretRef": "tunesday-secrets"}
    assert docs["ConfigMap"]["metadata"]["name"] == "tunesday-config"

    [volume] = pod["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    [mount] = container["volumeMounts"]
    assert mount["name"] == volume["name"]
    config = docs["ConfigMap"]["data"]
    for name in config:
        if name.startswith("TUNESDAY_"):
            assert name in settings.SETTINGS, name
    for name in (settings.DUCKDB_PATH, settings.RAW_DIR, settings.SERVING_STORE, settings.JOB_METRICS_FILE):
        assert Path(config[name]).is_relative_to(mount["mountPath"]), f"{name} is not on the volume"


def test_the_cron_line_runs_the_daily_job_on_the_same_schedule_and_appends_its_log():
    [line] = [
        line
        for line in CRON.read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    fields = line.split(maxsplit=6)
    assert " ".join(fields[:5]) == SCHEDULE
    user, command = fields[5], fields[6]
    assert user == "tunesday"
    assert ".venv/bin/tunesday daily >> " in command and command.endswith(" 2>&1")
    assert "flock" not in command  # the job locks itself
    assert "%" not in command  # cron would cut the line there
