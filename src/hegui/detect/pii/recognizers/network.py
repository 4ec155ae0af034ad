"""IP addresses: IPv4 with valid octets (not version numbers), IPv6 validated by `ipaddress`."""

from __future__ import annotations

import ipaddress
import re

from hegui.detect.pii.gates import OTHER_DIGIT, Gate, chars, digits, lit
from hegui.detect.pii.recognizer import Check, Pattern, PatternRecognizer, RecognizerResult

# A version marker just before the match ("v1.2.3.4", "version 1.2.3.4", "版本1.2.3.4").
_VERSION_BEFORE = re.compile(r"(?:\bv|version|ver\.?|版本|版本号|release|build)\s*[:：]?\s*$")


class IpRecognizer(PatternRecognizer):
    """IPv4 dotted quads (four octets 0-255, no leading zeros) and IPv6 (incl. ``::`` and IPv4 tails)."""

    name = "ip_address"
    risk = "pii.ip_address"
    patterns = (
        Pattern("ipv4", r"\d(?<![0-9.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![0-9]|\.\d)", 0.6),
        Pattern(
            "ipv6",
            r"[0-9a-f:](?<![0-9a-z:][0-9a-f:])[0-9a-f]{0,3}(?<=[0-9a-f:])(?:(?<=:)|:)(?:[0-9a-f]{0,4}:){1,6}"
            r"(?:[0-9a-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![0-9a-z:.])",
            0.6,
        ),
    )
    context_words = ("ip", "地址", "服务器", "主机", "host", "server", "访问", "登录")
    context_boost = 0.25

    # Quick tests per pattern. Only whether they match anywhere matters, so each starts with its
    # literal ("." or ":"), which `re` can skip to quickly: ``\d\.\d{1,3}\.\d`` and
    # ``[0-9a-f]{0,4}:[0-9a-f]{0,4}:`` (the latter tried at every position) accept the same texts.
    _v4 = re.compile(r"\.(?<=\d\.)\d{1,3}\.\d")
    _v6 = re.compile(r":[0-9a-f]{0,4}:")
    gate = Gate.any_of(
        digits(1) + lit(".") + digits(1, 3) + lit(".") + digits(1),
        lit(":") + f"(?:{chars('0123456789abcdef')}){{0,4}}" + lit(":"),
        OTHER_DIGIT,
    )

    def prefilter(self, text: str) -> bool:
        return "." in text or ":" in text

    def analyze(self, text: str) -> list[RecognizerResult]:
        return self._analyze(text, 0b111)

    def analyze_clauses(self, text: str, clauses: int) -> list[RecognizerResult]:
        # Gate clause 0 is ``_v4`` in ASCII digits, clause 1 is ``_v6`` exactly, clause 2 any
        # other-script digit (``\d`` in ``_v4``): a pattern whose quick test cannot pass is skipped.
        return self._analyze(text, clauses)

    def _analyze(self, text: str, clauses: int) -> list[RecognizerResult]:
        if not text or not self.prefilter(text):
            return []
        out: list[RecognizerResult] = []
        for pattern, rx in self._compiled:
            if not clauses & (0b101 if pattern.name == "ipv4" else 0b110):
                continue
            quick = self._v4 if pattern.name == "ipv4" else self._v6
            if quick.search(text) is None:
                continue
            for r in self._scan(text, pattern, rx):
                # A dotted quad right after "v"/"version"/"版本" is a version number, not an address.
                if r.pattern == "ipv4" and _VERSION_BEFORE.search(text, max(0, r.start - 12), r.start):
                    continue
                out.append(r)
        return out

    def validate(self, value: str, pattern: Pattern) -> Check:
        if pattern.name == "ipv4":
            parts = value.split(".")
            if any(len(p) > 1 and p[0] == "0" for p in parts):
                return Check(False, "leading zero")
            if any(int(p) > 255 for p in parts):
                return Check(False, "octet out of range")
            if value == "0.0.0.0":
                return Check(True, "unspecified address", score=0.3)
            return Check(True, "octets ok")
        if value.count(":") < 2 or len(value) < 3:
            return Check(False, "too short")
        try:
            addr = ipaddress.IPv6Address(value)
        except ValueError:
            return Check(False, "not an IPv6 address")
        if addr.is_unspecified or addr.is_loopback:
            return Check(True, "loopback/unspecified", score=0.3)
        return Check(True, "ipv6 ok")
