"""What the project's command lines share: an argument parser whose errors are one line, and
``one_line``, which makes any message one (a failed file's, a failed dbt node's).

argparse answers a bad argument with the whole usage (seven lines for ``tunesday-generate``)
and the error last. Every command here says instead, on one line, what is wrong and where the
usage is: ``tunesday-generate: the following arguments are required: --tracks, --days (see
tunesday-generate --help)``. The exit status stays argparse's, 2. Subcommands' parsers are of
the same class (argparse makes them with the parent's class).
"""

import argparse
from typing import NoReturn


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line (every run of white space one space), cut after `limit` characters."""
    text = " ".join(text.split())
    return text if limit is None or len(text) <= limit else text[:limit] + "..."


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")
