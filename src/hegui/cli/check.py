"""`hegui check`: the verdict for one text or a stream of texts, as JSON lines."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn

import typer

BATCH = 256


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    text: Annotated[str, typer.Argument(help='The text to check, or "-" to read one text per line (or JSONL with a "text" field) from stdin.')],
    role: Annotated[str, typer.Option("--role", "-r", help="input (a prompt) or output (a model answer).")] = "input",
    pretty: Annotated[bool, typer.Option("--pretty", help="A readable table instead of JSON.")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config YAML (default: $HEGUI_CONFIG).")] = None,
    policy: Annotated[str | None, typer.Option("--policy", "-p", help="Policy preset or YAML file.")] = None,
) -> None:
    """Check text against the policy. Exit 0: all allowed; 1: something blocked; 2: error."""
    from hegui.config import ConfigError, load_settings
    from hegui.guard import Guard
    from hegui.policy import PolicyError, Role

    try:
        role_ = Role(role)
    except ValueError:
        _die(f"--role must be 'input' or 'output', not {role!r}")
    if text != "-" and not _encodable(text):
        # The shell passed bytes that are not UTF-8 (Python keeps them as lone surrogates).
        _die("the text argument is not valid UTF-8; re-encode it, or pipe it through stdin with -")
    try:
        settings = load_settings(config, **({"policy": policy} if policy else {}))
        guard = Guard.from_settings(settings)
    except (ConfigError, PolicyError) as e:
        _die(str(e))
    except Exception as e:  # an unknown detector name, bad detector options, a missing model
        _die(f"cannot set up the checks: {type(e).__name__}: {e}")

    try:
        raise typer.Exit(_run(guard, text, role_, pretty))
    except BrokenPipeError:
        # The reader went away (`hegui check - < big | head`): stop quietly, as other tools do.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the interpreter's final flush is silent
        raise typer.Exit(1) from None


def _run(guard: Any, text: str, role_: Any, pretty: bool) -> int:
    """Check the argument or every stdin line; return the exit status."""
    out = sys.stdout
    status = 0
    if text != "-":
        v = guard.check(text, role_)
        return _emit(out, v.to_dict(), pretty)

    for batch in _batches(_read_stdin(sys.stdin.buffer, _max_line_bytes(guard.max_chars))):
        good = [(i, t, extra) for i, t, extra, err in batch if err is None]
        verdicts = guard.check_batch([t for _, t, _ in good], role_)
        results: dict[int, dict[str, Any]] = {}
        for (i, _, extra), v in zip(good, verdicts, strict=True):
            results[i] = {**extra, **v.to_dict()}
        for i, _, extra, err in batch:
            if err is not None:
                results[i] = {**extra, "line": i, "error": err}
        for i, _, _, _ in batch:
            status = max(status, _emit(out, results[i], pretty))
        out.flush()
    return status


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _max_line_bytes(max_chars: int) -> int:
    """The longest stdin line worth reading: a JSON-escaped astral character takes 12 bytes."""
    return 12 * max_chars + 1024


def _lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """(line, 0) per line, or (b"", size) for a line over ``max_bytes``, skipped without holding it.

    Why bounded: one line of a few gigabytes (a file with no newlines piped in by mistake) would
    otherwise be read whole, decoded and only then refused, and could exhaust memory.
    """
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        if len(raw) <= max_bytes or raw.endswith(b"\n"):
            yield raw, 0
            continue
        size = len(raw)
        while True:
            chunk = stream.readline(1 << 20)
            size += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield b"", size


def _read_stdin(stream: IO[bytes], max_bytes: int = 1 << 62) -> Iterator[tuple[int, str, dict[str, Any], str | None]]:
    """(line number, text, fields to echo, error) per input line; bad lines carry an error, never stop the stream."""
    for n, (raw, oversize) in enumerate(_lines(stream, max_bytes), start=1):
        if oversize:
            yield n, "", {}, f"line {n} is too large ({oversize:,} bytes, more than guard.max_chars allows); split it"
            continue
        line_b = raw.rstrip(b"\r\n")
        try:
            line = line_b.decode("utf-8")
        except UnicodeDecodeError as e:
            yield n, "", {}, f"line {n} is not valid UTF-8 (byte {e.start}); re-encode the input as UTF-8"
            continue
        if n == 1 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield n, line, {}, None  # a text that happens to start with "{"
                continue
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                extra = {k: obj[k] for k in ("id",) if k in obj}
                yield n, obj["text"], extra, None
                continue
            if isinstance(obj, dict):
                yield n, "", {}, f'line {n} is a JSON object without a string "text" field'
                continue
        yield n, line, {}, None


def _batches(items: Iterator[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for it in items:
        batch.append(it)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _emit(out: IO[str], result: dict[str, Any], pretty: bool) -> int:
    if ("error" in result and "action" not in result) or result.get("error"):
        code = 2
    else:
        code = 1 if result.get("action") == "block" else 0
    if pretty:
        _print_pretty(result)
    else:
        line = json.dumps(result, ensure_ascii=False)
        if not _encodable(line):
            # A JSONL input may carry a lone surrogate ("\\ud800"); echoing it raw is not UTF-8,
            # so this line is written with JSON escapes instead (still valid JSON, same value).
            line = json.dumps(result)
        out.write(line + "\n")
    return code


def _print_pretty(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    result = _displayable(result)
    if "action" not in result:
        console.print(f"[red]error:[/] {result['error']}")
        return
    colour = {"allow": "green", "flag": "yellow", "redact": "cyan", "block": "red"}[result["action"]]
    console.print(f"[bold {colour}]{result['action']}[/]  risks: {', '.join(result['risks']) or '-'}")
    if result.get("error"):
        console.print(f"[red]error:[/] {result['error']}")
    if result["findings"]:
        table = Table("risk", "start", "end", "score", "detector", "evidence")
        for f in result["findings"]:
            table.add_row(f["risk"], str(f["start"]), str(f["end"]), f"{f['score']:.2f}", f["detector"], f.get("evidence", ""))
        console.print(table)
    console.print(f"redacted: {result['redacted']}")


def _displayable(value: Any) -> Any:
    """``value`` with lone surrogates shown as U+FFFD, so the terminal table never fails to encode."""
    if isinstance(value, str):
        return value if _encodable(value) else value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {k: _displayable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_displayable(v) for v in value]
    return value


def _die(msg: str) -> NoReturn:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)
