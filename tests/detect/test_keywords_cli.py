"""`hegui keywords stats`: counts against TC260 floors, age, and the JSON the assessment report reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from hegui.assess.conformance import FAIL, OK, evaluate
from hegui.cli import app
from hegui.detect.keywords.lexicon import Lexicon, parse_text
from hegui.detect.keywords.stats import library_stats, render_text

runner = CliRunner()


def test_shipped_library_meets_the_floors() -> None:
    r = runner.invoke(app, ["keywords", "stats", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["total"] >= 10_000 and s["strong"] + s["weak"] == s["total"]
    floors = {f["name"]: f for f in s["floors"]}
    for rid in ("A.1.a", "A.1.b", "A.1.c", "A.1.d", "A.1.e", "A.1.f", "A.1.g", "A.1.h"):
        assert floors[rid]["required"] == 200 and floors[rid]["ok"], floors[rid]
    for rid in ("A.2.a", "A.2.b", "A.2.c", "A.2.d", "A.2.e", "A.2.f", "A.2.g", "A.2.h", "A.2.i"):
        assert floors[rid]["required"] == 100 and floors[rid]["ok"], floors[rid]
    assert floors["update_age_days"]["required"] == 7 and s["age_days"] is not None
    # The assessment report's 8.1 clause reads this shape directly.
    clause = {c.clause: c for c in evaluate({"keywords": s, "facts": {}})}["8.1"]
    assert clause.status == (OK if s["ok"] else FAIL)


def test_readable_output_and_check_exit(tmp_path: Path) -> None:
    old = tmp_path / "old.txt"
    old.write_text("# hegui-lexicon 1\n# date: 2020-01-01\n甲乙丙丁\tA.1.d\n戊己庚辛\thg.gambling\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"keywords:\n  use_default_library: false\n  extra: ['{old}']\n", encoding="utf-8")
    r = runner.invoke(app, ["keywords", "stats", "--config", str(cfg)])
    assert r.exit_code == 0 and "FAIL total" in r.output and "Floors NOT met" in r.output
    r = runner.invoke(app, ["keywords", "stats", "--config", str(cfg), "--check", "--json"])
    assert r.exit_code == 1
    s = json.loads(r.output)
    # hegui ids count under their TC260 parent; the age reflects the list's date.
    assert s["per_risk"]["A.1.h"]["total"] == 1 and s["per_risk"]["A.1.d"]["total"] == 1 and s["age_days"] > 7
    clause = {c.clause: c for c in evaluate({"keywords": s, "facts": {}})}["8.1"]
    assert clause.status == FAIL
    bad = tmp_path / "bad.txt"
    bad.write_text("no header\n", encoding="utf-8")
    cfg.write_text(f"keywords:\n  use_default_library: false\n  extra: ['{bad}']\n", encoding="utf-8")
    r = runner.invoke(app, ["keywords", "stats", "--config", str(cfg)])
    assert r.exit_code == 2 and "bad.txt:1" in r.output


def test_stats_dedupe_and_floors() -> None:
    body = "# hegui-lexicon 1\n# date: 2026-11-20\n" + "".join(f"词{i:05d}\tA.1.a\n" for i in range(200))
    body += "词00000\tA.1.a\tweak\n"  # a duplicate: counted once, strong wins
    body += "詞00001\tA.1.a\n词\u200b00002\tA.1.a\n"  # the same terms once normalised (traditional, zero-width)
    lex = parse_text(body, "x.txt")
    s = library_stats([lex, Lexicon("empty")], today=dt.date(2026, 11, 27))
    assert s["per_risk"]["A.1.a"] == {**s["per_risk"]["A.1.a"], "total": 200, "strong": 200, "weak": 0, "ok": True}
    assert s["age_days"] == 7 and {f["name"]: f["ok"] for f in s["floors"]}["update_age_days"] is True
    assert not s["ok"] and "A.1.b" in render_text(s) and "关键词库" in render_text(s, "zh")


def test_match_shows_terms_and_spans(tmp_path: Path) -> None:
    lex = tmp_path / "mine.txt"
    lex.write_text("# hegui-lexicon 1\n独角兽饼干\tA.1.h\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"keywords:\n  use_default_library: false\n  extra: ['{lex}']\n  cache_dir: '{tmp_path / 'c'}'\n", encoding="utf-8")
    r = runner.invoke(app, ["keywords", "match", "买独角 兽饼干吗", "--config", str(cfg)])
    assert r.exit_code == 1
    (m,) = json.loads(r.output)["matches"]
    assert (m["start"], m["end"], m["text"], m["risk"], m["strength"]) == (1, 7, "独角 兽饼干", "A.1.h", "strong")
    r = runner.invoke(app, ["keywords", "match", "-", "--config", str(cfg)], input="番茄炒蛋\n今天\n")
    assert r.exit_code == 0 and r.output.count('{"matches": []}') == 2
