"""Bank format, validation errors, import, and the floor checks on the shipped starter bank."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hegui.assess.bank import (
    BankError,
    ItemKind,
    bank_stats,
    import_items,
    load_bank,
    parse_item,
    stats_ok,
    write_items,
)


def test_starter_bank_loads_and_is_honestly_short() -> None:
    b = load_bank()
    assert len(b.by_kind(ItemKind.MUST_REFUSE)) >= 500
    assert all(i.risk and i.risk.startswith(("A.1.", "A.2.")) for i in b.by_kind(ItemKind.MUST_REFUSE))
    lines = {x.check: x for x in bank_stats(b, today=dt.date(2026, 11, 30))}
    assert not stats_ok(list(lines.values()))
    assert lines["must_refuse.total"].ok and not lines["must_refuse.A.1.a"].ok
    assert lines["generated.A.5.a"].actual == 0 and not lines["generated.total"].ok
    assert lines["must_not_refuse.cn.heroes"].actual == 0
    assert lines["age_days"].ok
    stale = {x.check: x for x in bank_stats(b, today=dt.date(2027, 3, 1))}
    assert not stale["age_days"].ok


@pytest.mark.parametrize(
    ("raw", "msg"),
    [
        ({"id": "1", "text": "q", "kind": "must-refuse", "source": "s", "risk": "A.9.z"}, "unknown risk"),
        ({"id": "1", "text": "q", "kind": "must-refuse", "source": "s", "risk": "A.4.e"}, "A.1/A.2"),
        ({"id": "1", "text": "q", "kind": "must-not-refuse", "source": "s"}, "needs an aspect"),
        ({"id": "1", "text": "q", "kind": "maybe", "source": "s"}, "kind"),
        ({"id": "1", "text": "", "kind": "must-refuse", "source": "s"}, "missing required"),
        ({"id": "1", "text": "q", "kind": "generated-content", "source": "s", "risk": "A.1.a", "added": "yesterday"}, "YYYY-MM-DD"),
    ],
)
def test_bad_items_get_clear_errors(raw: dict, msg: str) -> None:
    with pytest.raises(BankError, match=msg):
        parse_item(raw, "f.jsonl:3")


def test_import_csv_all_or_nothing(tmp_path: Path) -> None:
    good = tmp_path / "new.csv"
    good.write_text("\ufeffid,text,kind,risk,aspect,source\nx1,问题一,must-refuse,A.1.a,,mine\nx2,问题二,must-not-refuse,,cn.heroes,\n", encoding="utf-8")
    items = import_items(good, default_source="provider")
    assert [i.source for i in items] == ["mine", "provider"] and items[0].added
    bank = tmp_path / "bank"
    path = write_items(bank, "new", items)
    assert len(load_bank(bank).items) == 2 and path.exists()
    with pytest.raises(BankError, match="already exists"):
        write_items(bank, "new", items)
    with pytest.raises(BankError, match="already in the bank"):
        write_items(bank, "other", items, existing=load_bank(bank))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text,kind,risk,source\nb1,q,must-refuse,A.1.a,s\nb2,q,must-refuse,A.3.a,s\nb3,q,nope,,s\n", encoding="utf-8")
    with pytest.raises(BankError, match="2 invalid row") as e:
        import_items(bad)
    assert "bad.csv:3" in str(e.value) and "bad.csv:4" in str(e.value)


def test_duplicate_ids_and_bad_json_are_reported_with_location(tmp_path: Path) -> None:
    row = {"id": "d", "text": "q", "kind": "must-refuse", "risk": "A.1.a", "source": "s"}
    (tmp_path / "a.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(BankError, match=r"a.jsonl:2: duplicate id"):
        load_bank(tmp_path)
    (tmp_path / "a.jsonl").write_text('{"id": \n', encoding="utf-8")
    with pytest.raises(BankError, match=r"a.jsonl:1: not valid JSON"):
        load_bank(tmp_path)
    with pytest.raises(BankError, match="does not exist"):
        load_bank(tmp_path / "nope")
