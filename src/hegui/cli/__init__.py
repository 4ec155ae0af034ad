"""The `hegui` command line. Thin: every command calls a library function.

Each command group lives in its own module with a ``register(app)`` function; heavy imports happen
inside the commands so that `hegui check` starts fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="hegui",
    help="合规 hegui — compliance for generative-AI services (China's Generative AI Measures).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES: tuple[str, ...] = ("check", "keywords", "serve", "keys", "console", "db", "audit", "scan", "assess", "train", "annotation", "labels",
                                   "complaints")

for _name in COMMAND_MODULES:
    importlib.import_module(f"hegui.cli.{_name}").register(app)


def main() -> None:
    app()
