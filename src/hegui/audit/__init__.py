"""Audit log (Measures Art. 11, Cybersecurity Law Art. 21): hash-chained rows, pseudonymous users,
PII-redacted content with a retention purge."""

from hegui.audit.chain import AuditEntry, VerifyResult, append, purge, verify
from hegui.audit.config import AuditConfig
from hegui.audit.pseudonym import pseudonymize

__all__ = ["AuditConfig", "AuditEntry", "VerifyResult", "append", "pseudonymize", "purge", "verify"]
