"""Text handling shared by every detector: normalisation with offset maps, sentence splitting."""

from hegui.text.lang import guess_lang
from hegui.text.normalize import NormalizedText, TextTooLargeError, normalize, normalize_term
from hegui.text.sentences import iter_sentences, last_boundary, sentence_spans, split_sentences

__all__ = [
    "NormalizedText",
    "TextTooLargeError",
    "guess_lang",
    "iter_sentences",
    "last_boundary",
    "normalize",
    "normalize_term",
    "sentence_spans",
    "split_sentences",
]
