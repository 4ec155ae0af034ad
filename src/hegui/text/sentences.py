"""Chinese-aware sentence splitting, for checking streamed output piece by piece.

A sentence ends at 。！？；… (and their full-width/ASCII twins), at a newline, or at English
``.!?`` followed by whitespace; closing quotes and brackets stay with the sentence they close.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_CLOSERS = "\"'”’」』）)】》〉\\]"
_END = re.compile(
    rf"(?:[。！？!?；;]+|…+|\.{{3,}}|\n+|(?<![0-9])\.(?=\s|$)|(?<=[a-zA-Z\)\]\"'])[!?](?=\s|$))[{_CLOSERS}]*\s*"
)


_RESCAN = 8


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence; the last span may be an unfinished sentence."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _END.finditer(text):
        end = m.end()
        if end > pos:
            spans.append((pos, end))
            pos = end
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, whitespace kept, so ``"".join(result) == text``."""
    return [text[s:e] for s, e in sentence_spans(text)]


def last_boundary(text: str, start: int = 0) -> int:
    """Offset just after the last complete sentence in ``text`` (0 if none is complete yet).

    A boundary at the very end of the text counts: a streamed answer is checked as soon as a
    sentence ends, not one chunk later. The price is that a closing quote arriving in the next
    chunk (``走吧。`` | ``”然后``) starts the next piece; the gateway checks each piece with an
    overlap of the text before it, so nothing is missed. ``start`` skips text already known to
    hold no boundary (look-behinds still see it).
    """
    last = 0
    for m in _END.finditer(text, start):
        last = m.end()
    return last


def iter_sentences(chunks: Iterator[str]) -> Iterator[str]:
    """Regroup a stream of arbitrary chunks into complete sentences (the tail is flushed at the end)."""
    buf = ""
    for chunk in chunks:
        # After a cut the buffer holds no complete boundary, so only its last few characters (a
        # boundary can begin there and end in the new chunk) need scanning again: rescanning the
        # whole buffer made a long stream without punctuation quadratic.
        seen = max(0, len(buf) - _RESCAN)
        buf += chunk
        cut = last_boundary(buf, seen)
        if cut:
            yield from split_sentences(buf[:cut])
            buf = buf[cut:]
    if buf:
        yield buf
