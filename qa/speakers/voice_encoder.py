"""The speaker-embedding encoder of mono diarisation: resemblyzer's bundled GE2E weights, run by ONNX Runtime.

`ensure_voice_encoder` exports resemblyzer's `VoiceEncoder` (3-layer LSTM over 40 mel channels, linear,
ReLU, L2 norm) once, at setup (`callqa models`) or on first use, into `<models_dir>/resemblyzer-ge2e-onnx/`,
checks it against resemblyzer's own torch encoder and records the weights' sha256; changed weights rebuild
it. The mel filter bank of resemblyzer's front end is stored beside the graph (`mel_basis.npy`) and the
short-time spectrum is taken with NumPy, so at run time diarisation imports neither torch, resemblyzer nor librosa:
on a one-file ingest torch cost ~150 MB and ~1 s of imports, librosa's numba stack another ~130 MB.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from qa.audio import centred_frames, file_sha256
from qa.config import Settings, get_settings

log = logging.getLogger(__name__)

FOLDER = "resemblyzer-ge2e-onnx"
ONNX_FILE = "voice_encoder.onnx"
MEL_BASIS_FILE = "mel_basis.npy"
BUILD_INFO_FILE = "build.json"
# resemblyzer.hparams, copied: importing that module imports torch.
SAMPLING_RATE = 16000
MEL_WINDOW_MS = 25
MEL_STEP_MS = 10
MEL_CHANNELS = 40
N_FFT = SAMPLING_RATE * MEL_WINDOW_MS // 1000
HOP_LENGTH = SAMPLING_RATE * MEL_STEP_MS // 1000
EMBEDDING_SIZE = 256
_MIN_COSINE = 0.9999


class VoiceEncoderUnavailable(RuntimeError):
    """The speaker encoder cannot be built (resemblyzer or torch missing, weights unreadable)."""


def weights_path() -> Path:
    """resemblyzer's bundled `pretrained.pt`, located without importing resemblyzer (which imports torch)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise VoiceEncoderUnavailable("speaker embeddings need the PyPI package 'resemblyzer' "
                                      "(pip install resemblyzer)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise VoiceEncoderUnavailable(f"resemblyzer's encoder weights are missing: {path}")
    return path


def _torch_encoder() -> Any:
    """resemblyzer's own encoder (torch), with only its third-party import notices hidden: webrtcvad's
    `pkg_resources` deprecation and resemblyzer's deprecated scipy import tell a user nothing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning,
                                module="webrtcvad")
        warnings.filterwarnings("ignore", message="Please import `binary_dilation`", category=DeprecationWarning,
                                module="resemblyzer.audio")
        from resemblyzer import VoiceEncoder

        return VoiceEncoder("cpu", verbose=False)


def build_voice_encoder(dest: Path, weights_sha: str) -> Path:
    """Export resemblyzer's encoder to ONNX in `dest`, checked against torch on random mel batches."""
    import torch

    torch_encoder = _torch_encoder().eval()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        import librosa  # build time only (a dependency of resemblyzer)

        np.save(tmp / MEL_BASIS_FILE, librosa.filters.mel(sr=SAMPLING_RATE, n_fft=N_FFT, n_mels=MEL_CHANNELS))
        sample = torch.rand(2, 160, MEL_CHANNELS)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on LSTM batch_first; the outputs are checked below
            torch.onnx.export(torch_encoder, (sample,), str(tmp / ONNX_FILE), input_names=["mels"],
                              output_names=["embedding"],
                              dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}},
                              opset_version=17, dynamo=False)
        rng = np.random.default_rng(0)
        checks = [rng.random((n, frames, MEL_CHANNELS), dtype=np.float32) * 5 for n, frames in ((3, 151), (1, 40))]
        ours = OnnxVoiceEncoder(tmp)
        cosine = 1.0
        for mels in checks:
            with torch.inference_mode():
                reference = torch_encoder(torch.from_numpy(mels)).numpy()
            cosine = min(cosine, float((reference * ours(mels)).sum(1).min()))
        if cosine < _MIN_COSINE:
            raise VoiceEncoderUnavailable(f"ONNX voice encoder disagrees with torch (min cosine {cosine:.6f})")
        info = {"weights": str(weights_path()), "weights_sha256": weights_sha, "torch_cosine_min": cosine,
                "format": "ONNX opset 17, float32, (batch, frames, 40 mel) -> (batch, 256) L2-normed",
                "mel_basis": f"{MEL_BASIS_FILE}: librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)"}
        (tmp / BUILD_INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if _fresh(dest, weights_sha):  # a concurrent build finished first; keep it
            shutil.rmtree(tmp)
            return dest
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _fresh(folder: Path, weights_sha: str) -> bool:
    info_path = folder / BUILD_INFO_FILE
    if not (info_path.is_file() and (folder / ONNX_FILE).is_file() and (folder / MEL_BASIS_FILE).is_file()):
        return False
    return json.loads(info_path.read_text(encoding="utf-8")).get("weights_sha256") == weights_sha


def describe_voice_encoder(settings: Settings | None = None) -> dict[str, str]:
    """Name, folder and weights checksum of the speaker encoder (built if needed), for `callqa models`."""
    folder = ensure_voice_encoder(settings)
    info = json.loads((folder / BUILD_INFO_FILE).read_text(encoding="utf-8"))
    return {"name": "resemblyzer GE2E (ONNX)", "path": str(folder), "sha256": info["weights_sha256"]}


def ensure_voice_encoder(settings: Settings | None = None) -> Path:
    """The ONNX speaker encoder's folder, exported (seconds, once) if missing or built from other weights."""
    settings = settings or get_settings()
    folder = settings.models_dir / FOLDER
    weights_sha = file_sha256(weights_path())
    if _fresh(folder, weights_sha):
        return folder
    log.info("exporting resemblyzer's speaker encoder to ONNX in %s", folder)
    return build_voice_encoder(folder, weights_sha)


class OnnxVoiceEncoder:
    """resemblyzer's front end (`mel_spectrogram`) and GE2E embeddings of mel batches:
    (batch, frames, 40) float32 -> (batch, 256), L2-normed."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort
        from scipy.signal import get_window

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # diarisation runs beside Whisper, one core each
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.enable_cpu_mem_arena = False  # as the classifier's: nothing kept between calls
        self.session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self.mel_basis = np.load(folder / MEL_BASIS_FILE).astype(np.float32)
        self.window = get_window("hann", N_FFT).astype(np.float32)  # periodic, as librosa's

    def mel_spectrogram(self, samples: np.ndarray) -> np.ndarray:
        """(frames, 40) power mel spectrogram of 16 kHz samples: resemblyzer's `wav_to_mel_spectrogram`
        (librosa's centred, zero-padded STFT) without librosa."""
        frames = centred_frames(np.asarray(samples, dtype=np.float32), N_FFT, HOP_LENGTH)
        power = np.abs(np.fft.rfft(frames * self.window, axis=1)) ** 2
        return power.astype(np.float32) @ self.mel_basis.T

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"mels": np.ascontiguousarray(mels, dtype=np.float32)})[0]


_loaded: dict[Path, OnnxVoiceEncoder] = {}
_lock = threading.Lock()


def get_voice_encoder(settings: Settings | None = None) -> OnnxVoiceEncoder:
    """The process-wide speaker encoder (built if needed, loaded once per models folder)."""
    settings = settings or get_settings()
    with _lock:
        if settings.models_dir not in _loaded:
            _loaded[settings.models_dir] = OnnxVoiceEncoder(ensure_voice_encoder(settings))
        return _loaded[settings.models_dir]
