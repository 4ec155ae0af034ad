"""Secrets: private keys, cloud and API tokens, and high-entropy values assigned to key/token/secret.

They all map to ``hg.secret`` (Art. 4(3): trade secrets and credentials must not leak through the
service). The text is case-folded before it reaches us, so every pattern is lower case; the
entropy threshold is set for folded text.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter

from hegui.detect.pii.gates import Gate, chars, lit
from hegui.detect.pii.recognizer import (
    NOT_ALNUM_AFTER,
    Check,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
    alnum_start,
)

# Real labels have one or two words before PRIVATE KEY (RSA, OPENSSH, ENCRYPTED, PGP): bounding
# the word count keeps a run of "-----begin a a a a …" from being rescanned at every header.
_PEM_LABEL = r"(?:[a-z0-9]+ ){0,4}private key(?: block)?-----"
_PEM_HEAD = re.compile(r"-----begin " + _PEM_LABEL)
_PEM_END = re.compile(r"-----end " + _PEM_LABEL)
# Base64 lines (and Proc-Type/DEK-Info headers) after a header; never runs into the next "-----".
_PEM_BODY = re.compile(r"(?:\s*(?:[a-z0-9+/=:]|-(?!----)){16,}){0,64}")
_PEM_MAX_BODY = 20000


class PrivateKeyRecognizer(PatternRecognizer):
    r"""PEM private keys (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP), whole block or a truncated head.

    A header followed by an END marker within 20,000 characters is a whole block (score 1.0); a
    header without one is reported with the base64 lines that follow it (0.95). The END markers
    are found once for the whole text: a lazy ``BEGIN[\s\S]{0,20000}?END`` regex rescanned 20,000
    characters after every header, so 20,000 headers without END took 15 s.
    """

    name = "private_key"
    risk = "hg.secret"
    patterns = (
        Pattern("pem_block", "-----begin " + _PEM_LABEL + r"[\s\S]{0,20000}?-----end " + _PEM_LABEL, 1.0),
        Pattern("pem_head", "-----begin " + _PEM_LABEL + r"(?:\s*[a-z0-9+/=:\-]{16,}){0,64}", 0.95),
    )

    gate = Gate.any_of(lit("private key"))

    def prefilter(self, text: str) -> bool:
        return "private key" in text

    def analyze(self, text: str) -> list[RecognizerResult]:
        if not text or not self.prefilter(text):
            return []
        block, head = self.patterns
        end_markers = [m.span() for m in _PEM_END.finditer(text)]
        end_starts = [a for a, _ in end_markers]
        out: list[RecognizerResult] = []
        covered = 0
        for m in _PEM_HEAD.finditer(text):
            if m.start() < covered:
                continue  # a header inside a block already reported is part of that key
            i = bisect.bisect_left(end_starts, m.end())
            if i < len(end_starts) and end_starts[i] - m.end() <= _PEM_MAX_BODY:
                s, e, pattern = m.start(), end_markers[i][1], block
            else:
                body = _PEM_BODY.match(text, m.end())
                s, e, pattern = m.start(), body.end() if body else m.end(), head
            if pattern is block:
                covered = e
            out.append(
                RecognizerResult(s, e, pattern.score, self.risk, self.name, pattern.name, None, "", False)
            )
        return out


class ApiKeyRecognizer(PatternRecognizer):
    """Tokens with a known vendor shape: AWS, OpenAI/Anthropic, GitHub, GitLab, Slack, Google, Stripe, JWT."""

    name = "api_key"
    risk = "hg.secret"
    patterns = (
        Pattern("aws_access_key", alnum_start("a") + r"(?:kia|sia|gpa|ida|roa|ipa|npa|nva)[0-9a-z]{16}" + NOT_ALNUM_AFTER, 0.9),
        Pattern("openai_key", alnum_start("s") + r"k-(?:proj-|ant-|svcacct-|admin-)?[0-9a-z_\-]{20,}" + NOT_ALNUM_AFTER, 0.85),
        Pattern("github_token", alnum_start("g") + r"(?:h[pousr]_[0-9a-z]{36,}|ithub_pat_[0-9a-z_]{40,})" + NOT_ALNUM_AFTER, 0.95),
        Pattern("gitlab_token", alnum_start("g") + r"lpat-[0-9a-z_\-]{20,}" + NOT_ALNUM_AFTER, 0.95),
        Pattern("slack_token", alnum_start("x") + r"ox[abposr]-[0-9a-z\-]{10,}" + NOT_ALNUM_AFTER, 0.9),
        Pattern("google_api_key", alnum_start("a") + r"iza[0-9a-z_\-]{35}" + NOT_ALNUM_AFTER, 0.9),
        Pattern("stripe_key", alnum_start("[sr]") + r"k_(?:live|test)_[0-9a-z]{16,}" + NOT_ALNUM_AFTER, 0.9),
        Pattern("jwt", alnum_start("e") + r"yj[0-9a-z_\-]{8,}\.eyj[0-9a-z_\-]{8,}\.[0-9a-z_\-]{8,}", 0.8),
    )
    context_words = ("key", "token", "secret", "密钥", "令牌", "凭证", "api")
    context_boost = 0.1

    # Substring tests (fast `str.__contains__`) instead of one regex alternation (slow in `re`).
    _markers = ("akia", "asia", "agpa", "aida", "aroa", "aipa", "anpa", "anva", "sk-", "glpat-", "xox",
                "aiza", "_live_", "_test_", "eyj")
    _github = re.compile(r"gh[pousr]_|github_pat_")
    gate = Gate.any_of(*(lit(m) for m in _markers), lit("gh") + chars("pousr") + lit("_"), lit("github_pat_"))

    def prefilter(self, text: str) -> bool:
        return any(m in text for m in self._markers) or (
            "_" in text and self._github.search(text) is not None
        )

    def validate(self, value: str, pattern: Pattern) -> Check:
        if pattern.name == "openai_key":
            body = value.split("-", 1)[1]
            if not (any(c.isdigit() for c in body) and any(c.isalpha() for c in body)):
                return Check(False, "no mix of letters and digits")
        return Check(True, f"{pattern.name} shape")


def shannon_entropy(s: str) -> float:
    """Bits per character of ``s`` (0 for an empty string)."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_ASSIGN = (
    r"(?:api[_\-. ]?key|access[_\-. ]?key|secret(?:[_\-. ]?key)?|client[_\-. ]?secret|auth[_\-. ]?token|"
    r"access[_\-. ]?token|refresh[_\-. ]?token|token|password|passwd|pwd|private[_\-. ]?key|密钥|秘钥|令牌|口令|密码|凭证)"
)


class GenericSecretRecognizer(PatternRecognizer):
    """A high-entropy value assigned to something called key/token/secret/password (``token=…``)."""

    name = "generic_secret"
    risk = "hg.secret"
    patterns = (
        Pattern(
            "assignment",
            _ASSIGN + r"[\"']?\s{0,3}(?:[:=：]|=>|是|为)\s{0,3}[\"']?(?P<v>[0-9a-z+/_\-=.~]{16,200})" + r"(?![0-9a-z+/_\-=.~])",
            0.7,
        ),
    )
    min_entropy = 3.2

    _quick = re.compile(_ASSIGN)
    # Every alternative of ``_ASSIGN`` contains one of these.
    gate = Gate.any_of(
        *(lit(w) for w in ("api", "access", "secret", "token", "passw", "pwd", "private", "密钥", "秘钥", "令牌", "口令", "密码", "凭证"))
    )

    def prefilter(self, text: str) -> bool:
        return self._quick.search(text) is not None

    def validate(self, value: str, pattern: Pattern) -> Check:
        if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
            return Check(False, "not a mix of letters and digits")
        if shannon_entropy(value) < self.min_entropy:
            return Check(False, "low entropy")
        return Check(True, "high entropy")
