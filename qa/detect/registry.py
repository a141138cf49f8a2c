"""The built-in detectors. Apart from `qa.detect.base` so that the recognizers import the framework and the
framework never imports them."""

from __future__ import annotations

from functools import lru_cache

from qa.detect.base import Registry
from qa.detect.recognizers.dialogue import ReportedCallBombing, ReportedDisclosure, ThirdPartyDisclosure
from qa.detect.recognizers.phrases import phrase_detectors
from qa.detect.recognizers.pii import pii_detectors


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The built-in detectors (built once: lexicons are parsed and compiled on first use)."""
    reg = Registry()
    for det in [*pii_detectors(), *phrase_detectors(), ThirdPartyDisclosure(), ReportedCallBombing(),
                ReportedDisclosure()]:
        reg.register(det)
    return reg
