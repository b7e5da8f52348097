"""The serving shim's exposure log (serving/exposures.py) into the raw contract's ``exposures``.

    tunesday-load exposures PATH...

Each PATH is a log file, or the shim's log folder (``$TUNESDAY_EXPOSURE_LOG``): of a folder, the
files that are complete are shipped (``tunesday.experiments.shippable_exposure_files``: the closed
``exposures-*.jsonl``, and the ``.open`` ones a killed process left behind two hours ago or more),
never one a live worker is still writing. Each line is one exposure, a JSON object with the
contract's fields (``exposed_at`` an ISO 8601 UTC time). A file already shipped is skipped (the
load ledger: same bytes); an exposure shipped twice in two files keeps one row in staging (its
``exposure_id``).

A line that is not a JSON object (a line torn by a crash mid-write) is set aside as
``malformed_line``, a field of the wrong type as ``unparseable_record``; values are loaded as they
are otherwise (an unknown variant, a missing time), for staging's rules to reject
(``quarantine_raw__exposures``). The log files stay where they are: the ledger knows which were
shipped; remove them as your retention says.
"""

import json
import time
from pathlib import Path

from tunesday.experiments import shippable_exposure_files
from tunesday.load.catalog import Catalog
from tunesday.load.source import BadInput, Batch, InputFile, check_row, parse_timestamp, text_field

TEXT_FIELDS = ("exposure_id", "user_id", "experiment_id", "variant", "surface", "snapshot_id")


class ExposureLog:
    name = "exposures"
    records_are = "exposures"
    kept_out: frozenset[str] = frozenset()

    def files(self, paths: list[Path]) -> list[InputFile]:
        found = []
        for path in paths:
            if path.is_file():
                found.append(InputFile(path))
            elif path.is_dir() and (complete := shippable_exposure_files(path, time.time())):
                found += [InputFile(file) for file in complete]
            else:
                found.append(InputFile(path, error="no complete exposure log files here (exposures-*.jsonl)"))
        return found

    def read(self, source: InputFile, data: bytes, catalog: Catalog) -> Batch:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadInput(f"not UTF-8 text ({error})") from None
        batch = Batch()
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            batch.records += 1
            ref = f"line {number}"
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                record = None
            if not isinstance(record, dict):
                batch.set_aside(ref, "malformed_line", line[:1000])
                continue
            with catalog.guard(batch, ref, record):
                row: dict[str, object] = {field: text_field(record, field) for field in TEXT_FIELDS}
                row["exposed_at"] = parse_timestamp(record.get("exposed_at"))
                if row["exposed_at"] is None and record.get("exposed_at") is not None:
                    batch.notes["unparseable_value"] += 1
                batch.add("exposures", check_row("exposures", row))
                batch.usable += 1
        return batch
