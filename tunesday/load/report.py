"""What a load prints and returns: a report per input file (``FileReport``: loaded, already
loaded or failed; rows written per table, records set aside by reason and how many of them were
rejected as bad, records per second) and their total (``LoadReport``).

The exit status (``LoadReport.exit_code``), for a scheduled job to act on:

- 0: every input file loaded (or was loaded before), and no record was rejected. Records the
  contract has no place for (podcast plays, private sessions, ...: each loader's ``kept_out``)
  are reported, not rejected.
- 1: nothing usable: no file held a record that maps into the contract (now or in an earlier
  load), a path without input files included.
- 3: loaded with rejections: some file failed as a whole (not JSON, nested too deeply, a path
  without input files, ...) or some records were rejected as bad; everything else was loaded,
  and each rejection is in the report with its reason (and the records in the set-aside rows).

(2 is the CLI's: the target could not be used, or the arguments are wrong.) A bad file never
stops the files after it, so a rerun after fixing or removing it loads only what is new.
"""

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FileReport:
    path: str
    status: str  # loaded | already loaded | failed
    records: int = 0
    usable: int = 0
    already_known: int = 0
    written: dict[str, int] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    rejected: int = 0  # of the set-aside records, those set aside as bad
    notes: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.path}: FAILED, {self.error}"
        if self.status == "already loaded":
            return f"{self.path}: already loaded ({self.usable:,} usable records then), nothing new"
        written = ", ".join(f"{table} {n:,}" for table, n in self.written.items()) or "nothing new"
        parts = [f"{self.path}: {self.records:,} records read; written: {written}"]
        if self.already_known:
            parts.append(f"already known: {self.already_known:,}")
        if self.set_aside:
            reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(self.set_aside.items()))
            rejected = f", {self.rejected:,} of them rejected as bad" if self.rejected else ""
            parts.append(f"set aside {sum(self.set_aside.values()):,} ({reasons}{rejected})")
        if self.notes:
            parts.append("notes: " + ", ".join(f"{k} {n:,}" for k, n in sorted(self.notes.items())))
        parts.append(f"{self.seconds:.2f} s, {self.records_per_second:,.0f} records/s")
        return "; ".join(parts)


@dataclass
class LoadReport:
    loader: str
    target: str
    files: list[FileReport] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return any(f.usable > 0 for f in self.files if f.status != "failed")

    @property
    def exit_code(self) -> int:
        """0 all loaded, 1 nothing usable, 3 loaded with rejections (see the module's docstring)."""
        if not self.usable:
            return 1
        if any(f.status == "failed" or f.rejected for f in self.files):
            return 3
        return 0

    def totals(self) -> dict:
        loaded = [f for f in self.files if f.status == "loaded"]
        seconds = sum(f.seconds for f in loaded)
        records = sum(f.records for f in loaded)
        written: Counter[str] = Counter()
        set_aside: Counter[str] = Counter()
        for f in loaded:
            written.update(f.written)
            set_aside.update(f.set_aside)
        rejected = sum(f.rejected for f in loaded)
        return {
            "files": len(self.files),
            "loaded": len(loaded),
            "already_loaded": sum(f.status == "already loaded" for f in self.files),
            "failed": sum(f.status == "failed" for f in self.files),
            "records": records,
            "written": dict(written),
            "set_aside": dict(set_aside),
            "rejected": rejected,
            "seconds": seconds,
            "records_per_second": records / seconds if seconds > 0 else 0.0,
        }

    def summary(self) -> str:
        t = self.totals()
        written = ", ".join(f"{table} {n:,}" for table, n in t["written"].items()) or "nothing new"
        return (
            f"{self.loader} into {self.target}: {t['files']} files ({t['loaded']} loaded, "
            f"{t['already_loaded']} already loaded, {t['failed']} failed); {t['records']:,} records "
            f"read, written: {written}; set aside {sum(t['set_aside'].values()):,}"
            f"{f' ({rejected:,} rejected as bad)' if (rejected := t['rejected']) else ''}; "
            f"{t['seconds']:.2f} s, {t['records_per_second']:,.0f} records/s"
        )
