"""Moderating a stream of text deltas.

Buffered mode holds text until a sentence ends (the Chinese-aware splitter) or the buffer is full,
checks that piece together with an overlap of already-released text (so a violation split across
a cut is still seen), and only then releases it: nothing unchecked reaches the client.
Stream-first mode releases each delta at once and runs the same checks behind it; a violation
stops the stream. Either way `finish` checks whatever is left, and the caller runs a whole-answer
check for the audit record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hegui.gateway.config import StreamMode
from hegui.guard import Verdict
from hegui.policy import Action
from hegui.text import last_boundary

# A clause ends at a comma-like mark (after at least a few characters); used for the first piece only.
_CLAUSE = re.compile(r"(?<=\S{2})[，,、：:]\s*")


def first_clause(text: str) -> int:
    """Offset just after the first clause or sentence of ``text`` (0 if none is complete)."""
    sentence = last_boundary(text)
    m = _CLAUSE.search(text)
    clause = m.end() if m else 0
    return min(x for x in (sentence, clause) if x) if (sentence or clause) else 0


@dataclass(slots=True)
class Step:
    release: str = ""
    stop: Verdict | None = None  # set when the stream must stop (block, or a failed check)


class StreamModerator:
    def __init__(self, check: Callable[[str], Verdict], mode: StreamMode, max_chars: int, overlap: int,
                 first_clause: bool = True) -> None:
        self.check, self.mode, self.max_chars, self.overlap = check, mode, max_chars, overlap
        # Release the first clause (up to a comma) on its own: the time to the first token then
        # waits for a few words, not a whole sentence. Later pieces end at sentences.
        self.first_clause = first_clause
        self.pending = ""  # text not yet checked
        self.released = ""  # text the client has received
        self.text = ""  # everything the upstream sent
        self.stopped: Verdict | None = None
        self.checks = 0

    def feed(self, delta: str) -> Step:
        if self.stopped is not None or not delta:
            return Step()
        self.text += delta
        self.pending += delta
        early = delta if self.mode is StreamMode.STREAM_FIRST else ""
        if early:
            self.released += early
        out = Step(release=early)
        while True:
            early_cut = self.first_clause and not self.released and self.checks == 0
            cut = first_clause(self.pending) if early_cut else last_boundary(self.pending)
            if cut == 0 and len(self.pending) >= self.max_chars:
                cut = self.max_chars
            if cut == 0:
                return out
            step = self._check_piece(self.pending[:cut])
            self.pending = self.pending[cut:]
            out.release += step.release
            if step.stop is not None:
                out.stop = step.stop
                return out

    def finish(self) -> Step:
        """Check the remainder. Always call it when the stream ends, however it ends."""
        if self.stopped is not None or not self.pending:
            return Step()
        piece, self.pending = self.pending, ""
        return self._check_piece(piece)

    def _check_piece(self, piece: str) -> Step:
        context = self._context()
        v = self.check(context + piece)
        self.checks += 1
        if v.error or v.action is Action.BLOCK:
            self.stopped = v
            return Step(stop=v)
        if self.mode is StreamMode.STREAM_FIRST:
            return Step()  # already released
        if v.action is Action.REDACT:
            alone = self.check(piece)
            if alone.error or alone.action is Action.BLOCK:
                self.stopped = alone
                return Step(stop=alone)
            piece = alone.redacted
        self.released += piece
        return Step(release=piece)

    def _context(self) -> str:
        if not self.overlap:
            return ""
        return self.released[-self.overlap :]
