"""Shared fixtures: a temporary database per test, and the shared real data (skipped when absent)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data`, or skip the test cleanly when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def shared_file(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"shared data file missing: {path}")
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test: SQLite in tmp_path, or a fresh schema on CALLQA_TEST_PG_URL."""
    pg = os.environ.get("CALLQA_TEST_PG_URL")
    if not pg:
        yield f"sqlite:///{tmp_path / 'callqa.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg)
    with admin.begin() as conn:
        # pg_trgm lives in public: created from a test's schema it would live there, and dropping that schema
        # would cascade to the search indexes of every test running beside it (tests run in parallel).
        conn.execute(text("SELECT pg_advisory_xact_lock(7140)"))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
        if conn.execute(text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
                        ).scalar() != "public":  # left in a test schema by an older run
            conn.execute(text("ALTER EXTENSION pg_trgm SET SCHEMA public"))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg else "?"
    yield f"{pg}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's database; share the model cache (building models is slow)."""
    home = tmp_path_factory.getbasetemp() / "callqa-home"
    monkeypatch.setenv("CALLQA_DB_URL", f"sqlite:///{home / 'default.db'}")
    from qa.config import get_settings

    get_settings.cache_clear()


# The longest test files (real models end to end), started first so that parallel test processes
# (scripts/test.sh runs one per core, a file per process) do not wait on one long file at the end.
LONGEST_FIRST = ("test_sample_calls.py", "test_ingest.py", "test_scaleout.py", "test_asr.py", "test_wheel_install.py",
                 "test_verdict_training.py", "test_browser_scorecards.py", "test_hf_whisper.py", "test_browser_audio.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file is kept
