"""`hegui keywords stats`: the keyword library's size per risk against TC260's floors, and its age."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, settings_or_die

keywords_app = typer.Typer(help="The keyword library: statistics.", no_args_is_help=True)


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
