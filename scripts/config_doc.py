"""Regenerate the reference part of docs/configuration.md from `hegui.config.Settings`.

Every field of every section is listed with its environment variable, default and the comment
written above it in the source, so the page cannot drift from the code (re-run after adding a
field):

    .venv/bin/python scripts/config_doc.py            # rewrites docs/configuration.md in place
    .venv/bin/python scripts/config_doc.py --check    # exit 1 if the page is out of date
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
import textwrap
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from hegui.config import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
BEGIN, END = "<!-- BEGIN GENERATED: scripts/config_doc.py -->", "<!-- END GENERATED -->"


def comments(cls: type) -> dict[str, str]:
    """Field name → the comment lines above it (and any trailing comment), from the class source."""
    try:
        src = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = src.splitlines()
    out: dict[str, str] = {}
    for node in ast.parse(src).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text: list[str] = []
            i = node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#"):
                text.insert(0, lines[i].strip().lstrip("#").strip())
                i -= 1
            line = lines[node.lineno - 1]
            if "  # " in line:
                text.append(line.split("  # ", 1)[1].strip())
            out[node.target.id] = " ".join(text)
    return out


def _default(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, SecretStr):
        return "(secret)"
    if isinstance(v, Enum):
        return f"`{v.value}`"
    if isinstance(v, Path):
        return f"`{v.as_posix()}`"
    if isinstance(v, str):
        return f"`{v}`" if v else '`""`'
    if isinstance(v, BaseModel):
        return "(section)"
    return f"`{v!r}`".replace("|", "\\|")


def rows(cls: type[BaseModel], path: list[str]) -> list[tuple[list[str], str, str]]:
    """(path, default, meaning) for every leaf field, nested sections flattened."""
    out: list[tuple[list[str], str, str]] = []
    notes = comments(cls)
    for name, f in cls.model_fields.items():
        ann = f.annotation
        p = [*path, name]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(rows(ann, p))
            continue
        default = f.get_default(call_default_factory=True)
        meaning = (notes.get(name) or f.description or "").replace("|", "\\|")
        out.append((p, _default(default), meaning))
    return out


def render() -> str:
    parts = [BEGIN, ""]
    by_section: dict[str, list[tuple[list[str], str, str]]] = {}
    for p, d, m in rows(Settings, []):
        by_section.setdefault(p[0] if len(p) > 1 else "(top level)", []).append((p, d, m))
    for section, items in by_section.items():
        parts += [f"### `{section}`" if section != "(top level)" else "### Top level", "",
                  "| key | environment variable | default | meaning |", "|---|---|---|---|"]
        for p, d, m in items:
            env = "HEGUI_" + "__".join(x.upper() for x in p)
            parts.append(f"| `{'.'.join(p)}` | `{env}` | {d} | {m} |")
        parts.append("")
    parts.append(END)
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        sys.exit(f"{DOC} lacks the generated-section markers")
    new = text[: text.index(BEGIN)] + render() + text[text.index(END) + len(END) :]
    if args.check:
        sys.exit(0 if new == text else 1)
    DOC.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
