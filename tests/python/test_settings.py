"""tunesday.settings is the one home of the TUNESDAY_* variables: dbt's files default them the
same way, no Python module reads one behind its back, and the README lists them all."""

import re

import pytest
from conftest import PROJECT_DIR

from tunesday import settings

ENV_VAR = re.compile(r"env_var\(\s*'(TUNESDAY_\w+)'\s*(?:,\s*'([^']*)')?\s*\)")


def dbt_files() -> list:
    """profiles.yml, dbt_project.yml and every YAML and SQL file dbt reads."""
    found = [PROJECT_DIR / "profiles.yml", PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "snapshots", "seeds", "tests"):
        found += [p for p in (PROJECT_DIR / folder).rglob("*") if p.suffix in {".yml", ".sql"}]
    return found


def test_dbt_reads_the_settings_with_their_defaults():
    uses = [(path, match) for path in dbt_files() for match in ENV_VAR.finditer(path.read_text())]
    assert any(path.name == "profiles.yml" for path, _ in uses)
    for path, match in uses:
        name, default = match.groups()
        where = f"{path.relative_to(PROJECT_DIR)}: {name}"
        assert name in settings.SETTINGS, f"{where} is not in tunesday/settings.py"
        # A setting without a default is read with '' meaning unset (env_var() needs a default).
        expected = settings.SETTINGS[name].default
        assert default == expected or (expected is None and default == ""), f"{where} defaults to {default!r}"


def test_python_reads_tunesday_variables_only_through_settings():
    for folder in ("tunesday", "serving", "bench", "ci"):
        for path in (PROJECT_DIR / folder).rglob("*.py"):
            if path.name == "settings.py":
                continue
            for name in set(re.findall(r"TUNESDAY_\w+", path.read_text())):
                assert name in settings.SETTINGS, f"{path.relative_to(PROJECT_DIR)}: {name} is not a setting"
            reads = re.findall(r"environ(?:\.get\(|\[)\s*[\"'](TUNESDAY_\w+)", path.read_text())
            assert not reads, f"{path.relative_to(PROJECT_DIR)} reads {reads} itself"


def test_readme_lists_every_setting_with_its_default():
    readme = (PROJECT_DIR / "README.md").read_text()
    for setting in settings.SETTINGS.values():
        [row] = [line for line in readme.splitlines() if line.startswith(f"| `{setting.name}` |")]
        if setting.default is not None:
            assert row.split("|")[2].strip() == f"`{setting.default}`", row


def test_values_defaults_and_a_missing_required_setting():
    assert settings.value(settings.DUCKDB_PATH, {}) == "target/tunesday.duckdb"
    assert settings.value(settings.DUCKDB_PATH, {"TUNESDAY_DUCKDB_PATH": "x.duckdb"}) == "x.duckdb"
    assert settings.given(settings.BQ_EMULATOR_ENDPOINT, {}) is None
    with pytest.raises(settings.SettingMissing) as missing:
        settings.required(settings.BQ_PROJECT, {})
    assert str(missing.value).startswith("TUNESDAY_BQ_PROJECT is not set (BigQuery project")
    assert "\n" not in str(missing.value)


def test_a_missing_project_is_one_line_on_the_command_line(tmp_path, monkeypatch, capsys):
    from serving.cli import main

    monkeypatch.delenv("TUNESDAY_BQ_PROJECT", raising=False)
    monkeypatch.setenv("TUNESDAY_SERVING_STORE", str(tmp_path))
    assert main(["export", "--source", "bigquery", "--run-date", "2026-10-31"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tunesday-serving export: TUNESDAY_BQ_PROJECT is not set") and err.count("\n") == 1
