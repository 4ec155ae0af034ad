"""Detectors. Importing this package registers the built-in ones in `DetectorRegistry`.

Built-ins: ``keywords`` (the keyword library), ``pii`` (personal-information recognisers).
Later pieces add theirs (``classifier``, ``blocklist``, ``judge``) by registering a factory.
"""

import importlib

from hegui.detect.base import (
    BatchDetector,
    Detector,
    DetectorError,
    DetectorRegistry,
    Finding,
    detect_all,
)

BUILTIN_MODULES = ("hegui.detect.keywords", "hegui.detect.pii", "hegui.detect.classifier", "hegui.detect.judge",
                   "hegui.detect.blocklist")

for _mod in BUILTIN_MODULES:
    importlib.import_module(_mod)

__all__ = ["BatchDetector", "Detector", "DetectorError", "DetectorRegistry", "Finding", "detect_all"]
