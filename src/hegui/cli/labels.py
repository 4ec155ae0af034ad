"""`hegui label apply/read/verify/public-key` and `hegui verify`: GB 45438 labels on files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, settings_or_die

label_app = typer.Typer(help="Label generated files (GB 45438) and check labels.", no_args_is_help=True)

FilesArg = Annotated[list[Path], typer.Argument(help="Files, or directories (labelled recursively).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per file instead of text.")]
PubOpt = Annotated[
    Path | None,
    typer.Option(
        "--public-key", help="Verify with this published key (SM2: hex file; Ed25519: PEM) instead of ours."
    ),
]
AlgOpt = Annotated[str | None, typer.Option("--algorithm", help="Algorithm of --public-key: sm2 or ed25519.")]


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
    app.command("verify", help="Check the labels of files (same as `hegui label verify`).")(verify_cmd)


@label_app.command("apply")
def apply_cmd(
    files: FilesArg,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output directory (required unless --in-place).")
    ] = None,
    explicit: Annotated[bool, typer.Option("--explicit", help="Also add the visible/audible label.")] = False,
    watermark: Annotated[
        bool,
        typer.Option("--watermark", help="Images: also embed the invisible watermark (hash of ProduceID)."),
    ] = False,
    implicit: Annotated[
        bool, typer.Option("--implicit/--no-implicit", help="Write the metadata label.")
    ] = True,
    style: Annotated[str | None, typer.Option("--style", help="PNG: xmp|text; JPEG: xmp|exif.")] = None,
    label: Annotated[str, typer.Option("--label", help="1 generated, 2 possibly, 3 suspected.")] = "1",
    propagate: Annotated[
        bool,
        typer.Option(
            "--propagate",
            help="As a distributing platform: keep the producer's fields, write ours as propagator.",
        ),
    ] = False,
    c2pa: Annotated[
        bool,
        typer.Option("--c2pa", help="Also embed the label as a signed C2PA manifest (extra hegui[c2pa])."),
    ] = False,
    in_place: Annotated[bool, typer.Option("--in-place", help="Overwrite the input files.")] = False,
    sidecar: Annotated[
        bool, typer.Option("--sidecar", help="Leave files untouched; write FILE.aigc.json next to each.")
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Label files. Exit 0 when every file was labelled, 1 when any failed (failures are listed)."""
    from hegui.labels.aigc import LabelError
    from hegui.labels.files import iter_files, label_file, write_sidecar_file
    from hegui.labels.implicit import Labeller

    if out is None and not (in_place or sidecar):
        die("give --out DIR (or --in-place to overwrite the inputs, or --sidecar)")
    settings = settings_or_die(config)
    if c2pa:
        from hegui.labels import c2pa_manifest

        if not c2pa_manifest.available():
            die(c2pa_manifest.INSTALL_HINT)
        if sidecar:
            die("--c2pa embeds a manifest in the file; it cannot be combined with --sidecar")
        if not (settings.labels.c2pa_cert_path and settings.labels.c2pa_key_path):
            die("--c2pa needs labels.c2pa_cert_path and labels.c2pa_key_path (PEM certificate chain and key)")
    try:
        labeller = Labeller.from_settings(settings)
    except LabelError as e:
        die(str(e))
    if labeller.config.provider_code == "hegui-unconfigured":
        typer.echo(
            "warning: labels.provider_code is not set; labels name 'hegui-unconfigured' as the provider",
            err=True,
        )
    failed = 0
    for src in iter_files(files):
        root = next((f for f in files if f.is_dir() and src.is_relative_to(f)), None)
        rel = src.relative_to(root) if root else Path(src.name)
        try:
            if sidecar:
                side = write_sidecar_file(src, labeller)
                res = {"src": str(src), "sidecar": str(side)}
            else:
                dst = src if in_place else out / rel  # type: ignore[operator]
                r = label_file(src, dst, labeller, explicit=explicit, implicit=implicit, style=style,
                               label=label, as_propagator=propagate, watermark=watermark, c2pa=c2pa)  # fmt: skip
                res = {
                    "src": r.src,
                    "dst": r.dst,
                    "format": r.format,
                    "explicit": r.explicit,
                    "label": r.label,
                }
        except Exception as e:  # one bad file must not stop a batch; each failure is listed
            failed += 1
            msg = (
                str(e)
                if isinstance(e, LabelError)
                else f"{type(e).__name__}: {getattr(e, 'strerror', None) or e}"
            )
            if as_json:
                typer.echo(json.dumps({"src": str(src), "error": msg}, ensure_ascii=False))
            else:
                typer.echo(f"FAILED {src}: {msg}", err=True)
            continue
        if as_json:
            typer.echo(json.dumps(res, ensure_ascii=False))
        else:
            typer.echo(f"labelled {src} → {res.get('dst') or res.get('sidecar')}")
            note = (res.get("explicit") or {}).get("note")
            if note:
                typer.echo(f"    note: {note}", err=True)
    raise typer.Exit(1 if failed else 0)


@label_app.command("read")
def read_cmd(files: FilesArg, as_json: JsonOpt = False) -> None:
    """Print every AIGC label found in each file, as stored."""
    from hegui.labels.aigc import LabelError
    from hegui.labels.files import iter_files
    from hegui.labels.implicit import read

    bad = 0
    for f in iter_files(files):
        try:
            h, raw = read(f.read_bytes(), f.name)
            res = {"file": str(f), "format": h.name, "labels": raw}
        except (LabelError, OSError) as e:
            bad += 1
            res = {"file": str(f), "error": str(e)}
        if as_json:
            typer.echo(json.dumps(res, ensure_ascii=False))
        elif "error" in res:
            typer.echo(f"{f}: error: {res['error']}")
        else:
            typer.echo(
                f"{f} ({res['format']}): " + ("; ".join(res["labels"]) if res["labels"] else "no label")
            )
    raise typer.Exit(1 if bad else 0)


def _signer(settings, public_key: Path | None, algorithm: str | None):
    from hegui.labels.aigc import LabelError
    from hegui.labels.implicit import Labeller
    from hegui.labels.integrity import public_verifier

    try:
        if public_key is not None:
            return public_verifier(algorithm or settings.labels.algorithm, public_key.read_bytes())
        return Labeller.verifier_from_settings(settings)
    except (LabelError, OSError, ValueError) as e:
        die(f"cannot load the verification key: {e}")


@label_app.command("verify")
def verify_cmd(
    files: FilesArg,
    as_json: JsonOpt = False,
    public_key: PubOpt = None,
    algorithm: AlgOpt = None,
    explicit: Annotated[
        bool,
        typer.Option(
            "--explicit",
            help="Also look for explicit labels (images: hegui's visible badge; audio: the 短长短短 cue).",
        ),
    ] = False,
    c2pa: Annotated[
        bool | None,
        typer.Option(
            "--c2pa/--no-c2pa",
            help="Require a valid C2PA manifest (--c2pa) or skip it; default: report one when present.",
        ),
    ] = None,
    watermark: Annotated[
        bool,
        typer.Option("--watermark/--no-watermark", help="Images: look for the invisible watermark."),
    ] = True,
    config: ConfigOpt = None,
) -> None:
    """Check each file's label: present, single, fields and charset, signature, content hash.
    Exit 0 when every file conforms, 1 otherwise."""
    from hegui.labels.files import iter_files, verify_file
    from hegui.labels.watermark import DEFAULT_KEY

    settings = settings_or_die(config)
    signer = _signer(settings, public_key, algorithm)
    wm_key = (settings.labels.watermark_key or DEFAULT_KEY) if watermark else None
    bad = 0
    for f in iter_files(files):
        v = verify_file(f, signer, settings.labels.max_bytes, check_explicit=explicit,
                        watermark_key=wm_key, max_pixels=settings.labels.max_pixels, c2pa=c2pa,
                        c2pa_trust_anchors=settings.labels.c2pa_trust_anchors,
                        label_text=settings.labels.label_text)  # fmt: skip
        bad += not v.conforms
        if as_json:
            typer.echo(v.to_json())
            continue
        typer.echo(f"{'OK ' if v.conforms else 'BAD'} {f} ({v.format or '?'}): {len(v.labels)} label(s), "
                   f"signature {v.signature}, content {v.content}")  # fmt: skip
        if v.watermark is not None:
            typer.echo(f"    watermark: {_wm_text(v.watermark)}")
        if v.c2pa is not None:
            m = v.c2pa
            same = {True: ", same label as the metadata", False: ", DIFFERENT label", None: ""}
            typer.echo(f"    C2PA: {m['validation_state']}, AIGC label {'present' if m['aigc'] else 'absent'}"
                       f"{same[m.get('matches_metadata_label')]}")  # fmt: skip
        badge = v.explicit.get("image_label")
        if badge is not None:
            typer.echo("    visible label: " + (
                f"{badge['position']}, {badge['height_fraction']:.1%} of the short side, "
                f"confidence {badge['confidence']:.2f}" if badge["found"] else "none found"))  # fmt: skip
        for p in v.problems:
            typer.echo(f"    problem: {p}")
        for w in v.warnings:
            typer.echo(f"    note: {w}")
    raise typer.Exit(1 if bad else 0)


def _wm_text(w: dict) -> str:
    if "error" in w:
        return f"not checked ({w['error']})"
    if w.get("confidence", 0) < 0.5:
        return f"none found (confidence {w.get('confidence', 0):.2f})"
    m = w.get("matches_produce_id")
    tail = "" if m is None else (", matches the label's ProduceID" if m else ", DOES NOT match the label")
    return f"payload {w['payload']} (confidence {w['confidence']:.2f}, CRC {'ok' if w['crc_ok'] else 'bad'}){tail}"


@label_app.command("public-key")
def public_key_cmd(config: ConfigOpt = None) -> None:
    """Print the public key others need to verify this provider's labels (SM2 hex or Ed25519 PEM)."""
    from hegui.labels.aigc import LabelError
    from hegui.labels.implicit import Labeller
    from hegui.labels.integrity import public_key_text

    try:
        typer.echo(public_key_text(Labeller.from_settings(settings_or_die(config)).signer))
    except LabelError as e:
        die(str(e))
