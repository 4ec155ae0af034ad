"""Audit log (Measures Art. 11, Cybersecurity Law Art. 21): hash-chained rows, pseudonymous users,
PII-redacted content with a retention purge.

The names below load on first use (PEP 562): `hegui.config` imports `hegui.audit.config` for
every command, and importing the chain here would pull in the store, SQLAlchemy and Alembic
(≈ 0.35 s) for commands that never touch the audit log, such as `hegui scan`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hegui import lazy

if TYPE_CHECKING:
    from hegui.audit.chain import AuditEntry, VerifyResult, append, purge, verify
    from hegui.audit.config import AuditConfig
    from hegui.audit.pseudonym import pseudonymize

_SOURCES = {
    "AuditEntry": "hegui.audit.chain",
    "VerifyResult": "hegui.audit.chain",
    "append": "hegui.audit.chain",
    "purge": "hegui.audit.chain",
    "verify": "hegui.audit.chain",
    "AuditConfig": "hegui.audit.config",
    "pseudonymize": "hegui.audit.pseudonym",
}

__all__ = ["AuditConfig", "AuditEntry", "VerifyResult", "append", "pseudonymize", "purge", "verify"]


__getattr__ = lazy.exports(__name__, _SOURCES)
