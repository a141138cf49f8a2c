"""The built wheel is self-contained: installed (not editable) into a fresh virtual environment outside the
repository, it ingests a sample call with the learned classifier and has its dashboard app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "recordings_sample" / "en_04_customer_abuse.ogg"


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_ingests_with_the_classifier(tmp_path: Path) -> None:
    assert not tmp_path.is_relative_to(REPO)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CALLQA_DB_URL", "VIRTUAL_ENV")}
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
          "-w", str(wheels)], tmp_path, env)
    (wheel,) = wheels.glob("callqa-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    py = venv / "bin" / "python"
    # The heavy dependencies (torch, faster-whisper, streamlit...) come from the development environment's
    # site-packages, added as a plain path (its .pth files, such as the editable install's finder, are not run);
    # callqa itself comes only from the wheel.
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env)
                .strip())
    (site / "zz_dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)], tmp_path, env)

    where = _run([str(py), "-c", "import qa, qa.cli.admin as a, qa.detect.classifier.model as m; "
                  "d = m.describe_classifier(); "
                  "print(qa.__file__); print(a.DASHBOARD_APP, a.DASHBOARD_APP.is_file()); "
                  "print(d['path']); print(d['name'] + '@' + d['version'])"], tmp_path, env).splitlines()
    qa_file, dashboard, head, model_source = where[-4:]
    assert Path(qa_file).is_relative_to(venv), qa_file  # not the repository, not the editable install
    assert dashboard.endswith(" True") and Path(dashboard.split()[0]).is_relative_to(venv)
    assert Path(head).is_relative_to(venv) or Path(head).is_relative_to(Path.home() / ".cache"), head

    db = f"sqlite:///{tmp_path / 'wheel.db'}"
    callqa = str(venv / "bin" / "callqa")
    out = _run([callqa, "ingest", str(SAMPLE), "--db", db], tmp_path, env)
    assert "done 1" in out, out
    report = json.loads(_run([callqa, "report", "1", "--json", "--db", db], tmp_path, env))
    sources = {f["source"] for f in report["findings"]}
    assert model_source in sources, sources  # the learned classifier ran, not rules alone
