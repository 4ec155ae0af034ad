"""C2PA manifests (extra hegui[c2pa]): signed offline with a throwaway CA + signing certificate,
embedded after the metadata label, read back by `hegui verify` with c2pa-python's own validation."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hegui.cli import app
from hegui.config import Settings
from hegui.labels.c2pa_manifest import ASSERTION, TRAINED
from hegui.labels.implicit import Labeller

from .conftest import make_sample

pytest.importorskip("c2pa")
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

runner = CliRunner()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hegui test")])  # fmt: skip


def make_chain(d: Path, algorithm: str = "es256") -> tuple[Path, Path, Path]:
    """A CA and an end-entity signing certificate with what C2PA asks of one: not self-signed,
    CA:false, digitalSignature, an allowed EKU (emailProtection), SKI/AKI. Returns (chain, key, ca)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("hegui test CA")).issuer_name(_name("hegui test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    if algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm.startswith("ps"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    ee = (
        x509.CertificateBuilder().subject_name(_name("hegui signer")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    chain, key_p, ca_p = d / "chain.pem", d / "signer.key", d / "ca.pem"
    chain.write_bytes(ee.public_bytes(pem) + ca.public_bytes(pem))
    key_p.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ca_p.write_bytes(ca.public_bytes(pem))
    return chain, key_p, ca_p


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HEGUI_LABELS__PROVIDER_CODE", "001C2PATEST")
    monkeypatch.delenv("HEGUI_CONFIG", raising=False)
    (tmp_path / "in").mkdir()
    chain, key, _ = make_chain(tmp_path)
    monkeypatch.setenv("HEGUI_LABELS__C2PA_CERT_PATH", str(chain))
    monkeypatch.setenv("HEGUI_LABELS__C2PA_KEY_PATH", str(key))
    return tmp_path


def _verify(*args: str) -> tuple[int, list[dict]]:
    r = runner.invoke(app, ["verify", "--json", "--no-watermark", *args])
    return r.exit_code, [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.webp", "a.tif", "a.wav", "a.mp3", "v.mp4", "d.pdf"])
def test_apply_c2pa_then_verify_both_labels(env: Path, name: str) -> None:
    src = make_sample(name, env / "in")
    r = runner.invoke(app, ["label", "apply", str(src), "--out", str(env / "out"), "--c2pa", "--json"])
    assert r.exit_code == 0, r.output
    code, [row] = _verify(str(env / "out" / name), "--c2pa")
    assert code == 0 and row["conforms"], row["problems"]
    # Order: the manifest went in after the metadata label, whose content digest still matches.
    assert row["content"] == "match" and row["signature"] == "valid"
    m = row["c2pa"]
    assert m["validation_state"] == "Valid" and not m["failures"]
    assert m["digital_source_type"] == TRAINED
    assert m["aigc"] == row["labels"][0]["fields"] and m["matches_metadata_label"] is True


def test_trust_anchor_gives_trusted(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_sample("a.png", env / "in")
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out"), "--c2pa"]).exit_code == 0
    monkeypatch.setenv("HEGUI_LABELS__C2PA_TRUST_ANCHORS", str(env / "ca.pem"))
    _, [row] = _verify(str(env / "out" / "a.png"))
    assert row["c2pa"]["validation_state"] == "Trusted"


@pytest.mark.parametrize("alg", ["ps256", "ed25519"])
def test_other_algorithms(env: Path, monkeypatch: pytest.MonkeyPatch, alg: str) -> None:
    d = env / alg
    d.mkdir()
    chain, key, _ = make_chain(d, alg)
    for k, v in {"CERT_PATH": chain, "KEY_PATH": key, "ALGORITHM": alg}.items():
        monkeypatch.setenv(f"HEGUI_LABELS__C2PA_{k}", str(v))
    src = make_sample("a.jpg", env / "in")
    r = runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out"), "--c2pa"])
    assert r.exit_code == 0, r.output
    code, [row] = _verify(str(env / "out" / "a.jpg"), "--c2pa")
    assert code == 0 and row["c2pa"]["validation_state"] == "Valid", row


def test_relabelled_metadata_breaks_the_manifest(env: Path) -> None:
    src = make_sample("a.png", env / "in")
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out"), "--c2pa"]).exit_code == 0
    out = env / "out" / "a.png"
    # Someone replaces the metadata label (as a propagator would) without renewing the manifest.
    lab = Labeller.from_settings(Settings())
    relabelled, _ = lab.apply(out.read_bytes(), "a.png", as_propagator=True)
    out.write_bytes(relabelled)
    code, [row] = _verify(str(out))
    assert code == 1 and not row["conforms"]
    assert row["c2pa"]["validation_state"] == "Invalid"
    assert row["c2pa"]["matches_metadata_label"] is False
    assert any("C2PA manifest does not validate" in p for p in row["problems"])


def test_changed_samples_are_caught_by_both(env: Path) -> None:
    src = make_sample("a.wav", env / "in")
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out"), "--c2pa"]).exit_code == 0
    out = env / "out" / "a.wav"
    data = bytearray(out.read_bytes())
    i = data.index(b"data") + 200
    data[i] ^= 0xFF
    out.write_bytes(bytes(data))
    code, [row] = _verify(str(out))
    assert code == 1 and row["content"] == "changed"
    assert row["c2pa"]["validation_state"] == "Invalid"


def test_verify_without_manifest(env: Path) -> None:
    src = make_sample("a.png", env / "in")
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out")]).exit_code == 0
    code, [row] = _verify(str(env / "out" / "a.png"))
    assert code == 0 and row["c2pa"] is None  # optional unless asked
    code, [row] = _verify(str(env / "out" / "a.png"), "--c2pa")
    assert code == 1 and "no C2PA manifest in the file" in row["problems"]


def test_assertion_label_is_ours(env: Path) -> None:
    import c2pa

    src = make_sample("a.jpg", env / "in")
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out"), "--c2pa"]).exit_code == 0
    with c2pa.Reader(str(env / "out" / "a.jpg")) as r:  # an independent read through c2pa's own API
        labels = [a["label"] for a in r.get_active_manifest()["assertions"]]
    assert ASSERTION in labels and any(lb.startswith("c2pa.actions") for lb in labels)


def test_missing_extra_and_bad_config(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_sample("a.png", env / "in")
    r = runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "o1"), "--c2pa", "--no-implicit"])
    assert r.exit_code == 1 and "--no-implicit" in r.output
    monkeypatch.delenv("HEGUI_LABELS__C2PA_KEY_PATH")
    r = runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "o2"), "--c2pa"])
    assert r.exit_code != 0 and "c2pa_key_path" in r.output
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out")]).exit_code == 0
    monkeypatch.setitem(sys.modules, "c2pa", None)  # as if the extra were not installed
    r = runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "o3"), "--c2pa"])
    assert r.exit_code != 0 and "hegui[c2pa]" in r.output
    code, [row] = _verify(str(env / "out" / "a.png"))
    assert code == 0 and row["conforms"]  # not asked for: no problem
    code, [row] = _verify(str(env / "out" / "a.png"), "--c2pa")
    assert code == 1 and any("hegui[c2pa]" in p for p in row["problems"])


def test_platform_propagates_and_keeps_producer_manifest_as_parent(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import c2pa

    src = make_sample("a.jpg", env / "in")
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "o1"), "--c2pa"]).exit_code == 0
    monkeypatch.setenv("HEGUI_LABELS__PROVIDER_CODE", "002PLATFORM")
    r = runner.invoke(app, ["label", "apply", str(env / "o1" / "a.jpg"), "-o", str(env / "o2"),
                            "--c2pa", "--propagate"])  # fmt: skip
    assert r.exit_code == 0, r.output
    code, [row] = _verify(str(env / "o2" / "a.jpg"), "--c2pa")
    assert code == 0 and row["conforms"], row["problems"]
    m = row["c2pa"]
    assert m["aigc"]["ContentPropagator"] == "002PLATFORM" and m["aigc"]["ContentProducer"] == "001C2PATEST"
    assert m["matches_metadata_label"] and m["parent_ingredients"] == 1
    with c2pa.Reader(str(env / "o2" / "a.jpg")) as rd:
        assert len(json.loads(rd.json())["manifests"]) == 2  # the producer's manifest is still there


def test_format_where_the_label_would_break_is_refused(env: Path) -> None:
    src = make_sample("a.gif", env / "in")  # c2pa rewrites GIF blocks our digest covers
    r = runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out"), "--c2pa"])
    assert r.exit_code == 1 and "would break the metadata label" in r.output
    assert not (env / "out" / "a.gif").exists()


def test_truncated_files(env: Path) -> None:
    src = make_sample("a.png", env / "in")
    assert runner.invoke(app, ["label", "apply", str(src), "-o", str(env / "out"), "--c2pa"]).exit_code == 0
    signed = (env / "out" / "a.png").read_bytes()
    cut = env / "cut.png"
    cut.write_bytes(signed[: len(signed) // 2])  # the manifest store survives, the pixels do not
    code, [row] = _verify(str(cut))
    assert code == 1 and row["c2pa"]["validation_state"] == "Invalid"
    plain = env / "plain.png"
    plain.write_bytes(src.read_bytes()[:40])  # no manifest at all: only the metadata check speaks
    code, [row] = _verify(str(plain))
    assert code == 1 and row["c2pa"] is None and row["problems"]
