"""Pluggable verification back ends: ID verifiers and SMS senders.

An `IdVerifier` answers "do this name and ID number belong together?" (the offline one only checks
the number's own structure); an `SmsSender` delivers one-time codes. Both raise
`ProviderUnavailable` when the provider cannot answer (timeout, HTTP error), and the caller then
fails closed without changing any state.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import secrets
import threading
import time
from typing import Any, Protocol, runtime_checkable

import httpx

from hegui.identity.config import HttpVerifierConfig, IdentityConfig, SmsConfig


class ProviderUnavailable(RuntimeError):
    """The verifier or SMS provider did not answer in time or answered with an error."""


@runtime_checkable
class IdVerifier(Protocol):
    name: str

    def verify(self, name: str, id_number: str) -> bool: ...


@runtime_checkable
class SmsSender(Protocol):
    def send(self, mobile: str, text: str) -> None: ...


class OfflineVerifier:
    """Accepts any number that passed the offline checks; the name cannot be checked offline."""

    name = "offline"

    def verify(self, name: str, id_number: str) -> bool:
        return True


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The request signature the HTTP verifier sends (and a provider adapter checks)."""
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class HttpVerifier:
    """POSTs ``{"name", "id_number", "nonce"}`` to the provider with ``X-Hegui-Timestamp`` and
    ``X-Hegui-Signature`` (HMAC-SHA256 over ``timestamp.body``); expects ``{"match": bool}``."""

    name = "http"

    def __init__(self, cfg: HttpVerifierConfig) -> None:
        self.cfg = cfg
        self._client = httpx.Client(timeout=cfg.timeout_s)

    def verify(self, name: str, id_number: str) -> bool:
        body = json.dumps({"name": name, "id_number": id_number, "nonce": secrets.token_hex(8)},
                          ensure_ascii=False).encode("utf-8")
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Hegui-Timestamp": ts,
                   "X-Hegui-Signature": sign(self.cfg.secret.get_secret_value().encode(), ts, body)}
        try:
            r = self._client.post(self.cfg.url, content=body, headers=headers)
            r.raise_for_status()
            data = r.json()
        except httpx.TimeoutException:
            raise ProviderUnavailable("the real-name verifier timed out") from None
        except (httpx.HTTPError, ValueError) as e:
            # The exception text may echo the URL, never the request body.
            raise ProviderUnavailable(f"the real-name verifier failed: {type(e).__name__}") from None
        if not isinstance(data, dict) or not isinstance(data.get("match"), bool):
            raise ProviderUnavailable("the real-name verifier answered without a 'match' field")
        return bool(data["match"])


class MemorySender:
    """Keeps messages in process memory (development and tests). Never logs them."""

    def __init__(self, cfg: SmsConfig | None = None) -> None:
        self.outbox: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, mobile: str, text: str) -> None:
        with self._lock:
            self.outbox.append((mobile, text))

    def last_to(self, mobile: str) -> str | None:
        with self._lock:
            for to, text in reversed(self.outbox):
                if to == mobile:
                    return text
        return None


class HttpSmsSender:
    """POSTs ``{"to", "text"}`` to an SMS gateway with a bearer key."""

    def __init__(self, cfg: SmsConfig) -> None:
        if not cfg.url:
            raise ValueError("identity.sms.url is required for the http SMS sender / 需配置短信网关地址")
        self.cfg = cfg
        self._client = httpx.Client(timeout=cfg.timeout_s)

    def send(self, mobile: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self.cfg.api_key.get_secret_value()}"} if self.cfg.api_key else {}
        try:
            self._client.post(str(self.cfg.url), json={"to": mobile, "text": text}, headers=headers).raise_for_status()
        except httpx.TimeoutException:
            raise ProviderUnavailable("the SMS gateway timed out") from None
        except httpx.HTTPError as e:
            raise ProviderUnavailable(f"the SMS gateway failed: {type(e).__name__}") from None


def make_verifier(cfg: IdentityConfig) -> IdVerifier:
    if cfg.id_verifier == "http":
        if cfg.http is None:
            raise ValueError("identity.id_verifier is 'http' but identity.http is not set / 未配置实名核验服务")
        return HttpVerifier(cfg.http)
    return OfflineVerifier()


def make_sender(cfg: SmsConfig) -> SmsSender:
    if cfg.sender == "memory":
        return MemorySender(cfg)
    if cfg.sender == "http":
        return HttpSmsSender(cfg)
    mod, _, cls = cfg.sender.partition(":")
    if not cls:
        raise ValueError(f"identity.sms.sender {cfg.sender!r}: use memory, http or module:Class")
    obj: Any = getattr(importlib.import_module(mod), cls)(cfg)
    if not isinstance(obj, SmsSender):
        raise TypeError(f"{cfg.sender} has no send(mobile, text) method")
    return obj
