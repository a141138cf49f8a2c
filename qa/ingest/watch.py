"""Watch a folder and ingest recordings as they arrive.

A file is taken once it is complete: its size and modification time have not changed for `settle` seconds
(recorders write files progressively) and its name is not a temporary one. The database is the state: after
a restart, every file not yet stored is picked up again (content hashes make that safe).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.audio import AUDIO_SUFFIXES
from qa.config import Settings
from qa.ingest.batch import FileJob, IngestResult, build_jobs, run_batch

_TEMP_SUFFIXES = {".part", ".tmp", ".crdownload", ".partial"}


@dataclass
class WatchStatus:
    processed: int
    backlog: int  # complete files waiting to be ingested
    settling: int  # files still being written


@dataclass
class FolderWatcher:
    folder: Path
    settle_s: float = 5.0
    _seen: dict[Path, tuple[int, float, float]] = field(default_factory=dict)  # path -> (size, mtime, stable since)
    _handled: dict[Path, tuple[int, float]] = field(default_factory=dict)

    def scan(self, now: float | None = None) -> tuple[list[Path], int]:
        """Complete, not yet handled files (oldest first) and the count of files still settling."""
        now = time.time() if now is None else now
        ready, settling = [], 0
        for path in sorted(self.folder.rglob("*")):
            if (not path.is_file() or path.name.startswith(".") or path.suffix.lower() in _TEMP_SUFFIXES
                    or path.suffix.lower() not in AUDIO_SUFFIXES):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            key = (st.st_size, st.st_mtime)
            if self._handled.get(path) == key:
                continue
            prev = self._seen.get(path)
            if prev is None or prev[:2] != key:
                self._seen[path] = (*key, now)
                settling += 1
            elif now - prev[2] >= self.settle_s and now - st.st_mtime >= self.settle_s:
                ready.append(path)
            else:
                settling += 1
        return ready, settling

    def mark_handled(self, path: Path) -> None:
        if path in self._seen:
            size, mtime, _ = self._seen.pop(path)
            self._handled[path] = (size, mtime)


def watch(folder: Path, db_url: str, settings: Settings, manifest: Path | None = None, interval: float = 5.0,
          settle: float = 5.0, workers: int = 1, once: bool = False,
          on_result: Callable[[IngestResult], None] | None = None,
          on_status: Callable[[WatchStatus], None] | None = None) -> int:
    """Ingest arriving recordings until interrupted (or after one full pass with `once`); returns files handled."""
    watcher = FolderWatcher(folder, settle)
    processed = 0
    while True:
        ready, settling = watcher.scan()
        if on_status:
            on_status(WatchStatus(processed, len(ready), settling))
        if ready:
            jobs: list[FileJob] = build_jobs(ready, manifest, settings)
            for result in run_batch(jobs, db_url, workers=workers, settings=settings, on_result=on_result):
                watcher.mark_handled(Path(result.path))
                processed += 1
        elif once and not settling:
            return processed
        time.sleep(0 if ready else interval)
