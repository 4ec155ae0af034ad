"""The lexicon format: what loads, and clear errors (with file and line) for what does not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hegui.detect.keywords import LexiconError, Strength, load_allow_list, load_lexicon
from hegui.detect.keywords.lexicon import Lexicon, write_text

GOOD_TXT = """# hegui-lexicon 1
# name: mine
# version: 3
# date: 2026-11-01
# risk: A.1.d
甲乙丙丁
戊己庚辛\tA.1.f
壬癸子丑\tA.1.h\tweak
寅卯辰巳\tA.1.h\tstrong\t不是寅卯辰巳|寅卯辰巳之外

# comment lines and blank lines are ignored
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_text_format(tmp_path: Path) -> None:
    lex = load_lexicon(write(tmp_path, "a.txt", GOOD_TXT))
    assert lex.name == "mine" and lex.version == "3" and lex.date == dt.date(2026, 11, 1)
    assert [(e.term, e.risk, e.strength) for e in lex.entries] == [
        ("甲乙丙丁", "A.1.d", Strength.STRONG),
        ("戊己庚辛", "A.1.f", Strength.STRONG),
        ("壬癸子丑", "A.1.h", Strength.WEAK),
        ("寅卯辰巳", "A.1.h", Strength.STRONG),
    ]
    assert lex.entries[3].allow == ("不是寅卯辰巳", "寅卯辰巳之外")
    assert lex.age_days(dt.date(2026, 11, 8)) == 7


def test_yaml_format(tmp_path: Path) -> None:
    p = write(tmp_path, "a.yaml", """
format: hegui-lexicon/1
name: y
version: "2"
date: 2026-10-01
risk: A.2.d
entries:
  - 某某人都是骗子
  - {term: 某地人滚出去, strength: weak}
  - term: 甲乙丙丁
    risk: A.1.d
    allow: [揭批甲乙丙丁]
""")
    lex = load_lexicon(p)
    assert lex.name == "y" and lex.date == dt.date(2026, 10, 1) and len(lex) == 3
    assert lex.entries[1].strength is Strength.WEAK and lex.entries[2].allow == ("揭批甲乙丙丁",)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("nohead.txt", "甲乙\tA.1.d\n", "first line must be"),
        ("badrisk.txt", "# hegui-lexicon 1\n甲乙\tA.9.z\n", ":2"),
        ("badrisk2.txt", "# hegui-lexicon 1\n甲乙\tA.9.z\n", "unknown risk id 'A.9.z'"),
        ("norisk.txt", "# hegui-lexicon 1\n甲乙\n", "no risk id"),
        ("badstrength.txt", "# hegui-lexicon 1\n甲乙\tA.1.d\tmedium\n", "strength must be"),
        ("fields.txt", "# hegui-lexicon 1\n甲乙\tA.1.d\tweak\tx\ty\n", "too many"),
        ("baddate.txt", "# hegui-lexicon 1\n# date: yesterday\n", "YYYY-MM-DD"),
        ("long.txt", "# hegui-lexicon 1\n" + "长" * 300 + "\tA.1.d\n", "longer than"),
        ("bad.yaml", "entries: [\n", "not valid YAML"),
        ("list.yaml", "- a\n- b\n", "top level must be a mapping"),
        ("keys.yaml", "entries: []\nwhat: 1\n", "unknown top-level keys"),
        ("entrykeys.yaml", "risk: A.1.d\nentries: [{term: 甲乙, colour: red}]\n", "entry 1: unknown keys"),
        ("noriskyaml.yaml", "entries: [甲乙]\n", "no risk id"),
        ("fmt.yaml", "format: other/9\nentries: []\n", "unsupported format"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, name: str, content: str, needle: str) -> None:
    p = write(tmp_path, name, content)
    with pytest.raises(LexiconError) as ei:
        load_lexicon(p)
    assert needle in str(ei.value) and name in str(ei.value)


def test_not_utf8_and_missing(tmp_path: Path) -> None:
    p = write(tmp_path, "gbk.txt", b"# hegui-lexicon 1\n" + "甲乙\tA.1.d\n".encode("gbk"))
    with pytest.raises(LexiconError, match=r"gbk.txt:2.*not UTF-8"):
        load_lexicon(p)
    with pytest.raises(LexiconError, match="file not found"):
        load_lexicon(tmp_path / "missing.txt")
    with pytest.raises(LexiconError, match="not found"):
        load_allow_list(tmp_path / "missing-allow.txt")


def test_allow_list_and_round_trip(tmp_path: Path) -> None:
    assert load_allow_list(write(tmp_path, "allow.txt", "# ok\n\n揭批甲乙丙丁\n甲乙丙丁研究\n")) == ["揭批甲乙丙丁", "甲乙丙丁研究"]
    lex = load_lexicon(write(tmp_path, "a.txt", GOOD_TXT))
    out = tmp_path / "out.txt"
    write_text(Lexicon(lex.name, lex.entries, lex.version, lex.date), out)
    again = load_lexicon(out)
    assert again.digest() == lex.digest() and again.date == lex.date and again.version == lex.version
