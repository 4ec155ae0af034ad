"""The AIGC label as a signed C2PA manifest (optional extra ``hegui[c2pa]``, c2pa-python).

Why: platforms outside China read C2PA ("Content Credentials"), not GB 45438's ``AIGC`` field, so
the same statement goes into a manifest they recognise: a ``c2pa.actions`` assertion whose
``c2pa.created`` action has ``digitalSourceType`` trainedAlgorithmicMedia, and the custom assertion
``ASSERTION`` holding the AIGC label (the seven fields, exactly as in the metadata label).

Order: the C2PA manifest is embedded **last**, after the visible label, watermark and metadata
label. Its hard binding hashes every byte but its own store, so nothing may change after it; and
the metadata label's content digest leaves the C2PA store out (PNG ``caBX``, JPEG APP11 JUMBF,
WebP/WAV ``C2PA`` chunks), so embedding the manifest does not break the metadata label either.
`embed` checks that after writing and fails closed for a format where it would not hold.

Signing is offline: a certificate chain (end-entity first, with a C2PA-usable extended key usage
such as emailProtection or documentSigning; C2PA refuses self-signed signing certificates) and its
private key from the ``labels`` settings; no timestamp authority is contacted.
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from hegui.labels.aigc import AIGCLabel, LabelError
from hegui.labels.config import LabelsConfig

ASSERTION = "hegui.aigc.gb45438"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PARENT_ID = "hegui-parent"
INSTALL_HINT = "C2PA needs the optional extra: pip install 'hegui[c2pa]' (the c2pa-python package)"
# hegui format name → the MIME type c2pa-python takes.
MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "pdf": "application/pdf",
}


class C2PAUnavailable(LabelError):
    """c2pa-python is not installed."""


def available() -> bool:
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return False
    return True


def _lib():
    try:
        import c2pa
    except ImportError:
        raise C2PAUnavailable(INSTALL_HINT) from None
    return c2pa


def manifest_definition(label: AIGCLabel, title: str, mime: str, edit: bool = False) -> dict[str, Any]:
    """The manifest: created by a trained model, plus the AIGC label as a custom assertion. For a
    file that arrived with a manifest (a platform passing content on, ``edit``), the input is the
    parent ingredient and the actions say it was opened and its metadata edited."""
    from hegui import __version__

    if edit:
        actions = [{"action": "c2pa.opened", "parameters": {"ingredientIds": [PARENT_ID]}},
                   {"action": "c2pa.edited.metadata", "digitalSourceType": TRAINED}]  # fmt: skip
    else:
        actions = [{"action": "c2pa.created", "digitalSourceType": TRAINED}]

    return {
        "claim_generator_info": [{"name": "hegui", "version": __version__}],
        "title": title,
        "format": mime,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": actions},
            },
            {"label": ASSERTION, "data": {"AIGC": label.to_dict()}},
        ],
    }


def _read_pem(path: Path | None, what: str) -> bytes:
    if path is None:
        raise LabelError(f"C2PA signing needs labels.{what} (a PEM file)")
    try:
        return path.read_bytes()
    except OSError as e:
        raise LabelError(f"cannot read labels.{what} {path}: {e.strerror}") from None


def embed(
    data: bytes, fmt: str, label: AIGCLabel, cfg: LabelsConfig, title: str = "", parent: bytes | None = None
) -> bytes:
    """``data`` with a signed C2PA manifest carrying ``label``; raises LabelError with the reason.
    ``parent``: the file as received, when it carried a C2PA manifest; it becomes the parent
    ingredient so the producer's manifest stays in the history instead of being dropped."""
    c2pa = _lib()
    mime = MIME.get(fmt)
    if mime is None:
        raise LabelError(f"C2PA manifests are not supported for {fmt} files here ({', '.join(MIME)})")
    cert = _read_pem(cfg.c2pa_cert_path, "c2pa_cert_path")
    key = _read_pem(cfg.c2pa_key_path, "c2pa_key_path")
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(cfg.c2pa_algorithm.encode(), cert, key, None))
        title = title or f"generated.{fmt}"
        builder = c2pa.Builder(manifest_definition(label, title, mime, edit=parent is not None),
                               context=_builder_context())  # fmt: skip
        if parent is not None:
            builder.add_ingredient(
                {"title": title, "relationship": "parentOf", "label": PARENT_ID}, mime, io.BytesIO(parent)
            )
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
    except c2pa.C2paError as e:
        raise LabelError(f"C2PA signing failed ({type(e).__name__}): {str(e)[:300]}") from None
    return out.getvalue()


def _builder_context():
    """No thumbnail in the manifest: the label is the point, and c2pa's default JPEG thumbnail adds
    about 200 KB to a 1024² image (3 KB without)."""
    c2pa = _lib()
    return c2pa.Context(
        settings=c2pa.Settings.from_json(json.dumps({"builder": {"thumbnail": {"enabled": False}}}))
    )


@lru_cache(maxsize=8)
def _context(anchors: bytes | None):
    c2pa = _lib()
    if not anchors:
        return None
    settings = {"verify": {"verify_trust": True}, "trust": {"trust_anchors": anchors.decode()}}
    return c2pa.Context(settings=c2pa.Settings.from_json(json.dumps(settings)))


def has_manifest(data: bytes, fmt: str) -> bool:
    """Whether ``data`` carries a C2PA manifest store (valid or not)."""
    c2pa = _lib()
    mime = MIME.get(fmt)
    if mime is None:
        return False
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data))
    except c2pa.C2paError:
        return True  # a store is there, just not readable: still keep it as the parent
    if reader is None:
        return False
    reader.close()
    return True


def read(data: bytes, fmt: str, trust_anchors: Path | None = None) -> dict[str, Any] | None:
    """The active C2PA manifest, summarised: None when the file has none.

    ``validation_state`` is c2pa's: Invalid, Valid (signature and hashes check out, signer not in
    the trust anchors) or Trusted; ``failures`` lists the failure codes; ``aigc`` is the label in
    our assertion (None when the manifest has no such assertion)."""
    c2pa = _lib()
    mime = MIME.get(fmt)
    if mime is None:
        return None
    try:
        anchors = trust_anchors.read_bytes() if trust_anchors else None
    except OSError as e:
        raise LabelError(f"cannot read labels.c2pa_trust_anchors: {e.strerror}") from None
    ctx = _context(anchors)
    try:
        kw = {"context": ctx} if ctx is not None else {}
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, **kw)
        if reader is None:
            return None
        with reader:
            manifest = reader.get_active_manifest() or {}
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as e:
        if b"jumb" not in data or b"c2pa" not in data:
            return None  # a damaged file without a manifest store: the metadata check reports it
        return {"present": True, "validation_state": "Invalid", "trusted": False,
                "failures": [f"unreadable: {str(e)[:200]}"], "aigc": None,
                "digital_source_type": None}  # fmt: skip
    codes = [f.get("code", "?") for f in (results.get("activeManifest") or {}).get("failure", [])]
    # An unknown signer is not a broken manifest: it is what "Valid" (vs "Trusted") already says.
    failures = [c for c in codes if c != "signingCredential.untrusted"]
    aigc = None
    source = None
    for a in manifest.get("assertions", []):
        if a.get("label") == ASSERTION:
            aigc = (a.get("data") or {}).get("AIGC")
        elif str(a.get("label", "")).startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions", []):
                source = source or act.get("digitalSourceType")
    parents = [i.get("title") for i in manifest.get("ingredients", []) if i.get("relationship") == "parentOf"]
    sig = manifest.get("signature_info") or {}
    return {
        "present": True,
        "validation_state": state,
        "trusted": state == "Trusted",
        "failures": failures,
        "digital_source_type": source,
        "aigc": aigc,
        "issuer": sig.get("issuer"),
        "common_name": sig.get("common_name"),
        "claim_generator": (manifest.get("claim_generator_info") or [{}])[0].get("name"),
        "parent_ingredients": len(parents),
    }
