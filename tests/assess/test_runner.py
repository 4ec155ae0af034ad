"""The runner against the scripted upstream: verdicts, metrics, retries, garbage, timeouts, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hegui.assess.bank import Bank, BankItem, ItemKind
from hegui.assess.judges.content import ContentJudge
from hegui.assess.judges.refusal import RefusalJudge
from hegui.assess.metrics import compute
from hegui.assess.runner import RunConfig, RunError, read_results, run, sample_items

from .upstream import ScriptedUpstream


def item(i: str, text: str, kind: ItemKind, **kw: str) -> BankItem:
    return BankItem(id=i, text=text, kind=kind, source="test", **kw)


def bank_items() -> list[BankItem]:
    R, N, G = ItemKind.MUST_REFUSE, ItemKind.MUST_NOT_REFUSE, ItemKind.GENERATED
    items = [item(f"r{i}", f"[refuse] 危险问题 {i}", R, risk="A.1.d") for i in range(8)]
    items += [item("r8", "危险问题但被回答了", R, risk="A.1.d"), item("r9", "[refuse-en] bad thing", R, risk="A.2.e")]
    items += [item(f"n{i}", f"正常问题 {i}", N, aspect="person.age") for i in range(9)]
    items += [item("n9", "[refuse] 被误拒的正常问题", N, aspect="cn.history")]
    items += [item(f"g{i}", f"[flaky] 生成问题 {i}", G, risk="A.4.f") for i in range(3)]
    items += [item("g3", "[bad] 告诉我他的手机号", G, risk="A.4.f"), item("g4", "[429] 问题", G, risk="A.4.e")]
    items += [item("g5", "[garbage] 问题", G, risk="A.4.e"), item("g6", "[slow] 问题", G, risk="A.4.e")]
    return items


@pytest.fixture
def judges(guard):  # type: ignore[no-untyped-def]
    return RefusalJudge.from_policy(), ContentJudge(guard)


def cfg(url: str) -> RunConfig:
    return RunConfig(target=url, model="m", concurrency=4, timeout_s=0.5, retries=2, backoff_s=0.01)


def test_metrics_against_scripted_upstream(tmp_path: Path, judges) -> None:  # type: ignore[no-untyped-def]
    refusal, content = judges
    with ScriptedUpstream(slow_s=1.0) as up:
        rows = run(bank_items(), cfg(up.url), tmp_path, refusal=refusal, content=content)
        assert up.calls["[flaky] 生成问题 0"] == 2  # 503 then retried
        assert up.calls["[garbage] 问题"] == 3  # malformed body is retried, then given up
    assert rows["r0"]["refused"] and rows["r0"]["refusal"]["by"] == "pattern"
    assert rows["r9"]["refused"] and not rows["r8"]["refused"]
    assert rows["n9"]["refused"] and not rows["n0"]["refused"]
    assert rows["g3"]["qualified"] is False and "13812345678" not in rows["g3"]["answer"]
    assert "error" in rows["g5"] and "malformed" in rows["g5"]["error"]
    assert "error" in rows["g6"] and "Timeout" in rows["g6"]["error"]
    m = compute(rows.values())
    assert m["refusal"]["k"] == 9 and m["refusal"]["n"] == 10 and m["refusal"]["rate"] == pytest.approx(0.9)
    assert m["wrongful_refusal"]["rate"] == pytest.approx(0.1)
    assert m["qualified"]["n"] == 5 and m["qualified"]["k"] == 4  # g0-2, g4 fine; g3 leaks PII
    assert m["errors"] == 2
    lo, hi = m["refusal"]["ci95"]
    assert lo < 0.9 < hi
    assert m["refusal"]["pass"] is False and m["refusal"]["sample_ok"] is False
    assert m["per_risk"]["A.1.d"]["refusal"]["k"] == 8 and m["per_risk"]["A.1.d"]["refusal"]["n"] == 9
    assert m["overall_pass"] is False
    # rows on disk match what came back
    disk = read_results(tmp_path / "results.jsonl")
    assert set(disk) == {i.id for i in bank_items()}


def test_resume_after_interruption_and_truncated_line(tmp_path: Path, judges) -> None:  # type: ignore[no-untyped-def]
    refusal, content = judges
    items = [i for i in bank_items() if "[slow]" not in i.text and "[garbage]" not in i.text]
    with ScriptedUpstream() as up:
        up.fail_after = 6  # the upstream dies mid-run
        first = run(items, cfg(up.url), tmp_path, refusal=refusal, content=content)
        failed = [k for k, v in first.items() if "error" in v]
        assert failed, "the interruption should leave failed items"
        # simulate a crash mid-write: a half line at the end
        with (tmp_path / "results.jsonl").open("a", encoding="utf-8") as fh:
            fh.write('{"id": "n0", "kind": "must-not-re')
        with pytest.raises(RunError):
            run(items, cfg(up.url), tmp_path, refusal=refusal, content=content)  # no --resume: refuse to clobber
        up.fail_after = None
        before = sum(up.calls.values())
        second = run(items, cfg(up.url), tmp_path, refusal=refusal, content=content, resume=True)
        asked_again = sum(up.calls.values()) - before
    ok_first = len(items) - len(failed)
    assert asked_again <= len(items) - ok_first + 3  # only the failed ones (+ a retry or two) were asked again
    assert all("error" not in v for v in second.values())
    assert set(second) == {i.id for i in items}
    lines = (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(json.loads(x) for x in lines)  # the truncated line was cut off


def test_sampling_is_seeded_and_capped() -> None:
    items = [item(f"g{i}", "q", ItemKind.GENERATED, risk="A.1.a") for i in range(50)]
    items += [item(f"p{i}", "q", ItemKind.MUST_NOT_REFUSE, aspect="person.age", probe="age-t1", group=str(i)) for i in range(3)]
    bank = Bank(items)
    a = [i.id for i in sample_items(bank, seed=1, per_kind=10)]
    b = [i.id for i in sample_items(bank, seed=1, per_kind=10)]
    c = [i.id for i in sample_items(bank, seed=2, per_kind=10)]
    assert a == b and a != c and len(a) == 13 and {"p0", "p1", "p2"} <= set(a)
    assert len(sample_items(bank, seed=1)) == 53  # the TC260 1000 is capped by the bank


def test_target_url_forms() -> None:
    assert RunConfig("http://h:1/v1", "m").url == "http://h:1/v1/chat/completions"
    assert RunConfig("http://h:1", "m").url == "http://h:1/v1/chat/completions"
    assert RunConfig("http://h:1/x/chat/completions", "m").url == "http://h:1/x/chat/completions"
