"""Batch ingestion: recordings in, transcripts, findings and scores stored. Failures are recorded, never fatal.

Each file is processed in three steps so that a crash at any point loses nothing: claim a call row
(unique content hash), do the slow work outside any transaction, then store every result in one
transaction. A call left "processing" by a dead worker is taken over on the next run.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from qa.audio import AudioError, audio_seconds, decode, file_sha256
from qa.config import Settings, get_settings
from qa.ingest.analysis import read_history, store_analysis
from qa.pipeline import analyze
from qa.records import CallMeta
from qa.store import calls as store
from qa.store.db import get_engine, session_scope

log = logging.getLogger(__name__)


@dataclass
class FileJob:
    path: Path
    meta: CallMeta
    meta_error: str | None = None


@dataclass
class IngestResult:
    path: str
    status: str  # done | skipped | failed
    call_id: int | None = None
    reason: str | None = None
    seconds: float = 0.0
    audio_seconds: float = 0.0
    recorded: bool = True  # False: the database refused even the failure record (read-only, disk full)


def _db_problem(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return f"database error: {text}"


def _record_failure(db_url: str, path: str, reason: str, call_id: int | None, sha: str | None) -> bool:
    """Store a failure; False when even that is impossible (read-only database, full disk)."""
    try:
        with session_scope(db_url) as s:
            if call_id is not None:
                store.mark_failed(s, call_id, reason)
            store.log_event(s, path, "failed", reason, call_id, sha)
        return True
    except SQLAlchemyError:
        log.error("could not record the failure of %s in the database", path)
        return False


def process_file(job: FileJob, db_url: str, force: bool, settings: Settings) -> IngestResult:
    """Ingest one recording; every outcome is returned and, where the database allows, logged."""
    started = time.perf_counter()
    path = str(job.path)
    try:
        sha = file_sha256(job.path)
    except OSError as exc:
        reason = "file not found" if isinstance(exc, FileNotFoundError) else f"cannot read file: {exc.strerror or exc}"
        recorded = _record_failure(db_url, path, reason, None, None)
        return IngestResult(path, "failed", reason=reason, recorded=recorded)

    try:
        with session_scope(db_url) as s:
            call_id, state = store.claim_call(s, sha, path, job.meta, force)
            if state == "claimed":
                store.log_event(s, path, "started", None, call_id, sha)
            else:
                reason = "already ingested (same content)" if state == "done" else "being processed by another worker"
                store.log_event(s, path, "skipped", reason, call_id, sha)
    except SQLAlchemyError as exc:
        return IngestResult(path, "failed", reason=_db_problem(exc), recorded=False)
    if state != "claimed":
        return IngestResult(path, "skipped", call_id, reason)
    assert call_id is not None

    try:
        if job.meta_error:
            raise AudioError(f"bad metadata ({job.meta_error})")
        audio = decode(job.path, settings, sha256=sha)
        with session_scope(db_url) as s:  # the call's metadata as stored (manifest merged with earlier runs)
            meta, history = store.load_meta(s, call_id), read_history(s, call_id, settings.agent_voiceprints)
        # The slow part (speakers, ASR, detection, assessment) runs outside any transaction.
        analysis = analyze(audio, meta, history, settings, call_id=call_id)
        # Everything about the call is stored in one transaction: all of it, or none of it.
        with session_scope(db_url) as s:
            store_analysis(s, call_id, analysis, settings)
            store.mark_done(s, call_id, time.perf_counter() - started)
            store.log_event(s, path, "done", None, call_id, sha)
        return IngestResult(path, "done", call_id, None, time.perf_counter() - started, audio.info.duration)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        if isinstance(exc, AudioError):
            reason = str(exc)
        elif isinstance(exc, SQLAlchemyError):
            reason = _db_problem(exc)
        else:
            reason = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("ingest of call %s failed", call_id)
        recorded = _record_failure(db_url, path, reason, call_id, sha)
        return IngestResult(path, "failed", call_id, reason, time.perf_counter() - started, recorded=recorded)


def build_jobs(files: list[Path], manifest: Path | None, settings: Settings) -> list[FileJob]:
    """One job per file, with the manifest's metadata (re-read each call: it may grow while watching).

    Raises ManifestError when the manifest itself is unusable.
    """
    from qa.ingest.manifest import read_manifest

    entries = read_manifest(manifest, settings.default_timezone) if manifest else {}
    jobs = []
    for f in files:
        entry = entries.get(f.resolve())
        jobs.append(FileJob(f, entry.meta if entry else CallMeta(), entry.error if entry else None))
    return jobs


def longest_first(jobs: list[FileJob]) -> list[FileJob]:
    """Jobs in order of decreasing audio (from the headers): with several workers, the longest calls start first
    and the short ones fill in at the end, so no long call is left running alone on one core."""
    return sorted(jobs, key=lambda j: -audio_seconds(j.path))


MAX_CRASHES = 3
_worker_settings: Settings | None = None


def _init_worker(settings: Settings) -> None:
    global _worker_settings
    _worker_settings = settings
    logging.basicConfig(level=logging.WARNING)


def _run_in_worker(job: FileJob, db_url: str, force: bool) -> IngestResult:
    assert _worker_settings is not None
    return process_file(job, db_url, force, _worker_settings)


def _preload_models(settings: Settings) -> threading.Thread:
    """Load the text classifier on a thread while the first file is decoded and transcribed (join it at the
    end): on a one-file ingest it loads on the core Whisper leaves idle.

    Detection asks for the classifier through the same lock, so it waits only if loading has not finished.
    """
    from qa.detect.engine import get_classifier

    def load() -> None:
        try:
            get_classifier(settings)  # None for a rules-only site: nothing to load
        except Exception:  # noqa: BLE001 - detection loads it again when it asks, and reports why it cannot
            pass

    thread = threading.Thread(target=load, name="preload-models", daemon=True)
    thread.start()
    return thread


def run_batch(jobs: list[FileJob], db_url: str, force: bool = False, workers: int = 1,
              settings: Settings | None = None,
              on_result: Callable[[IngestResult], None] | None = None,
              worker: Callable[[FileJob, str, bool], IngestResult] | None = None) -> list[IngestResult]:
    """Process `jobs` in this process (workers=1) or a pool of worker processes, each loading models once.

    `worker` replaces the per-file function run in the pool (a module-level function; tests use it).
    """
    worker = worker or _run_in_worker
    settings = settings or get_settings()
    get_engine(db_url)  # create or migrate the schema once, before any worker starts
    results: list[IngestResult] = []

    def collect(results_iter: Iterator[IngestResult]) -> None:
        for r in results_iter:
            results.append(r)
            if on_result:
                on_result(r)

    if workers <= 1 or len(jobs) <= 1:
        preload = _preload_models(settings)
        collect(process_file(job, db_url, force, settings) for job in jobs)
        preload.join()
        return results
    # Spawned, not forked: the classifier (OpenVINO) and Whisper (CTranslate2) run thread pools that do not
    # survive a fork (a forked child that inherits a loaded model waits forever), so each worker loads its own.
    ctx = multiprocessing.get_context("spawn")
    worker_settings = replace(settings, asr_streams=1)  # the workers fill the cores: one stream per call
    crashes: Counter[Path] = Counter()
    pending = longest_first(jobs)
    while pending:
        # A worker that dies (segfault, out of memory) breaks the whole pool, failing every job in flight.
        # Jobs that never saw a crash run in a full pool; the others run one at a time, so a crash is then
        # charged to the file that caused it. A file that crashed MAX_CRASHES times is recorded as failed.
        fresh = [j for j in pending if not crashes[j.path]]
        round_jobs, size = (fresh, workers) if fresh else ([pending[0]], 1)
        taken = {id(j) for j in round_jobs}
        pending = [j for j in pending if id(j) not in taken]
        with ProcessPoolExecutor(max_workers=size, mp_context=ctx, initializer=_init_worker,
                                 initargs=(worker_settings,)) as pool:
            futures = {pool.submit(worker, job, db_url, force): job for job in round_jobs}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    crashes[job.path] += 1
                    if crashes[job.path] < MAX_CRASHES:
                        pending.append(job)
                        continue
                    result = IngestResult(str(job.path), "failed",
                                          reason=f"worker process crashed {MAX_CRASHES} times while processing this file")
                    _record_failure(db_url, str(job.path), result.reason or "", None, None)
                except Exception as exc:  # noqa: BLE001 - anything else from the pool: recorded, batch goes on
                    result = IngestResult(str(job.path), "failed", reason=f"worker error: {type(exc).__name__}: {exc}")
                collect(iter([result]))
    return results
