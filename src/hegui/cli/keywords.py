"""`hegui keywords stats` (size per risk against TC260's floors, age) and `hegui keywords match` (which
terms fire on a text, for curating lists and explaining a block)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, settings_or_die

keywords_app = typer.Typer(help="The keyword library: statistics and matching.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keywords_app, name="keywords")


@keywords_app.command("stats")
def stats_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the shape `hegui report assessment --keywords` reads).")] = False,
    lang: Annotated[str, typer.Option("--lang", help="zh or en for the readable output.")] = "en",
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when a floor or the age limit is not met.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Count the configured library (shipped + extra lists) per TC260 risk against the floors."""
    from hegui.detect.keywords.detector import default_library_files
    from hegui.detect.keywords.lexicon import LexiconError
    from hegui.detect.keywords.stats import render_text, stats_for_files

    settings = settings_or_die(config)
    opts = settings.guard.options.get("keywords", {})
    use_default = opts.get("use_default_library", settings.keywords.use_default_library)
    extra = opts.get("extra", [str(p) for p in settings.keywords.extra])
    files = (default_library_files() if use_default else []) + list(extra)
    if not files:
        die("no keyword lexicon configured (use_default_library is false and keywords.extra is empty)")
    try:
        s = stats_for_files(files)
    except LexiconError as e:
        die(str(e))
    typer.echo(json.dumps(s, ensure_ascii=False, indent=1) if as_json else render_text(s, lang))
    if check and not s["ok"]:
        raise typer.Exit(1)


@keywords_app.command("match")
def match_cmd(
    text: Annotated[str, typer.Argument(help="Text to match; '-' reads one text per line from stdin.")],
    config: ConfigOpt = None,
) -> None:
    """Show every keyword occurrence in TEXT: the original span, the term's risk, strength, score and list.

    Unlike `hegui check`, this prints the matched text itself: it is for the people who curate the
    lists, run on their own examples. Exit 0 when nothing matched, 1 otherwise.
    """
    import sys

    from hegui.detect import DetectorRegistry
    from hegui.detect.keywords.lexicon import LexiconError
    from hegui.guard import _detector_options
    from hegui.text import normalize

    settings = settings_or_die(config)
    try:
        det = DetectorRegistry.create("keywords", **_detector_options(settings, "keywords"))
    except (LexiconError, ValueError) as e:
        die(str(e))
    texts = [line.rstrip("\n") for line in sys.stdin] if text == "-" else [text]
    found = False
    for t in texts:
        n = normalize(t)
        rows = []
        for f in det.detect(n):
            s, e = n.to_original(f.start, f.end)
            rows.append({"start": s, "end": e, "text": t[s:e], "risk": f.risk, "score": f.score, **f.meta})
        found = found or bool(rows)
        typer.echo(json.dumps({"matches": rows}, ensure_ascii=False))
    if found:
        raise typer.Exit(1)
