"""Scale-out on Ray: the same per-file work as the local pool, run on a cluster's workers.

Every worker writes its results straight to the shared database (PostgreSQL for a real cluster), and the
content-hash claim keeps two workers from storing the same call twice. Ray reuses worker processes, so each
loads the models once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from qa.config import Settings
from qa.ingest.batch import FileJob, IngestResult, longest_first, process_file


def run_on_ray(jobs: list[FileJob], db_url: str, address: str, force: bool, settings: Settings,
               on_result: Callable[[IngestResult], None] | None = None) -> list[IngestResult]:
    """`address`: "auto" (a running local cluster, else a new local one) or "ray://host:port"."""
    import ray

    if not ray.is_initialized():
        if address == "auto":
            try:
                ray.init(address="auto", log_to_driver=False)
            except ConnectionError:  # no running cluster: start a local one with this machine's cores
                ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)

    settings = replace(settings, asr_streams=1)  # a task holds one CPU: one decoding stream per call

    @ray.remote(num_cpus=1, max_retries=2)
    def ingest_one(job: FileJob) -> IngestResult:
        return process_file(job, db_url, force, settings)

    pending = {ingest_one.remote(job): job for job in longest_first(jobs)}
    results: list[IngestResult] = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        ref = done[0]
        job = pending.pop(ref)
        try:
            result = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a worker node died: recorded, resumable on re-run
            result = IngestResult(str(job.path), "failed", reason=f"cluster worker failed: {type(exc).__name__}: {exc}")
        results.append(result)
        if on_result:
            on_result(result)
    return results
