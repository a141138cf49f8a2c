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
