"""Site settings: defaults, overridden by a YAML file (`CALLQA_CONFIG`), overridden by `CALLQA_*` variables.

Only the settings a site is expected to change live here; rule numbers and lexicons live in data files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml


def _default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "callqa"


@dataclass
class Settings:
    home: Path = field(default_factory=_default_home)
    db_url: str = ""  # empty: sqlite file under `home`
    asr_model: str = "base"  # "base" = the bundled offline build; or a faster-whisper name or CT2 folder
    asr_device: str = "auto"  # "cpu", "cuda", "auto" (CUDA when a GPU is visible)
    asr_compute_type: str = "auto"  # "auto": int8 on CPU, float16 on CUDA; or any CTranslate2 compute type
    classifier_device: str = "auto"  # the text classifier's encoder: "cpu", "cuda", "auto" (fp16 on CUDA)
    asr_word_timestamps: bool = True
    asr_beam_size: int = 5
    asr_cpu_threads: int = 1
    asr_batch_size: int = 8  # >0: faster-whisper batched inference over VAD chunks (faster); 0: sequential
    encoder_model: str = ""  # empty: the bundled multilingual-e5-small build
    max_duration_s: float = 3 * 3600.0
    max_file_bytes: int = 2 * 1024**3
    min_duration_s: float = 1.0
    agent_channel: int = 0  # stereo: which channel is the agent (0 = left)
    default_jurisdiction: str = "cn"
    default_timezone: str = "Asia/Shanghai"
    language: str = "auto"  # "auto", "zh", "en"
    thresholds: dict[str, float] = field(default_factory=dict)  # per-label detector thresholds
    shared_data_dir: Path = Path("../shared/data")  # public corpora and speech for training and evaluation

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.home / 'callqa.db'}"


DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Compute:
    """Where a model runs and at what precision."""

    device: str  # "cpu" or "cuda"
    compute_type: str  # "int8" on CPU by default, "float16" on CUDA


def select_compute(device: str, compute_type: str, cuda_devices: int) -> Compute:
    """Resolve the device/compute settings given how many CUDA devices are visible.

    "auto" picks CUDA (float16) when a GPU is visible, else CPU (int8). Asking for "cuda" without one is an error
    rather than a silent fall back to a CPU run many times slower.
    """
    device = device.strip().lower()
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r} / 设备只能是 {'、'.join(DEVICES)}")
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    if device == "cuda" and cuda_devices <= 0:
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is visible / 指定了 cuda 设备，但未检测到 CUDA GPU")
    compute_type = compute_type.strip().lower() or "auto"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return Compute(device, compute_type)


_ENV_PREFIX = "CALLQA_"


def _coerce(value: str, current: Any) -> Any:
    if isinstance(current, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, Path):
        return Path(value).expanduser()
    return value


def load_settings(config_file: str | os.PathLike[str] | None = None) -> Settings:
    """Build settings from defaults, the YAML file and the environment, in that order."""
    settings = Settings()
    path = config_file or os.environ.get("CALLQA_CONFIG")
    if path:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a mapping of settings")
        known = {f.name for f in fields(Settings)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"config file {path}: unknown settings {sorted(unknown)}")
        for key, value in data.items():
            current = getattr(settings, key)
            setattr(settings, key, _coerce(str(value), current) if not isinstance(current, dict) else value)
    for f in fields(Settings):
        env = os.environ.get(_ENV_PREFIX + f.name.upper())
        if env is not None and not isinstance(getattr(settings, f.name), dict):
            setattr(settings, f.name, _coerce(env, getattr(settings, f.name)))
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
