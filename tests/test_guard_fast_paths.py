"""`Guard.decide`'s fast paths (no findings, rule values kept across calls) and `Verdict.risks`
give exactly what the plain code gives: the reference below is `decide` as it was before them."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hegui.detect.base import Finding
from hegui.guard import _SURROGATE, Guard, Verdict, redact
from hegui.policy import Action, Policy, RedactOperator, Role, Rule
from hegui.text import NormalizedText, normalize

RISKS = ("A.1.a", "A.5.a", "hg.secret", "pii.mobile", "pii.email", "hg.offensive", "B.2.c")


def policy(op: RedactOperator = RedactOperator.TAG, threshold: float = 0.7) -> Policy:
    return Policy(
        rules=[
            Rule(risk="hg.secret", input=Action.REDACT, output=Action.REDACT, redact=op),
            Rule(risk="pii.*", input=Action.REDACT, output=Action.REDACT, redact=op),
            Rule(risk="A.5", input=Action.ALLOW, output=Action.FLAG),
            Rule(risk="hg.offensive", input=Action.FLAG, output=Action.BLOCK, threshold=threshold, flag_threshold=0.4),
        ],
    )


def reference_decide(guard: Guard, norm: NormalizedText, findings: list[Finding], role: Role, lang: str) -> Verdict:
    """`Guard.decide` before the fast paths (rules looked up per call, no early return)."""
    if norm.is_identity:
        mapped = list(findings)
    else:
        mapped = [f.with_span(*norm.to_original(f.start, f.end)) if f.has_span else f for f in findings]
    action = Action.ALLOW
    decisive: list[Finding] = []
    redact_spans: list[tuple[int, int, Finding, RedactOperator]] = []
    rules: dict[str, tuple[Action, float, float | None, RedactOperator]] = {}
    for f in mapped:
        r = rules.get(f.risk)
        if r is None:
            rule = guard.policy.rule_for(f.risk)
            r = rules[f.risk] = (rule.action_for(role), rule.threshold, rule.flag_threshold, rule.redact)
        act, threshold, flag_threshold, op = r
        if f.score >= threshold:
            pass
        elif flag_threshold is not None and f.score >= flag_threshold and act is not Action.ALLOW:
            act = Action.FLAG
        else:
            continue
        if act is Action.ALLOW:
            continue
        decisive.append(f)
        if act is Action.REDACT:
            if f.has_span:
                redact_spans.append((f.start, f.end, f, op))
            else:
                act = Action.BLOCK
        if act.severity > action.severity:
            action = act
    if not redact_spans:
        redacted = norm.original
    else:
        uses_key = any(op is RedactOperator.HASH for *_, op in redact_spans)
        key = guard.hash_key if uses_key else b""
        redacted = redact(norm.original, redact_spans, key)
    if not norm.surrogate_free and _SURROGATE.search(redacted) is not None:
        redacted = _SURROGATE.sub("\ufffd", redacted)
    refusal = guard.policy.refusal_message(role, lang) if action is Action.BLOCK else None
    mapped.sort(key=lambda f: (f.start, -f.score))
    return Verdict(action, mapped, redacted, role, lang, refusal, None, 0.0, decisive)


def key(v: Verdict) -> tuple[object, ...]:
    """Everything but the latency; ``risks`` as the plain expression computes it."""
    want_risks = list(dict.fromkeys(f.risk for f in v.decisive))
    assert v.risks == want_risks
    return (v.action, v.findings, v.redacted, v.role, v.lang, v.refusal, v.error, v.decisive, v.risks)


_TEXTS = ("", "今天天气很好", "手机：１３８　１２３４\u200b５６７８", "a\ud800b secret-12 法*輪\u200b功", "ｓｅｃｒｅｔ-99 邮箱 x@y.cn", "abc")


def random_findings(rng: random.Random, norm: NormalizedText) -> list[Finding]:
    n = len(norm.text)
    out = []
    for _ in range(rng.choice((0, 0, 1, 2, 5))):
        risk = rng.choice(RISKS)
        if n and rng.random() < 0.7:
            s = rng.randrange(n)
            e = rng.randrange(s, n + 1)
        else:
            s = e = -1
        score = rng.choice((0.0, 0.39, 0.4, 0.5, 0.69, 0.7, 0.9, 1.0, rng.random()))
        out.append(Finding(risk, s, e, score, "t", "ev", {"k": 1}))
    return out


def test_decide_equals_the_reference_on_random_findings() -> None:
    rng = random.Random(7)
    policies = [policy(), policy(RedactOperator.HASH), policy(RedactOperator.MASK, threshold=0.5)]
    guard = Guard([], policies[0], hash_key=b"k")
    for i in range(3000):
        if i % 97 == 0:  # a swapped policy must not be decided with the old one's rules
            guard.policy = rng.choice(policies)
        text = rng.choice(_TEXTS) + rng.choice(_TEXTS)
        norm = normalize(text)
        role = rng.choice((Role.INPUT, Role.OUTPUT))
        lang = rng.choice(("zh", "en"))
        found = random_findings(rng, norm)
        got = guard.decide(norm, list(found), role, lang)
        assert key(got) == key(reference_decide(guard, norm, list(found), role, lang)), (text, found, role)


def test_rule_values_follow_a_replaced_rules_list_and_default() -> None:
    p = policy()
    guard = Guard([], p)
    norm = normalize("x")
    hit = [Finding("hg.offensive", -1, -1, 0.6, "t")]
    assert guard.decide(norm, hit, Role.OUTPUT, "en").action is Action.FLAG
    p.rules = [Rule(risk="hg.offensive", input=Action.BLOCK, output=Action.BLOCK, threshold=0.5)]
    assert guard.decide(norm, hit, Role.OUTPUT, "en").action is Action.BLOCK
    other = [Finding("B.2.c", -1, -1, 0.6, "t")]
    assert guard.decide(norm, other, Role.OUTPUT, "en").action is Action.BLOCK
    p.default = Rule(risk="*", input=Action.ALLOW, output=Action.ALLOW)
    assert guard.decide(norm, other, Role.OUTPUT, "en").action is Action.ALLOW
    for f, role in ((hit, Role.INPUT), (other, Role.INPUT), (hit, Role.OUTPUT)):
        assert key(guard.decide(norm, f, role, "en")) == key(reference_decide(guard, norm, f, role, "en"))


@pytest.mark.parametrize("text", ["", "plain", "a\ud800b", "\udfff", "全角ＡＢＣ\u200b"])
def test_no_findings_fast_path_equals_the_reference(text: str) -> None:
    guard = Guard([], policy())
    for norm in (normalize(text), NormalizedText(text, text)):
        for role in Role:
            got = guard.decide(norm, [], role, "zh")
            assert key(got) == key(reference_decide(guard, norm, [], role, "zh"))
            assert got.findings == [] and got.decisive == [] and got.action is Action.ALLOW


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40), st.integers(0, 2**32 - 1))
def test_decide_equals_the_reference_on_arbitrary_text(text: str, seed: int) -> None:
    rng = random.Random(seed)
    guard = Guard([], policy(RedactOperator.HASH), hash_key=b"k")
    norm = normalize(text)
    for role in Role:
        found = random_findings(rng, norm)
        assert key(guard.decide(norm, list(found), role, "en")) == key(
            reference_decide(guard, norm, list(found), role, "en")
        )
