"""The trained risk classifier: NB-weighted linear heads over hashed character n-grams.

Modules: ``features`` (hashing), ``model`` (file format, inference, score calibration),
``data`` (public and user training sets, splits, licences), ``train`` (fitting), ``calibrate``
(thresholds, metrics), ``detector`` (the ``classifier`` detector). See docs/classifier.md.
"""

from hegui.detect.classifier.detector import ClassifierDetector, default_model_path
from hegui.detect.classifier.model import ClassifierModel, Head, ModelFormatError

__all__ = ["ClassifierDetector", "ClassifierModel", "Head", "ModelFormatError", "default_model_path"]
