"""Site settings: defaults, overridden by a YAML file (`CALLQA_CONFIG`), overridden by `CALLQA_*` variables.

Only the settings a site is expected to change live here; rule numbers and lexicons live in data files.
Every `CALLQA_*` environment variable callqa reads is a field here (`CALLQA_<FIELD>`): nothing else in the
package reads the environment for its own settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any


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
    # The CPU encoder's arithmetic: "auto" (bfloat16 where the CPU computes it natively, e.g. AMX; else float32),
    # "f32" or "bf16". bfloat16 runs ~2.6x faster with nearly always the same labels (models/MODEL_CARD.md, "Throughput").
    classifier_precision: str = "auto"
    asr_word_timestamps: bool = True
    asr_beam_size: int = 5
    asr_cpu_threads: int = 1
    asr_batch_size: int = 0  # >0: faster-whisper batched inference over VAD chunks (faster, less accurate); 0: sequential
    # Decoding streams one call runs side by side, one core each (CTranslate2 releases the GIL): a stereo call's two
    # channels, and a mono recording of at least 2 x `asr_min_part_s` seconds cut at pauses into this many parts.
    # A mono call's diarisation runs beside its decoding unless this is 1 (one thing at a time). Batch workers and Ray
    # tasks use 1, since the workers already fill the cores.
    asr_streams: int = 2
    asr_min_part_s: float = 45.0
    # Silero VAD speech threshold for decoding (faster-whisper's default, 0.5, is what the bare model uses);
    # README "Measured" has the variants tried on real speech.
    asr_vad_threshold: float = 0.5
    # Opt-in site names (company, product), comma-separated, passed to Whisper as hotwords. Empty by default:
    # collection vocabulary in a prompt makes Whisper write it into calls that never said it.
    asr_site_vocabulary: str = ""
    encoder_model: str = ""  # empty: the bundled multilingual-e5-small build
    #: "bundled" (a head trained with `callqa train` under the models folder, else the one shipped in the
    #: package), a folder holding head.npz + metadata.json, or "rules-only" to detect with rules alone.
    #: A classifier that is asked for but missing or mismatched is an error, never a silent fallback.
    classifier: str = "bundled"
    max_duration_s: float = 3 * 3600.0
    max_file_bytes: int = 2 * 1024**3
    min_duration_s: float = 1.0
    agent_channel: int = 0  # stereo: which channel is the agent (0 = left)
    # Agent voiceprints (biometric data: turn on only with the agents' consent). On: each call with an agent id
    # stores the agent's voice embedding (a stereo call's agent channel; a mono call's agent voice when the
    # attribution is sure), and a mono call is matched against the agent's voiceprint from their other calls to
    # tell which voice is the agent. Off: nothing is computed, stored or compared.
    agent_voiceprints: bool = False
    default_jurisdiction: str = "cn"
    default_timezone: str = "Asia/Shanghai"
    language: str = "auto"  # "auto", "zh", "en"
    thresholds: dict[str, float] = field(default_factory=dict)  # per-label detector thresholds
    forms_dir: str = ""  # a folder of the site's own QA forms (YAML), added to the bundled ones
    dispute_window_days: float = 7.0  # an agent may acknowledge or dispute a scorecard this long after scoring
    review_thresholds: dict[str, float | None] = field(default_factory=dict)  # per finding kind: flags the call
    shared_data_dir: Path = Path("../shared/data")  # public corpora and speech for training and evaluation
    rule_packs: str = ""  # a folder of a site's own `<jurisdiction>.yaml` rule packs, searched first
    scoring: str = ""  # a site's own scoring weights YAML (empty: the bundled `qa/data/scoring.yaml`)
    wellbeing: str = ""  # a site's own wellbeing YAML (empty: the bundled `qa/data/wellbeing.yaml`)
    session_timeout_min: float = 30.0  # dashboard: sign out after this many minutes without activity
    ui_language: str = "zh"  # dashboard language before the user picks one: "zh" or "en"
    retention_max_years: float = 10.0  # site maximum: `callqa purge` without --before removes older calls
    managed_audio_dir: str = ""  # recordings callqa owns (copies); purge/erase delete originals only under it
    audit_key: str = ""  # HMAC key of the audit chain (empty: a random key kept in `<home>/audit.key`)

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def derived_dir(self) -> Path:
        """Files derived from calls (redacted audio), one folder per call, owner-only."""
        return self.home / "derived"

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
#: Settings renamed since a release: the old key still works in the YAML file and as a variable.
_RENAMED = {"asr_mono_parts": "asr_streams"}


def _coerce(value: str, current: Any, where: str) -> Any:
    """`value` as the type of `current`; a ValueError naming `where` (the file and key, or the variable)."""
    try:
        if isinstance(current, bool):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a {type(current).__name__}") from None
    if isinstance(current, Path):
        return Path(value).expanduser()
    return value


def load_settings(config_file: str | os.PathLike[str] | None = None) -> Settings:
    """Build settings from defaults, the YAML file and the environment, in that order."""
    settings = Settings()
    path = config_file or os.environ.get("CALLQA_CONFIG")
    if path:
        from qa.data import DataFileError, load_file

        data = load_file(path)
        data = {_RENAMED.get(key, key): value for key, value in data.items()}
        known = {f.name for f in fields(Settings)}
        unknown = set(data) - known
        if unknown:
            raise DataFileError(f"{path}: unknown settings {sorted(unknown)}")
        for key, value in data.items():
            current = getattr(settings, key)
            if isinstance(current, dict):
                if not isinstance(value, dict):
                    raise DataFileError(f"{path}: key {key!r} must hold a mapping")
                setattr(settings, key, value)
            else:
                setattr(settings, key, _coerce(str(value), current, f"{path}: key {key!r}"))
    for f in fields(Settings):
        name = _ENV_PREFIX + f.name.upper()
        old = next((_ENV_PREFIX + k.upper() for k, v in _RENAMED.items() if v == f.name), None)
        env = os.environ.get(name, os.environ.get(old) if old else None)
        if env is not None and not isinstance(getattr(settings, f.name), dict):
            setattr(settings, f.name, _coerce(env, getattr(settings, f.name), name))
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
