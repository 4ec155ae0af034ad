"""Personal-information recognisers (the ``pii`` detector), Presidio-style.

One small `PatternRecognizer` per type (patterns + validation + context words + score), composed
by `PiiDetector`, registered in `DetectorRegistry` as ``"pii"``. The pure validators (ID checksum,
birth date, age, Luhn, USCC, mobile) live in `hegui.detect.pii.validators` for reuse.
"""

from hegui.detect.pii.detector import PiiDetector, RecognizerRegistry, builtin_names, resolve_overlaps
from hegui.detect.pii.recognizer import Check, Pattern, PatternRecognizer, RecognizerResult

__all__ = [
    "Check",
    "Pattern",
    "PatternRecognizer",
    "PiiDetector",
    "RecognizerRegistry",
    "RecognizerResult",
    "builtin_names",
    "resolve_overlaps",
]
