"""A pool worker for tests: files named crash* kill their worker process, others succeed at once."""

from __future__ import annotations

import os

from qa.ingest.batch import FileJob, IngestResult


def crash_or_succeed(job: FileJob, db_url: str, force: bool) -> IngestResult:
    if job.path.name.startswith("crash"):
        os._exit(139)  # what a segfault in native code looks like to the pool
    return IngestResult(str(job.path), "done")
