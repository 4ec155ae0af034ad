"""Label whole files: the visible/audible label (optional) then the signed implicit label.

The source file is only read; output goes to ``dst`` through a temporary file and an atomic rename,
so a failure never leaves a half-written output or touches the original (unless the caller passes
the same path on purpose).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hegui.labels.aigc import LabelError
from hegui.labels.formats import detect
from hegui.labels.implicit import SIDECAR_SUFFIX, Labeller, Verification, verify
from hegui.labels.integrity import Signer
from hegui.labels.text import TextLabelConfig, apply_label


@dataclass
class Labelled:
    src: str
    dst: str
    format: str
    explicit: dict[str, Any] | None = None
    label: dict[str, str] = field(default_factory=dict)


def _atomic_write(dst: Path, data: bytes, mode: int | None = None) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".hegui-", dir=dst.parent)
    if mode is None:  # mkstemp makes 0600; give the output the permissions a normal file gets
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path, labeller: Labeller) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise LabelError(f"{path}: no such file") from None
    if size > labeller.config.max_bytes:
        raise LabelError(f"{path}: {size} bytes is over labels.max_bytes={labeller.config.max_bytes}")
    return path.read_bytes()


def _explicit(
    data: bytes, name: str, src: Path, kind: str, labeller: Labeller, text_cfg: TextLabelConfig
) -> tuple[bytes, dict[str, Any]]:
    cfg = labeller.config
    if kind == "image":
        from hegui.labels.explicit.image import label_image_bytes

        return label_image_bytes(data, cfg), {"kind": "image", "text": cfg.label_text}
    if kind in ("video", "audio"):
        from hegui.labels.explicit import audio, video

        suffix = src.suffix.lower() or f".{name}"
        with tempfile.TemporaryDirectory(prefix="hegui-label-") as tmp:
            out = Path(tmp) / f"out{suffix}"
            try:
                info: dict[str, Any] = {"kind": "video", **video.label_video_file(src, out, cfg)}
            except LabelError as e:
                if "no video stream" not in str(e):
                    raise
                audio.label_audio_file(src, out)
                info = {"kind": "audio", "cue": "短长短短 (Morse AI)", "seconds": 1.6}
            return out.read_bytes(), info
    if kind == "text":
        text = data.decode("utf-8")
        if name == "markdown":
            return (text.rstrip("\n") + "\n\n" + text_cfg.suffix.strip() + "\n").encode(), {"kind": "text"}
        return apply_label(text, text_cfg).encode(), {"kind": "text", "suffix": text_cfg.suffix}
    return data, {
        "kind": None,
        "note": f"no visible label for {name} files: only the implicit label was written",
    }


def label_file(
    src: Path,
    dst: Path,
    labeller: Labeller,
    *,
    explicit: bool = False,
    implicit: bool = True,
    watermark: bool = False,
    style: str | None = None,
    label: str = "1",
    as_propagator: bool = False,
    text_cfg: TextLabelConfig | None = None,
    c2pa: bool = False,
) -> Labelled:
    """Label ``src`` into ``dst``; raises LabelError (with the reason) and writes nothing on failure."""
    data = _read(src, labeller)
    out, name, info, lab = label_bytes(
        data, src.name, labeller, explicit=explicit, implicit=implicit, watermark=watermark,
        style=style, label=label, as_propagator=as_propagator, text_cfg=text_cfg, src=src, c2pa=c2pa,
    )  # fmt: skip
    _atomic_write(dst, out, src.stat().st_mode & 0o777)
    return Labelled(str(src), str(dst), name, info, lab)


def label_bytes(
    data: bytes,
    filename: str,
    labeller: Labeller,
    *,
    explicit: bool = False,
    implicit: bool = True,
    watermark: bool = False,
    style: str | None = None,
    label: str = "1",
    as_propagator: bool = False,
    text_cfg: TextLabelConfig | None = None,
    src: Path | None = None,
    c2pa: bool = False,
) -> tuple[bytes, str, dict[str, Any] | None, dict[str, str]]:
    """Label in memory (the gateway's path): explicit label, then watermark, then the signed
    implicit label (whose content digest therefore covers the final pixels), then (``c2pa``) the
    signed C2PA manifest carrying the same label, last because its hard binding covers every other
    byte. Returns the bytes, the format name, what the explicit/watermark/C2PA steps did, and the
    implicit label's fields."""
    labeller.check_size(data)
    h = detect(data, filename)
    if c2pa:
        from hegui.labels import c2pa_manifest

        if not implicit:
            raise LabelError("--c2pa carries the metadata label: it cannot be combined with --no-implicit")
        if not c2pa_manifest.available():
            raise c2pa_manifest.C2PAUnavailable(c2pa_manifest.INSTALL_HINT)
    out = data
    info: dict[str, Any] | None = None
    if explicit:
        if src is None and h.kind in ("video", "audio"):  # ffmpeg needs a file
            with tempfile.TemporaryDirectory(prefix="hegui-label-") as tmp:
                p = Path(tmp) / (Path(filename).name or f"in.{h.name}")
                p.write_bytes(data)
                out, info = _explicit(data, h.name, p, h.kind, labeller, text_cfg or TextLabelConfig())
        else:
            out, info = _explicit(data, h.name, src or Path(filename), h.kind, labeller,
                                  text_cfg or TextLabelConfig())  # fmt: skip
    produce_id = None
    if watermark:
        out, produce_id, wm_info = _watermark(out, h, labeller, as_propagator)
        info = {**(info or {}), "watermark": wm_info}
    lab: dict[str, str] = {}
    if implicit:
        out, label_obj = labeller.apply(out, filename, label=label, produce_id=produce_id,
                                        as_propagator=as_propagator, style=style)  # fmt: skip
        lab = label_obj.to_dict()
        if c2pa:
            out = _c2pa(out, filename, h.name, label_obj, labeller, original=data)
            info = {**(info or {}), "c2pa": {"assertion": "hegui.aigc.gb45438",
                                             "algorithm": labeller.config.c2pa_algorithm}}  # fmt: skip
    return out, h.name, info, lab


def _c2pa(data: bytes, filename: str, fmt: str, label, labeller: Labeller, original: bytes) -> bytes:
    """Embed the C2PA manifest, then prove the metadata label still verifies (its content digest
    must leave the C2PA store out; fail closed for a format where it does not). An ``original``
    that arrived with a manifest becomes the new manifest's parent ingredient."""
    from hegui.labels import c2pa_manifest

    parent = original if c2pa_manifest.has_manifest(original, fmt) else None
    out = c2pa_manifest.embed(data, fmt, label, labeller.config, title=Path(filename).name, parent=parent)
    v = verify(out, filename, labeller.signer)
    if v.content != "match" or v.signature != "valid" or len(v.labels) != 1:
        raise LabelError(
            f"embedding the C2PA manifest in this {fmt} file would break the metadata label "
            f"(content {v.content}, signature {v.signature}); not written"
        )
    return out


def _watermark(data: bytes, h, labeller: Labeller, as_propagator: bool) -> tuple[bytes, str, dict[str, Any]]:
    """Embed the invisible watermark carrying a hash of the ProduceID the label will carry (the
    producer's, when a platform passes on an already labelled file)."""
    from hegui.labels import watermark as wm
    from hegui.labels.aigc import AIGCLabel, new_produce_id

    if h.kind != "image":
        raise LabelError(f"the invisible watermark applies to images only, not {h.name} files")
    produce_id = None
    if as_propagator:
        for raw in h.read(data):
            try:
                produce_id = AIGCLabel.from_json(raw).ProduceID
                break
            except LabelError:
                continue
    produce_id = produce_id or new_produce_id()
    cfg = labeller.config
    payload = wm.payload_for(produce_id)
    out = wm.embed(data, payload, key=cfg.watermark_key or wm.DEFAULT_KEY, psnr=cfg.watermark_psnr,
                   max_pixels=cfg.max_pixels)  # fmt: skip
    return out, produce_id, {"payload": payload.hex(), "psnr_target": cfg.watermark_psnr}


def write_sidecar_file(src: Path, labeller: Labeller) -> Path:
    from hegui.labels.implicit import write_sidecar

    lab = write_sidecar(_read(src, labeller), labeller)
    side = src.with_name(src.name + SIDECAR_SUFFIX)
    _atomic_write(side, (lab.to_json() + "\n").encode())
    return side


def verify_file(
    path: Path,
    signer: Signer | None,
    max_bytes: int,
    check_explicit: bool = False,
    watermark_key: str | None = None,
    max_pixels: int = 100_000_000,
    c2pa: bool | None = None,
    c2pa_trust_anchors: Path | None = None,
    label_text: str | None = None,
) -> Verification:
    """Verify one file's implicit label; with ``watermark_key`` also look for the invisible
    watermark in images (``hegui.labels.watermark.DEFAULT_KEY`` for hegui's public default).
    ``c2pa``: None reads a C2PA manifest when c2pa-python is installed; True also requires one
    (and says so when the extra is missing); False skips it. With ``check_explicit`` images are
    searched for the visible label ``label_text`` (hegui's badge)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Verification(
                str(path), None, problems=[f"{size} bytes is over labels.max_bytes={max_bytes}"]
            )
        data = path.read_bytes()
    except OSError as e:
        return Verification(str(path), None, problems=[f"cannot read: {e.strerror}"])
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    sidecar = side.read_text(encoding="utf-8").strip() if side.exists() else None
    v = verify(data, path.name, signer, sidecar=sidecar)
    v.file = str(path)
    audio_only = v.format in ("wav", "mp3", "flac", "ogg") or (
        v.format == "mp4" and path.suffix.lower() == ".m4a"
    )
    if check_explicit and audio_only:
        _check_audio_cue(path, v)
    if check_explicit and v.format in ("png", "jpeg", "webp", "tiff", "gif"):
        check_visible_label(data, v, label_text, max_pixels)
    if c2pa is not False:
        check_c2pa(data, v, required=bool(c2pa), trust_anchors=c2pa_trust_anchors)
    if watermark_key is not None and v.format in ("png", "jpeg", "webp", "tiff", "gif"):
        check_watermark(data, v, watermark_key, max_pixels)
    return v


def check_c2pa(data: bytes, v: Verification, required: bool, trust_anchors: Path | None = None) -> None:
    """Report the C2PA manifest: its validation state, the AIGC label in it and whether that is the
    metadata label. An invalid manifest, or one whose AIGC label differs from the metadata label,
    makes the file non-conforming (one of the two was altered or copied)."""
    from hegui.labels import c2pa_manifest

    if not c2pa_manifest.available():
        if required:
            v.problems.append(f"cannot check the C2PA manifest: {c2pa_manifest.INSTALL_HINT}")
            v.conforms = False
        return
    if v.format is None:
        return
    try:
        m = c2pa_manifest.read(data, v.format, trust_anchors)
    except LabelError as e:
        v.problems.append(str(e))
        v.conforms = False
        return
    if m is None:
        if required:
            v.problems.append("no C2PA manifest in the file")
            v.conforms = False
        return
    if m["validation_state"] not in ("Valid", "Trusted"):
        v.problems.append(f"the C2PA manifest does not validate ({', '.join(m['failures']) or 'invalid'})")
        v.conforms = False
    elif m["validation_state"] == "Valid":
        v.warnings.append(
            "the C2PA signer is not in labels.c2pa_trust_anchors (manifest intact, signer unknown)"
        )
    meta = next((lab.fields for lab in v.labels if lab.fields), None)
    if m["aigc"] is None:
        m["matches_metadata_label"] = None
        v.warnings.append("the C2PA manifest carries no AIGC label (not written by hegui)")
    else:
        m["matches_metadata_label"] = meta is not None and m["aigc"] == meta
        if meta is not None and not m["matches_metadata_label"]:
            v.problems.append("the AIGC label in the C2PA manifest differs from the metadata label")
            v.conforms = False
    v.c2pa = m


def check_visible_label(data: bytes, v: Verification, text: str | None, max_pixels: int) -> None:
    """Look for hegui's visible badge (Measures Art. 6(3): platforms check explicit labels)."""
    from hegui.labels.explicit.detect import detect_badge

    try:
        found = detect_badge(data, text, max_pixels=max_pixels)
    except LabelError as e:
        v.warnings.append(f"could not look for the visible label: {e}")
        return
    v.explicit["image_label"] = found
    if not found["found"]:
        v.warnings.append("no visible AI label (hegui's badge) found on an edge or corner")


def check_watermark(data: bytes, v: Verification, key: str, max_pixels: int) -> None:
    """Report the invisible watermark: its payload, confidence and whether it carries the hash of
    the label's ProduceID. Its absence is not a problem (the watermark is optional, Measures Art. 5);
    a confident watermark that disagrees with the label is, because the label was then replaced or
    copied from another file."""
    from hegui.labels import watermark as wm

    try:
        e = wm.extract(data, key=key, max_pixels=max_pixels)
    except LabelError as err:
        v.watermark = {"found": False, "error": str(err)}
        return
    info = e.to_dict()
    pid = next((lab.fields.get("ProduceID") for lab in v.labels if lab.fields), None)
    if pid is not None and e.confidence >= 0.5:
        info["matches_produce_id"] = wm.matches(e.payload, wm.payload_for(pid))
        if not info["matches_produce_id"]:
            v.problems.append(
                "the invisible watermark carries a different ProduceID than the label "
                "(label replaced or copied from another image)"
            )
            v.conforms = False
    elif pid is None and e.found:
        v.warnings.append("an invisible AIGC watermark was found but the metadata label is missing")
    v.watermark = info


def _check_audio_cue(path: Path, v: Verification) -> None:
    """Look for the 短长短短 cue at the start (Measures Art. 6(3): platforms check explicit labels)."""
    from hegui.labels.explicit.audio import decode_start, detect_cue

    try:
        found = detect_cue(decode_start(path), 16000)
    except LabelError as e:
        v.warnings.append(f"audio could not be decoded to look for the audible label: {e}")
        return
    v.explicit["audio_cue"] = found
    if not found:
        v.warnings.append("no audible label (短长短短 rhythm) at the start")


def iter_files(paths: list[Path]) -> list[Path]:
    """Files named, and the files under directories named (sorted, hidden and sidecars skipped)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and not f.name.endswith(SIDECAR_SUFFIX)
            )  # fmt: skip
        else:
            out.append(p)
    return out
