"""ReservedCode1/ReservedCode2: a signature over the label and a hash of the content.

Why this shape: TC260-PG-202511A puts the producer's integrity data in ReservedCode1 and the
distributor's in ReservedCode2, and names SM3withSM2. The value must stay inside the Appendix E
character set, so it is a dotted ASCII string rather than the guide's nested JSON:

    hg1.<alg>.<content digest, hex>.<signature, base64url without padding>

* ``ReservedCode1`` (producer) signs Label, ContentProducer, ProduceID and the content digest. The
  propagator fields are left out on purpose: a platform must be able to write them later (Measures
  Art. 6) without breaking the producer's signature.
* ``ReservedCode2`` (distributor, optional) signs every other field, ReservedCode1 included, and the
  digest. A label whose propagator fields differ from the first-write values but carry no
  ReservedCode2 is reported, so an edit to any field is noticed.
* The digest covers the file *without* its label (each format module says what that is), so writing
  the label does not change it, while any change to the pixels, samples or text does.

Algorithms: ``sm2`` (SM3withSM2 via gmssl, default; content digest SM3), ``ed25519`` (cryptography;
SHA-256) and ``hmac-sha256`` (a shared secret; only the key holder can verify, so it suits checking
one's own files, not publishing). gmssl's SM2 is pure Python (about 10 ms per signature), which is
negligible next to file I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hegui.labels.aigc import AIGCLabel, LabelError

PREFIX = "hg1"
_ALG_TAG = {"sm2": "sm2", "ed25519": "ed25519", "hmac-sha256": "hs256"}
_TAG_ALG = {v: k for k, v in _ALG_TAG.items()}
_SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


class Signer(Protocol):
    algorithm: str

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


def content_digest(chunks: Iterable[bytes], algorithm: str) -> str:
    """Hex digest of the label-free content: SM3 with SM2 (one national suite), SHA-256 otherwise."""
    h = hashlib.new("sm3") if algorithm == "sm2" else hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


class SM2Signer:
    """SM3withSM2 (GB/T 32918, default user id) through gmssl."""

    algorithm = "sm2"

    def __init__(self, private_hex: str | None, public_hex: str) -> None:
        from gmssl import sm2

        self._sm2 = sm2.CryptSM2(private_key=private_hex or "", public_key=public_hex)
        # gmssl does public_key.lstrip("04") when the key starts with "04", eating the leading
        # digits of an x coordinate that begins 04… (1 key in 256: every signature then fails to
        # verify). Our keys never carry the 04 prefix, so set the coordinates as given.
        self._sm2.public_key = public_hex
        self.public_hex = public_hex

    @classmethod
    def generate_private(cls) -> str:
        return f"{secrets.randbelow(_SM2_N - 2) + 1:064x}"

    @classmethod
    def from_private(cls, private_hex: str) -> SM2Signer:
        from gmssl import sm2

        d = private_hex.strip().lower()
        if len(d) != 64 or not all(c in "0123456789abcdef" for c in d):
            raise LabelError("SM2 private key must be 64 hex digits")
        pub = sm2.CryptSM2(private_key=d, public_key="")._kg(int(d, 16), sm2.default_ecc_table["g"])
        return cls(d, pub)

    def sign(self, message: bytes) -> bytes:
        k = f"{secrets.randbelow(_SM2_N - 2) + 1:064x}"  # fresh nonce from the OS, not gmssl's `random`
        return bytes.fromhex(self._sm2.sign_with_sm3(message, k))

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            return bool(self._sm2.verify_with_sm3(signature.hex(), message))
        except (ValueError, ZeroDivisionError, binascii.Error):
            return False


class Ed25519Signer:
    algorithm = "ed25519"

    def __init__(self, private: object | None, public: object) -> None:
        self._private = private
        self._public = public

    def sign(self, message: bytes) -> bytes:
        if self._private is None:
            raise LabelError("no Ed25519 private key: cannot sign")
        return self._private.sign(message)  # type: ignore[attr-defined]

    def verify(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._public.verify(signature, message)  # type: ignore[attr-defined]
        except (InvalidSignature, ValueError):
            return False
        return True


class HmacSigner:
    algorithm = "hmac-sha256"

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(message), signature)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def load_signer(algorithm: str, key_path: Path, hmac_secret: bytes | None = None) -> Signer:
    """The signer for ``algorithm``, creating a private key at ``key_path`` if none exists yet."""
    if algorithm == "hmac-sha256":
        if hmac_secret is None:
            raise LabelError("hmac-sha256 needs a secret key")
        return HmacSigner(hmac.new(hmac_secret, b"hegui-labels-v1", hashlib.sha256).digest())
    if algorithm == "sm2":
        if not key_path.exists():
            _write_private(key_path, (SM2Signer.generate_private() + "\n").encode())
        return SM2Signer.from_private(key_path.read_text().strip())
    if algorithm == "ed25519":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not key_path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write_private(key_path, pem)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise LabelError(f"{key_path} is not an Ed25519 private key")
        return Ed25519Signer(key, key.public_key())
    raise LabelError(f"unknown signature algorithm {algorithm!r} (sm2, ed25519, hmac-sha256)")


def public_verifier(algorithm: str, public: str | bytes) -> Signer:
    """A verify-only signer from a published public key (SM2: 128 hex digits; Ed25519: PEM)."""
    if algorithm == "sm2":
        pub = public.decode() if isinstance(public, bytes) else public
        return SM2Signer(None, pub.strip().lower())
    if algorithm == "ed25519":
        from cryptography.hazmat.primitives import serialization

        data = public.encode() if isinstance(public, str) else public
        return Ed25519Signer(None, serialization.load_pem_public_key(data))
    raise LabelError(f"no public-key verification for {algorithm!r}")


def public_key_text(signer: Signer) -> str:
    """What to publish so that others can verify this provider's labels."""
    if isinstance(signer, SM2Signer):
        return signer.public_hex
    if isinstance(signer, Ed25519Signer):
        from cryptography.hazmat.primitives import serialization

        return signer._public.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
    raise LabelError("an HMAC key has no public part")


def _canon(fields: dict[str, str]) -> bytes:
    return json.dumps(fields, ensure_ascii=True, separators=(",", ":")).encode()


def _rc1_message(label: AIGCLabel, tag: str, digest: str) -> bytes:
    core = {"Label": label.Label, "ContentProducer": label.ContentProducer, "ProduceID": label.ProduceID}
    return b"hegui-aigc-rc1\0" + _canon(core) + b"\0" + tag.encode() + b"\0" + digest.encode()


def _rc2_message(label: AIGCLabel, tag: str, digest: str) -> bytes:
    fields = label.to_dict()
    fields.pop("ReservedCode2")
    return b"hegui-aigc-rc2\0" + _canon(fields) + b"\0" + tag.encode() + b"\0" + digest.encode()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _code(tag: str, digest: str, sig: bytes) -> str:
    return f"{PREFIX}.{tag}.{digest}.{_b64(sig)}"


def sign_producer(label: AIGCLabel, digest: str, signer: Signer) -> AIGCLabel:
    """``label`` with ReservedCode1 set (and ReservedCode2 cleared: it no longer matches)."""
    tag = _ALG_TAG[signer.algorithm]
    sig = signer.sign(_rc1_message(label, tag, digest))
    return label.with_fields(ReservedCode1=_code(tag, digest, sig), ReservedCode2="")


def sign_propagator(label: AIGCLabel, digest: str, signer: Signer) -> AIGCLabel:
    tag = _ALG_TAG[signer.algorithm]
    return label.with_fields(ReservedCode2=_code(tag, digest, signer.sign(_rc2_message(label, tag, digest))))


@dataclass(frozen=True)
class ParsedCode:
    algorithm: str
    digest: str
    signature: bytes


def parse_code(value: str) -> ParsedCode | None:
    """The parts of an ``hg1.`` ReservedCode, or None for a value some other tool wrote."""
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] not in _TAG_ALG:
        return None
    try:
        return ParsedCode(_TAG_ALG[parts[1]], parts[2], _unb64(parts[3]))
    except (binascii.Error, ValueError):
        return None


@dataclass
class IntegrityResult:
    """What the two reserved codes say about one label and the file it sits in."""

    signature: str  # valid | invalid | absent | foreign | wrong-algorithm
    content: str  # match | changed | unknown
    propagation: str  # first-write | signed | unsigned | invalid | unverifiable
    problems: list[str]


def check(label: AIGCLabel, digest_for: dict[str, str], signer: Signer | None) -> IntegrityResult:
    """Check ReservedCode1/2 of ``label``; ``digest_for`` maps algorithm → recomputed content digest."""
    problems: list[str] = []
    content = "unknown"
    rc1 = parse_code(label.ReservedCode1) if label.ReservedCode1 else None
    if not label.ReservedCode1:
        signature = "absent"
        problems.append("ReservedCode1 is empty: the label and content are not protected")
    elif rc1 is None:
        signature = "foreign"
        problems.append("ReservedCode1 was not written by hegui: cannot check it")
    else:
        digest = digest_for.get(rc1.algorithm)
        content = "match" if digest == rc1.digest else "changed"
        if content == "changed":
            problems.append("content changed after labelling (content hash differs from ReservedCode1)")
        tag = _ALG_TAG[rc1.algorithm]
        if signer is None or signer.algorithm != rc1.algorithm:
            signature = "wrong-algorithm" if signer is not None else "unverifiable"
            problems.append(f"no {rc1.algorithm} key to check the ReservedCode1 signature")
        elif signer.verify(_rc1_message(label, tag, rc1.digest), rc1.signature):
            signature = "valid"
        else:
            signature = "invalid"
            problems.append("ReservedCode1 signature does not match the label (label edited or other key)")
    first = label.ContentPropagator == label.ContentProducer and label.PropagateID == label.ProduceID
    if not label.ReservedCode2:
        propagation = "first-write" if first else "unsigned"
        if not first:
            problems.append(
                "ContentPropagator/PropagateID differ from the producer's but ReservedCode2 is empty"
            )
    else:
        rc2 = parse_code(label.ReservedCode2)
        if rc2 is None or signer is None or signer.algorithm != rc2.algorithm:
            propagation = "unverifiable"
        else:
            ok = signer.verify(_rc2_message(label, _ALG_TAG[rc2.algorithm], rc2.digest), rc2.signature)
            ok = ok and digest_for.get(rc2.algorithm) == rc2.digest
            propagation = "signed" if ok else "invalid"
            if not ok:
                problems.append("ReservedCode2 does not match the label or the content")
    return IntegrityResult(signature, content, propagation, problems)
