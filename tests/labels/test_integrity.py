"""ReservedCode1/2: signatures over the label and the content digest, per algorithm."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hegui.labels import integrity
from hegui.labels.aigc import first_write, propagate

ALGS = ["sm2", "ed25519", "hmac-sha256"]


@pytest.mark.parametrize("alg", ALGS)
def test_sign_and_check(alg: str, tmp_path: Path) -> None:
    s = integrity.load_signer(alg, tmp_path / "k", b"secret")
    d = integrity.content_digest([b"content"], alg)
    lab = integrity.sign_producer(first_write("001A"), d, s)
    assert lab.ReservedCode1.startswith("hg1.")
    assert lab.problems() == []  # the code stays inside the Appendix E character set
    ok = integrity.check(lab, {alg: d}, s)
    assert (ok.signature, ok.content, ok.propagation, ok.problems) == ("valid", "match", "first-write", [])
    # Edited field: signature fails.
    assert integrity.check(lab.with_fields(Label="2"), {alg: d}, s).signature == "invalid"
    # Changed content: digest differs.
    other = integrity.content_digest([b"other"], alg)
    assert integrity.check(lab, {alg: other}, s).content == "changed"
    # Another key of the same algorithm does not verify it.
    s2 = integrity.load_signer(alg, tmp_path / "k2", b"other secret")
    assert integrity.check(lab, {alg: d}, s2).signature == "invalid"


def test_sm2_uses_sm3_digest_and_key_file_is_private(tmp_path: Path) -> None:
    s = integrity.load_signer("sm2", tmp_path / "sm2.key")
    assert stat.S_IMODE((tmp_path / "sm2.key").stat().st_mode) == 0o600
    # SM3("abc") test vector from GB/T 32905.
    assert (
        integrity.content_digest([b"abc"], "sm2")
        == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    # The same key loads again (the file is reused, not replaced).
    assert integrity.load_signer("sm2", tmp_path / "sm2.key").public_hex == s.public_hex


@pytest.mark.parametrize("alg", ["sm2", "ed25519"])
def test_public_key_verification(alg: str, tmp_path: Path) -> None:
    s = integrity.load_signer(alg, tmp_path / "k")
    d = integrity.content_digest([b"x"], alg)
    lab = integrity.sign_producer(first_write("001A"), d, s)
    pub = integrity.public_verifier(alg, integrity.public_key_text(s))
    assert integrity.check(lab, {alg: d}, pub).signature == "valid"


def test_propagator_fields_need_reservedcode2(tmp_path: Path) -> None:
    s = integrity.load_signer("ed25519", tmp_path / "k")
    d = integrity.content_digest([b"x"], "ed25519")
    lab = integrity.sign_producer(first_write("001A"), d, s)
    edited = lab.with_fields(ContentPropagator="EVIL")
    res = integrity.check(edited, {"ed25519": d}, s)
    assert res.signature == "valid" and res.propagation == "unsigned" and res.problems
    signed = integrity.sign_propagator(propagate(lab, "PLAT1"), d, s)
    res = integrity.check(signed, {"ed25519": d}, s)
    assert (res.signature, res.propagation, res.problems) == ("valid", "signed", [])
    assert integrity.check(signed.with_fields(PropagateID="zzz"), {"ed25519": d}, s).propagation == "invalid"


def test_foreign_and_garbled_codes() -> None:
    lab = first_write("001A").with_fields(ReservedCode1="e862483430d978cbf828b8b24296ef9328d843a0")
    assert integrity.check(lab, {}, None).signature == "foreign"
    assert integrity.parse_code("hg1.nope.00.AA") is None


def test_sm2_public_key_starting_with_04_verifies() -> None:
    # gmssl strips a leading "04" (and any 0/4 after it) from public keys; 1 key in 256 has an x
    # coordinate starting 04… — private key 0x0b is one of them.
    s = integrity.SM2Signer.from_private(f"{11:064x}")
    assert s.public_hex.startswith("04")
    sig = s.sign(b"label")
    assert s.verify(b"label", sig) and not s.verify(b"other", sig)
    pub_only = integrity.SM2Signer(None, s.public_hex)
    assert pub_only.verify(b"label", sig)
