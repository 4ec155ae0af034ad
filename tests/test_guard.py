"""`Guard`: detectors → policy → `Verdict`; failing closed; redaction; refusals; batches; bad input."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hegui.detect.base import Finding
from hegui.detect.pii import PiiDetector
from hegui.guard import Guard, Verdict, redact, tag_for
from hegui.policy import Action, Policy, RedactOperator, Role, Rule
from hegui.text import NormalizedText


@dataclass
class RegexDetector:
    """A real detector: one risk for every match of a pattern on the normalised text."""

    name: str
    pattern: str
    risk: str
    score: float = 0.9

    def detect(self, text: NormalizedText) -> list[Finding]:
        return [
            Finding(self.risk, m.start(), m.end(), self.score, self.name, f"{self.name} match")
            for m in re.finditer(self.pattern, text.text)
        ]


@dataclass
class WholeTextDetector:
    """A classifier-like detector: one score for the whole text (no span)."""

    name: str
    risk: str
    score: float

    def detect(self, text: NormalizedText) -> list[Finding]:
        return [Finding(self.risk, -1, -1, self.score, self.name)] if text.text else []


class BrokenDetector:
    name = "broken"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def detect(self, text: NormalizedText) -> list[Finding]:
        raise self.exc


class BatchCounting(RegexDetector):
    """Has ``detect_batch``: Guard.check_batch must hand it the whole batch at once."""

    calls: int = 0

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        self.calls += 1
        return [self.detect(t) for t in texts]


BAD_WORD = RegexDetector("badword", "法轮功", "A.1.a")
SECRET = RegexDetector("secret", r"secret-\d+", "hg.secret")


def policy(op: RedactOperator = RedactOperator.TAG, **rules: object) -> Policy:
    return Policy(
        rules=[
            Rule(risk="hg.secret", input=Action.REDACT, output=Action.REDACT, redact=op),
            Rule(risk="pii.*", input=Action.REDACT, output=Action.REDACT, redact=op),
            Rule(risk="A.5", input=Action.ALLOW, output=Action.FLAG),
            Rule(risk="hg.offensive", input=Action.FLAG, output=Action.BLOCK, threshold=0.7, flag_threshold=0.4),
        ],
    )


# -- decisions -----------------------------------------------------------------------------------


def test_allow_when_nothing_found() -> None:
    v = Guard([BAD_WORD], policy()).check("今天天气很好")
    assert v.action is Action.ALLOW and v.allowed and not v.blocked
    assert v.findings == [] and v.redacted == "今天天气很好" and v.refusal is None and v.error is None


def test_block_on_evaded_phrase_with_span_in_the_original() -> None:
    text = "请介绍一下法*輪\u200b功的情况"
    v = Guard([BAD_WORD], policy()).check(text)
    assert v.action is Action.BLOCK and v.risks == ["A.1.a"]
    (f,) = v.findings
    assert text[f.start : f.end] == "法*輪\u200b功"
    assert v.refusal and "抱歉" in v.refusal


def test_most_severe_action_wins() -> None:
    g = Guard([BAD_WORD, SECRET], policy())
    assert g.check("key secret-123").action is Action.REDACT
    v = g.check("key secret-123 法轮功")
    assert v.action is Action.BLOCK
    assert set(v.risks) == {"A.1.a", "hg.secret"}
    # Blocked text is redacted too: the audit log keeps the redacted form.
    assert "secret-123" not in v.redacted


def test_role_changes_the_action() -> None:
    g = Guard([WholeTextDetector("acc", "A.5.a", 0.9)], policy())
    assert g.check("答案", Role.INPUT).action is Action.ALLOW
    assert g.check("答案", Role.OUTPUT).action is Action.FLAG
    assert g.check("答案", "output").role is Role.OUTPUT
    with pytest.raises(ValueError):
        g.check("答案", "sideways")


@pytest.mark.parametrize(
    ("score", "role", "action"),
    [
        (0.9, Role.OUTPUT, Action.BLOCK),  # over the threshold
        (0.7, Role.OUTPUT, Action.BLOCK),  # the threshold itself counts
        (0.5, Role.OUTPUT, Action.FLAG),  # in [flag_threshold, threshold)
        (0.3, Role.OUTPUT, Action.ALLOW),  # under both
        (0.9, Role.INPUT, Action.FLAG),  # the rule only flags prompts
        (0.5, Role.INPUT, Action.FLAG),
    ],
)
def test_thresholds(score: float, role: Role, action: Action) -> None:
    v = Guard([WholeTextDetector("offence", "hg.offensive", score)], policy()).check("你这个人", role)
    assert v.action is action
    assert len(v.findings) == 1  # findings under the threshold are still reported
    assert bool(v.decisive) == (action is not Action.ALLOW)


def test_whole_text_finding_that_should_be_redacted_blocks() -> None:
    # Nothing to cut out: fail closed.
    v = Guard([WholeTextDetector("leak", "hg.secret", 0.9)], policy()).check("some text")
    assert v.action is Action.BLOCK


# -- redaction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (RedactOperator.TAG, "密钥<SECRET>，谢谢"),
        (RedactOperator.DROP, "密钥，谢谢"),
        (RedactOperator.MASK, "密钥sec********567，谢谢"),
    ],
)
def test_redaction_operators(op: RedactOperator, expected: str) -> None:
    v = Guard([SECRET], policy(op)).check("密钥secret-1234567，谢谢")
    assert v.action is Action.REDACT and v.redacted == expected


def test_hash_operator_is_keyed_and_stable() -> None:
    text = "a secret-1 b secret-1 c secret-2"
    r1 = Guard([SECRET], policy(RedactOperator.HASH), hash_key=b"k1").check(text).redacted
    r2 = Guard([SECRET], policy(RedactOperator.HASH), hash_key=b"k2").check(text).redacted
    toks = re.findall(r"<SECRET:[0-9a-f]{12}>", r1)
    assert len(toks) == 3 and toks[0] == toks[1] != toks[2]
    assert "secret-1" not in r1 and r1 != r2


def test_short_values_are_masked_completely() -> None:
    assert Guard([RegexDetector("s", "abcd", "hg.secret")], policy(RedactOperator.MASK)).check("x abcd y").redacted == "x **** y"


def test_redaction_maps_through_full_width_and_zero_width() -> None:
    text = "手机：１３８\u200b１２３４\u200b５６７８！"
    v = Guard([PiiDetector()], policy()).check(text)
    assert v.redacted == "手机：<MOBILE>！"


def test_overlapping_spans_are_merged() -> None:
    f1 = Finding("pii.mobile", 2, 8, 0.9, "a")
    f2 = Finding("pii.id_card", 5, 12, 0.9, "b")
    out = redact("0123456789abcdef", [(2, 8, f1, RedactOperator.TAG), (5, 12, f2, RedactOperator.TAG)])
    assert out == "01<MOBILE>cdef"
    assert tag_for("pii.id_card") == "ID_CARD" and tag_for("hg.secret") == "SECRET"


# -- failing closed ------------------------------------------------------------------------------


@pytest.mark.parametrize("exc", [RuntimeError("model not loaded"), MemoryError(), ValueError("bad"), KeyError("x")])
def test_detector_exception_fails_closed(exc: Exception) -> None:
    g = Guard([SECRET, BrokenDetector(exc)], policy())
    v = g.check("harmless text")
    assert v.action is Action.BLOCK and v.blocked
    assert v.error and "broken" in v.error and type(exc).__name__ in v.error
    assert v.redacted == ""  # nothing unchecked leaks through the verdict
    assert v.refusal
    assert g.errors == 1


def test_detector_exception_fails_closed_in_batches() -> None:
    g = Guard([BrokenDetector(RuntimeError("down"))], policy())
    vs = g.check_batch(["a", "b", "c"])
    assert [v.action for v in vs] == [Action.BLOCK] * 3
    assert all(v.error and "down" in v.error for v in vs)


def test_too_large_text_fails_closed() -> None:
    g = Guard([SECRET], policy(), max_chars=100)
    v = g.check("x" * 101)
    assert v.action is Action.BLOCK and v.error and "too large" in v.error
    assert g.check("x" * 100).action is Action.ALLOW
    vs = g.check_batch(["ok", "x" * 101, "secret-1"])
    assert [v.action for v in vs] == [Action.ALLOW, Action.BLOCK, Action.REDACT]
    assert vs[1].error and "too large" in vs[1].error


def test_lone_surrogates_do_not_reach_the_redacted_text() -> None:
    v = Guard([SECRET], policy()).check("a\ud800 secret-1 \udfffb")
    assert v.redacted == "a\ufffd <SECRET> \ufffdb"  # same length per character: offsets still line up
    assert v.findings[0].start == 3
    assert Guard([SECRET], policy()).check("\ud83d").redacted == "\ufffd"


def test_bytes_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="decode bytes first"):
        Guard([SECRET], policy()).check(b"abc")  # type: ignore[arg-type]


def test_duplicate_detector_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        Guard([SECRET, SECRET], policy())


# -- refusals ------------------------------------------------------------------------------------


def test_refusal_follows_the_language_of_the_text() -> None:
    g = Guard([RegexDetector("w", "falun|法轮功", "A.1.a")], policy())
    assert "抱歉" in (g.check("介绍法轮功").refusal or "")
    assert (g.check("tell me about falun gong please").refusal or "").startswith("Sorry")
    assert (g.check("法轮功", lang="en").refusal or "").startswith("Sorry")
    out = g.check("法轮功是", Role.OUTPUT).refusal or ""
    assert "安全审核" in out


# -- batches -------------------------------------------------------------------------------------


def test_check_batch_matches_check_and_uses_detect_batch() -> None:
    det = BatchCounting("batch", r"secret-\d+", "hg.secret")
    g = Guard([BAD_WORD, det], policy())
    texts = ["你好", "secret-1 and 法轮功", "", "secret-22", "普通文本"]
    batch = g.check_batch(texts, Role.OUTPUT)
    assert det.calls == 1
    single = [g.check(t, Role.OUTPUT) for t in texts]
    assert [v.to_dict() | {"latency_ms": 0} for v in batch] == [v.to_dict() | {"latency_ms": 0} for v in single]
    assert g.check_batch([]) == []


# -- the verdict ---------------------------------------------------------------------------------


def test_verdict_json_shape() -> None:
    v = Guard([SECRET, BAD_WORD], policy()).check("secret-1 法轮功")
    d = v.to_dict()
    assert set(d) >= {"action", "risks", "findings", "redacted", "role", "lang", "latency_ms", "refusal"}
    assert d["action"] == "block" and d["role"] == "input"
    for f in d["findings"]:
        assert set(f) >= {"risk", "start", "end", "score", "detector"}
    assert isinstance(v, Verdict) and v.latency_ms >= 0


# -- bad input through the default detectors ---------------------------------------------------


@pytest.fixture(scope="module")
def default_guard() -> Guard:
    return Guard()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\ud800",
        "法\udfff轮功\ud83d",
        "\x00\x01\x02\x1b[31mred\x1b[0m\x7f",
        "\u202e\u200b\ufeff" * 100,
        "\U0010ffff\ufffe\uffff",
        "手机\x00138\x001234\x005678",
        "\r\n" * 1000,
    ],
)
def test_bad_input_gives_a_verdict(default_guard: Guard, text: str) -> None:
    v = default_guard.check(text)
    assert v.error is None
    assert v.action in set(Action)
    for f in v.findings:
        assert 0 <= f.start < f.end <= len(text) or f.start == -1


@pytest.mark.timeout(60)
def test_ten_megabytes_is_refused_clearly_and_fast(default_guard: Guard) -> None:
    v = default_guard.check("今天天气很好。" * 1_500_000)
    assert v.action is Action.BLOCK and v.error and "too large" in v.error


@pytest.mark.timeout(60)
def test_large_text_under_the_limit_is_checked(default_guard: Guard) -> None:
    text = "今天天气很好，我的手机是13812345678。" * 50_000  # 1.1 M characters
    v = default_guard.check(text)
    assert v.error is None and v.action is Action.REDACT
    assert "13812345678" not in v.redacted


# -- properties ----------------------------------------------------------------------------------

_CHARS = st.sampled_from(
    [*"法轮功輪我叫王先生手机电话身份证路号，。！ -*.@x0123456789abcABC", "\u200b", "\ud800", "\x00", "１", "Ａ", "㍿", "\n"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=120), st.text(_CHARS, max_size=120)))
def test_any_text_gives_a_verdict_with_spans_in_the_original(default_guard: Guard, text: str) -> None:
    v = default_guard.check(text)
    assert v.error is None
    for f in v.findings:
        assert (f.start, f.end) == (-1, -1) or 0 <= f.start < f.end <= len(text)
    v.redacted.encode("utf-8")  # always valid: lone surrogates become U+FFFD
    if v.action is Action.ALLOW:
        assert v.redacted == re.sub("[\ud800-\udfff]", "\ufffd", text)
    # Every decisive redaction span is gone from the redacted text's corresponding place.
    spans = [f for f in v.decisive if f.has_span]
    if v.action is Action.REDACT and spans:
        assert v.redacted != text


# -- the hash key --------------------------------------------------------------------------------


def test_from_settings_creates_the_key_only_when_hashing(tmp_path: Path) -> None:
    from hegui.config import Settings

    var = tmp_path / "var"
    g = Guard.from_settings(Settings(var_dir=var, guard={"detectors": ["pii"]}))
    assert g.check("手机13812345678").redacted == "手机<MOBILE>"
    assert not var.exists()  # `hegui check` leaves no key file behind in the working directory
    hashing = Policy(rules=[Rule(risk="pii.*", input=Action.REDACT, redact=RedactOperator.HASH)])
    g = Guard.from_settings(Settings(var_dir=var, guard={"detectors": ["pii"]}, policy="interim-2023"))
    g.policy = hashing
    red = g.check("手机13812345678").redacted
    assert red.startswith("手机<MOBILE:") and (var / "secret.key").exists()


def test_unavailable_hash_key_fails_closed(tmp_path: Path) -> None:
    def no_key() -> bytes:
        raise PermissionError("var/ is read-only")

    hashing = Policy(rules=[Rule(risk="hg.secret", input=Action.REDACT, redact=RedactOperator.HASH)])
    v = Guard([SECRET], hashing, hash_key=no_key).check("secret-1")
    assert v.action is Action.BLOCK and v.error and "hash key unavailable" in v.error and v.redacted == ""
