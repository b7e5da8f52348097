"""The whole dataset: the catalogue, then the chunks of listeners (in parallel if asked), then the
manifest that lets tests and the warehouse reconcile row counts and injected bad rows."""

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from tunesday.generate import bad_rows, writer
from tunesday.generate.catalog import Catalog, build_catalog
from tunesday.generate.chunk import CATALOG, CATALOG_BAD_ROWS, PartCounts, run_chunk, stream_rng, write_tables
from tunesday.generate.config import GeneratorConfig


def generate(config: GeneratorConfig, progress: Callable[[str], None] = lambda line: None) -> dict:
    """Write the dataset under config.out and return its manifest; `progress` gets a line per
    chunk of listeners written."""
    started = time.perf_counter()
    writer.prepare(config.out)
    cat, tables, truth = build_catalog(config, stream_rng(config.seed, CATALOG))
    reasons = {"tracks": bad_rows.track_reasons(cat.n_tracks), "artists": bad_rows.artist_reasons()}
    chunks = range(config.n_chunks)
    workers = min(config.workers, config.n_chunks)
    progress(f"catalog: {cat.n_tracks:,} tracks ({time.perf_counter() - started:.1f} s)")

    def done(chunk: int, counts: PartCounts) -> PartCounts:
        progress(
            f"chunk {chunk + 1}/{config.n_chunks}: {counts.rows.get('listening_events', 0):,} plays "
            f"({time.perf_counter() - started:.1f} s)"
        )
        return counts

    if workers == 1:
        catalog_counts = _write_catalog(config, tables, reasons, truth)
        chunk_counts = [done(chunk, run_chunk(cat, config, chunk)) for chunk in chunks]
    else:
        # Spawned (not forked) workers: the parent has used Arrow's thread pools already.
        with ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(cat, config)
        ) as pool:
            pending = pool.map(_run_chunk_in_worker, chunks)
            catalog_counts = _write_catalog(config, tables, reasons, truth)
            chunk_counts = [done(chunk, counts) for chunk, counts in zip(chunks, pending)]
    manifest = _manifest(config, [catalog_counts, *chunk_counts], time.perf_counter() - started)
    writer.write_manifest(config.out, manifest)
    return manifest


def _write_catalog(config, tables, reasons, truth) -> PartCounts:
    return write_tables(config, 0, tables, reasons, truth, stream_rng(config.seed, CATALOG_BAD_ROWS), force=True)


_worker_state: tuple[Catalog, GeneratorConfig] | None = None


def _init_worker(cat: Catalog, config: GeneratorConfig) -> None:
    global _worker_state
    _worker_state = (cat, config)


def _run_chunk_in_worker(chunk: int) -> PartCounts:
    assert _worker_state is not None  # _init_worker ran first in this process
    return run_chunk(*_worker_state, chunk)


def _manifest(config: GeneratorConfig, parts: list[PartCounts], seconds: float) -> dict:
    rows = {name: 0 for name in bad_rows.REASONS}
    bad = {name: dict.fromkeys(reasons, 0) for name, reasons in bad_rows.REASONS.items()}
    truth_rows: dict[str, int] = {}
    for part in parts:
        for name, count in part.rows.items():
            rows[name] += count
        for name, reasons in part.bad_rows.items():
            for reason, count in reasons.items():
                bad[name][reason] += count
        for name, count in part.truth_rows.items():
            truth_rows[name] = truth_rows.get(name, 0) + count
    return {
        "args": config.as_dict(),
        "window": {
            "start": config.window_start.isoformat(),
            "end": config.end_date.isoformat(),
            "end_is_exclusive": True,
        },
        "chunks": config.n_chunks,
        "rows": rows,
        "bad_rows": bad,
        "truth_rows": truth_rows,
        "generation_seconds": round(seconds, 3),
    }
