"""Pseudonymous user ids: a keyed HMAC, so audit rows link one user's requests without naming them
and nobody without the installation key can test a guess."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymize(key: bytes, user: str) -> str:
    """A stable 32-hex-digit pseudonym of ``user`` under ``key``."""
    return hmac.new(key, b"user:" + user.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
