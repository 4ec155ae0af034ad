"""Implicit labels on whole files: apply (sign + write, replacing any label), read, verify.

Works on bytes; the CLI and gateway do the file I/O, and the original is never modified in place
unless the caller asks. Sizes are checked before any parsing so a huge input fails fast.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hegui.labels import integrity
from hegui.labels.aigc import AIGCLabel, LabelError, first_write, propagate
from hegui.labels.config import LabelsConfig
from hegui.labels.formats import FormatError, Handler, detect
from hegui.labels.integrity import Signer

SIDECAR_SUFFIX = ".aigc.json"


@dataclass
class Labeller:
    """Provider identity and signing key, from the ``labels`` settings."""

    config: LabelsConfig
    signer: Signer

    @classmethod
    def from_settings(cls, settings: Any) -> Labeller:
        cfg: LabelsConfig = settings.labels
        key_path = cfg.key_path or Path(settings.var_dir) / "labels" / f"{cfg.algorithm}.key"
        secret = settings.key_bytes() if cfg.algorithm == "hmac-sha256" else None
        return cls(cfg, integrity.load_signer(cfg.algorithm, key_path, secret))

    @staticmethod
    def verifier_from_settings(settings: Any) -> Signer | None:
        """The configured key for checking signatures, or None when no key was ever created
        (verifying must not mint a new key as a side effect)."""
        cfg: LabelsConfig = settings.labels
        key_path = cfg.key_path or Path(settings.var_dir) / "labels" / f"{cfg.algorithm}.key"
        if cfg.algorithm != "hmac-sha256" and not key_path.exists():
            return None
        return Labeller.from_settings(settings).signer

    def check_size(self, data: bytes) -> None:
        if len(data) > self.config.max_bytes:
            raise LabelError(
                f"file is {len(data)} bytes, over the limit of {self.config.max_bytes} (labels.max_bytes)"
            )

    def apply(
        self,
        data: bytes,
        filename: str = "",
        *,
        label: str = "1",
        produce_id: str | None = None,
        as_propagator: bool = False,
        style: str | None = None,
    ) -> tuple[bytes, AIGCLabel]:
        """``data`` with exactly one signed label.

        As producer: a first-write label (ReservedCode1 signed). As propagator (a platform passing
        content on): the producer's fields and ReservedCode1 are kept, ours go into
        ContentPropagator/PropagateID and ReservedCode2 is signed; a file without a label gets a
        first-write label with ``label`` ("2"/"3" for possibly/suspected AI).
        """
        self.check_size(data)
        h = detect(data, filename)
        try:
            return self._apply(h, data, label, produce_id, as_propagator, style)
        except LabelError:
            raise
        except Exception as e:  # a parser tripping on damaged input: fail closed, say what and where
            raise FormatError(f"{h.name} file is damaged: {type(e).__name__}: {str(e)[:200]}") from None

    def _apply(
        self,
        h: Handler,
        data: bytes,
        label: str,
        produce_id: str | None,
        as_propagator: bool,
        style: str | None,
    ) -> tuple[bytes, AIGCLabel]:
        existing = _parse_first(h.read(data)) if as_propagator else None
        if existing is not None:
            lab = propagate(existing, self.config.provider_code)
        else:
            lab = first_write(self.config.provider_code, produce_id, label)
        write = _writer(h, style)
        # Digest the label-free content of the written file, then write the signed label over it:
        # robust even where writing normalises the container (remuxing, ZIP rewriting).
        staged = write(data, lab.to_json())
        digest = integrity.content_digest(h.content(staged), self.signer.algorithm)
        if existing is not None:
            lab = integrity.sign_propagator(lab, digest, self.signer)
        else:
            lab = integrity.sign_producer(lab, digest, self.signer)
        return write(staged, lab.to_json()), lab


def _writer(h: Handler, style: str | None):
    if style is None:
        return h.write
    if h.name not in ("png", "jpeg"):
        raise LabelError(f"--style applies to PNG and JPEG only, not {h.name}")
    allowed = {"png": ("xmp", "text"), "jpeg": ("xmp", "exif")}[h.name]
    if style not in allowed:
        raise LabelError(f"{h.name} label style must be one of {', '.join(allowed)}")
    from hegui.labels.formats import jpeg, png

    mod = png if h.name == "png" else jpeg
    return lambda d, v: mod.write(d, v, style=style)


def _parse_first(raw: list[str]) -> AIGCLabel | None:
    for r in raw:
        try:
            return AIGCLabel.from_json(r)
        except LabelError:
            continue
    return None


@dataclass
class FoundLabel:
    raw: str
    fields: dict[str, str] | None
    problems: list[str]


@dataclass
class Verification:
    """One file's verdict: ``conforms`` is False whenever ``problems`` is not empty."""

    file: str
    format: str | None
    labels: list[FoundLabel] = field(default_factory=list)
    conforms: bool = False
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signature: str = "absent"
    content: str = "unknown"
    # Explicit labels found, when asked for (e.g. {"audio_cue": True}).
    explicit: dict[str, Any] = field(default_factory=dict)
    # Invisible watermark found in an image (payload, confidence, matches_produce_id), when checked.
    watermark: dict[str, Any] | None = None
    # C2PA manifest found (validation state, the AIGC label inside, matches the metadata label).
    c2pa: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def read(data: bytes, filename: str = "") -> tuple[Handler, list[str]]:
    h = detect(data, filename)
    return h, h.read(data)


def verify(
    data: bytes, filename: str = "", signer: Signer | None = None, sidecar: str | None = None
) -> Verification:
    """Everything a distribution platform needs to know about one file's implicit label. Never
    raises on bad input: a file that cannot be parsed is reported as not conforming."""
    try:
        return _verify(data, filename, signer, sidecar)
    except Exception as e:  # fail closed: an unexpected parser error must not pass or crash a batch
        return Verification(
            filename, None, problems=[f"file could not be checked: {type(e).__name__}: {str(e)[:200]}"]
        )


def _verify(data: bytes, filename: str, signer: Signer | None, sidecar: str | None) -> Verification:
    v = Verification(file=filename, format=None)
    try:
        h = detect(data, filename)
        v.format = h.name
        raw = h.read(data)
    except (FormatError, LabelError) as e:
        v.problems.append(str(e))
        return v
    if not raw and sidecar is not None:
        raw = [sidecar]
        v.warnings.append("label read from the sidecar file, not from the file itself")
    if not raw:
        v.problems.append("no AIGC implicit label in the file metadata (GB 45438 §6.1)")
        return v
    if len(raw) > 1:
        v.problems.append(f"{len(raw)} AIGC labels found; GB 45438 §6.1 c) allows only one per file")
    parsed: list[AIGCLabel] = []
    for r in raw:
        try:
            lab = AIGCLabel.from_json(r)
            probs = lab.problems()
            parsed.append(lab)
            v.labels.append(FoundLabel(r, lab.to_dict(), probs))
            v.problems += [f"label field {p}" for p in probs]
        except LabelError as e:
            v.labels.append(FoundLabel(r, None, [str(e)]))
            v.problems.append(str(e))
    if parsed:
        lab = parsed[0]
        rc1 = integrity.parse_code(lab.ReservedCode1)
        algs = {c.algorithm for c in (rc1, integrity.parse_code(lab.ReservedCode2)) if c}
        try:
            contents = b"".join(h.content(data)) if not sidecar else data
            digests = {a: integrity.content_digest([contents], a) for a in algs}
        except (FormatError, LabelError) as e:
            v.problems.append(str(e))
            digests = {}
        res = integrity.check(lab, digests, signer)
        v.signature, v.content = res.signature, res.content
        hard = [
            p
            for p in res.problems
            if not p.startswith(("no ", "ReservedCode1 was not", "ReservedCode1 is empty"))
        ]
        v.problems += hard
        v.warnings += [p for p in res.problems if p not in hard]
    v.conforms = not v.problems
    return v


def write_sidecar(data: bytes, labeller: Labeller, produce_id: str | None = None) -> AIGCLabel:
    """A signed label for a file that must stay byte-identical; stored next to it by the caller."""
    labeller.check_size(data)
    lab = first_write(labeller.config.provider_code, produce_id)
    digest = integrity.content_digest([data], labeller.signer.algorithm)
    return integrity.sign_producer(lab, digest, labeller.signer)
