"""The ingest manifest: a CSV of recordings and what is known about each call.

Columns: file,agent_id,account_id,callee,started_at,direction,jurisdiction,agent_channel (all but `file`
optional; `team` is accepted too). `file` is relative to the manifest's folder. A row with bad values makes
that one file fail with the reason; the rest of the batch goes on.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qa.records import CallMeta

COLUMNS = ("file", "agent_id", "account_id", "callee", "started_at", "direction", "jurisdiction", "agent_channel")
OPTIONAL_EXTRA = ("team", "timezone")
DIRECTIONS = {"outbound", "inbound"}
_CHANNEL_WORDS = {"0": 0, "left": 0, "l": 0, "1": 1, "right": 1, "r": 1}


class ManifestError(ValueError):
    """The manifest as a whole cannot be used (missing file, no `file` column): a usage error."""


@dataclass
class ManifestEntry:
    path: Path
    meta: CallMeta
    error: str | None = None  # why this row's metadata is unusable


def _parse_started_at(value: str, tz_name: str) -> datetime:
    stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if stamp.tzinfo is None:  # local wall-clock time of the site
        stamp = stamp.replace(tzinfo=ZoneInfo(tz_name))
    return stamp


def _row_meta(row: dict[str, str], default_tz: str) -> tuple[CallMeta, str | None]:
    meta = CallMeta()
    problems: list[str] = []
    get = lambda k: (row.get(k) or "").strip()  # noqa: E731
    meta.agent_id = get("agent_id") or None
    meta.account_id = get("account_id") or None
    meta.callee = get("callee").lower() or None
    meta.team = get("team") or None
    meta.jurisdiction = get("jurisdiction").lower() or None
    direction = get("direction").lower()
    if direction:
        if direction in DIRECTIONS:
            meta.direction = direction
        else:
            problems.append(f"direction '{direction}' is not outbound or inbound")
    channel = get("agent_channel").lower()
    if channel:
        if channel in _CHANNEL_WORDS:
            meta.agent_channel = _CHANNEL_WORDS[channel]
        else:
            problems.append(f"agent_channel '{channel}' is not 0/left or 1/right")
    tz_name = get("timezone") or default_tz
    if get("timezone"):
        try:
            ZoneInfo(tz_name)
            meta.timezone = tz_name
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone '{tz_name}' is not an IANA zone name")
            tz_name = default_tz
    started = get("started_at")
    if started:
        try:
            meta.started_at = _parse_started_at(started, tz_name)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            problems.append(f"started_at '{started}' is not an ISO 8601 time ({exc})")
    return meta, "; ".join(problems) or None


def read_manifest(path: Path, default_tz: str) -> dict[Path, ManifestEntry]:
    """Entries keyed by resolved file path."""
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"manifest {path} is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fieldnames = [f.strip() for f in (reader.fieldnames or [])]
    if "file" not in fieldnames:
        raise ManifestError(f"manifest {path} has no 'file' column (columns: {', '.join(COLUMNS)})")
    unknown = set(fieldnames) - set(COLUMNS) - set(OPTIONAL_EXTRA)
    if unknown:
        raise ManifestError(f"manifest {path} has unknown columns: {', '.join(sorted(unknown))}")
    entries: dict[Path, ManifestEntry] = {}
    for line_no, row in enumerate(reader, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        name = (row.get("file") or "").strip()
        if not name:
            continue
        file_path = (path.parent / name).resolve()
        meta, error = _row_meta(row, default_tz)
        entries[file_path] = ManifestEntry(file_path, meta, f"manifest line {line_no}: {error}" if error else None)
    return entries
