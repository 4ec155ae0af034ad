"""The taxonomy: TC260-003's 31 risks with bilingual names, plus hegui's PII and extended ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hegui import taxonomy
from hegui.taxonomy import CATEGORIES, RISKS, Kind

SPEC = Path("/work/shared/spec/REGULATION.md")


def test_thirty_one_tc260_risks_in_five_categories() -> None:
    assert len(taxonomy.TC260_RISKS) == 31
    per_cat = {c: sum(1 for r in taxonomy.TC260_RISKS if r.startswith(c + ".")) for c in ("A.1", "A.2", "A.3", "A.4", "A.5")}
    assert per_cat == {"A.1": 8, "A.2": 9, "A.3": 5, "A.4": 7, "A.5": 2}
    assert taxonomy.TC260_RISKS[0] == "A.1.a" and taxonomy.TC260_RISKS[-1] == "A.5.b"
    assert len(taxonomy.MUST_REFUSE_RISKS) == 17


def test_ids_are_well_formed_and_categories_known() -> None:
    for rid, risk in RISKS.items():
        assert rid == risk.id
        assert risk.category in CATEGORIES
        if risk.kind is Kind.TC260:
            assert re.fullmatch(r"A\.[1-5]\.[a-i]", rid)
            assert risk.category == rid[:3]
            assert risk.parent is None and risk.tc260 == rid
        else:
            # Every hegui id rolls up to one of the 31 official risks, so reports can group by them.
            assert risk.parent in taxonomy.TC260_RISKS
            assert risk.tc260 == risk.parent


def test_every_risk_has_chinese_and_english_names() -> None:
    for risk in RISKS.values():
        assert re.search(r"[\u4e00-\u9fff]", risk.name_zh), risk.id
        assert risk.name_en.isascii() and risk.name_en[0].isupper(), risk.id
        assert risk.name("zh") == risk.name_zh and risk.name("en") == risk.name_en
        assert risk.name("zh-CN") == risk.name_zh
    for cat in CATEGORIES.values():
        assert cat.name_zh and cat.name_en


def test_hegui_extended_ids_named_by_the_issue() -> None:
    for rid in ("hg.prompt_injection", "hg.spam", "hg.malware", "hg.secret", "hg.trade_secret"):
        assert RISKS[rid].kind is Kind.HEGUI
    for rid in ("pii.id_card", "pii.mobile", "pii.landline", "pii.bank_card", "pii.email", "pii.ip_address",
                "pii.passport", "pii.hmt_permit", "pii.uscc", "pii.license_plate", "pii.address", "pii.person_name"):
        assert RISKS[rid].kind is Kind.PII and RISKS[rid].parent == "A.4.f"


def test_every_pii_recogniser_reports_a_known_risk() -> None:
    from hegui.detect.pii.recognizers import BUILTIN_RECOGNIZERS

    for cls in BUILTIN_RECOGNIZERS:
        assert taxonomy.is_known(cls.risk), cls.name


def test_lookup_helpers() -> None:
    assert taxonomy.get("A.1.d").name_en.startswith("Promotion of terrorism")
    with pytest.raises(taxonomy.UnknownRiskError, match=r"unknown risk id 'A\.9\.z'"):
        taxonomy.get("A.9.z")
    assert not taxonomy.is_known("A.9.z")
    assert taxonomy.in_category("A.5") == ("A.5.a", "A.5.b")
    assert "pii.mobile" in taxonomy.in_category("A.4.f")
    assert "A.4.f" in taxonomy.in_category("A.4.f")


@pytest.mark.skipif(not SPEC.exists(), reason="the shared specification is not mounted")
def test_chinese_names_match_the_specification_table() -> None:
    rows = re.findall(r"^\| (A\.[1-5]\.[a-i]) \| [^|]*\| ([^|]+?) \| ([^|]+?) \|", SPEC.read_text(encoding="utf-8"), re.M)
    assert len({r[0] for r in rows}) == 31
    for rid, zh, _en in rows:
        # The Chinese names are the standard's own; the English ones spell out abbreviations (IPR).
        assert RISKS[rid].name_zh == zh.strip(), rid
