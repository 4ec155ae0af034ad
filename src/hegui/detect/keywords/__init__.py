"""The keyword library (the ``keywords`` detector): lexicon files, a compiled matcher, curation.

`lexicon` reads and writes the file format, `compiled` turns lexicons into normalised patterns
with an on-disk cache, `matcher` scans with hyperscan or pyahocorasick, `detector` scores findings,
`stats` counts the library against TC260's floors. The shipped library lives in
``hegui/data/keywords`` and is rebuilt by ``scripts/build_keywords.py``.
"""

from hegui.detect.keywords.detector import KeywordDetector, default_library_files
from hegui.detect.keywords.lexicon import (
    Entry,
    Lexicon,
    LexiconError,
    Strength,
    load_allow_list,
    load_lexicon,
)

__all__ = [
    "Entry",
    "KeywordDetector",
    "Lexicon",
    "LexiconError",
    "Strength",
    "default_library_files",
    "load_allow_list",
    "load_lexicon",
]
