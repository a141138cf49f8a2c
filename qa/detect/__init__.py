"""Detection of threats, harassment, privacy disclosure and distress in call transcripts (Mandarin, English).

Rules (validated PII, seed phrases, dialogue logic) and a learned utterance classifier are fused into one
calibrated decision per label per utterance; every `Finding` says why it fired. The learned model
(`qa.detect.classifier.model`) is imported only when used, so rule-only detection never loads torch.

    from qa.detect import detect_transcript, classify_items
"""

from qa.detect.base import Context, Detector, DialogueDetector, Registry, Utterance
from qa.detect.engine import classify_items, detect_transcript, get_classifier
from qa.detect.fusion import Thresholds, fuse_utterance, noisy_or
from qa.detect.registry import default_registry

__all__ = [
    "Context", "Detector", "DialogueDetector", "Registry", "Thresholds", "Utterance", "classify_items",
    "default_registry", "detect_transcript", "fuse_utterance", "get_classifier", "noisy_or",
]
