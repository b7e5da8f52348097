"""CI-only code, kept out of the installed package: the static BigQuery SQL check and the
BigQuery emulator helper (with the emulator's pinned requirements and the sqlfluff config for
compiled BigQuery SQL). Imported by the tests (pytest's `pythonpath = ["."]`); `.ci/run` is CI's
entry point."""
