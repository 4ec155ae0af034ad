"""Policies: presets, inheritance, rule matching, thresholds, roles and loading errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hegui.policy import Action, Policy, PolicyError, RedactOperator, Role, Rule, load_policy, preset_names


def test_presets_ship_and_draft_extends_interim() -> None:
    assert {"draft-2023", "interim-2023"} <= set(preset_names())
    draft, interim = load_policy("draft-2023"), load_policy("interim-2023")
    assert draft.name == "draft-2023" and interim.name == "interim-2023"
    # The draft is the interim content rules plus stricter service duties.
    assert [r.model_dump() for r in draft.rules] == [r.model_dump() for r in interim.rules]
    assert draft.default == interim.default
    assert draft.duties.require_real_name and not interim.duties.require_real_name
    assert draft.duties.anti_addiction_scope == "all" and interim.duties.anti_addiction_scope == "minors"
    assert draft.duties.optimisation_deadline_days == 90 and interim.duties.optimisation_deadline_days is None
    # Duties the draft does not override come from the parent.
    assert draft.duties.strikes_consecutive == interim.duties.strikes_consecutive


def test_default_policy_is_the_draft() -> None:
    assert load_policy().name == "draft-2023"
    assert load_policy(None).duties.require_real_name


@pytest.mark.parametrize("preset", ["draft-2023", "interim-2023"])
def test_preset_decisions(preset: str) -> None:
    p = load_policy(preset)
    # Personal information is redacted, never blocked.
    assert p.rule_for("pii.mobile").action_for(Role.INPUT) is Action.REDACT
    assert p.rule_for("pii.id_card").action_for(Role.OUTPUT) is Action.REDACT
    assert p.rule_for("hg.secret").action_for(Role.OUTPUT) is Action.REDACT
    # The 17 must-refuse risks block in both directions.
    from hegui.taxonomy import MUST_REFUSE_RISKS

    for rid in MUST_REFUSE_RISKS:
        rule = p.rule_for(rid)
        assert rule.action_for(Role.INPUT) is Action.BLOCK and rule.action_for(Role.OUTPUT) is Action.BLOCK, rid
    # Accuracy (A.5) cannot be judged from a prompt: allowed in, flagged out.
    assert p.rule_for("A.5.a").action_for(Role.INPUT) is Action.ALLOW
    assert p.rule_for("A.5.b").action_for(Role.OUTPUT) is Action.FLAG
    # Prompt injection blocks prompts, only flags answers.
    assert p.rule_for("hg.prompt_injection").action_for(Role.INPUT) is Action.BLOCK
    assert p.rule_for("hg.prompt_injection").action_for(Role.OUTPUT) is Action.FLAG


def test_rule_matching_by_id_category_and_glob() -> None:
    assert Rule(risk="A.1.d").matches("A.1.d")
    assert not Rule(risk="A.1.d").matches("A.1.e")
    assert Rule(risk="A.2").matches("A.2.e")  # a category
    assert not Rule(risk="A.2").matches("A.1.a")
    assert not Rule(risk="A.2").matches("hg.nonexistent")  # unknown ids never match a category
    assert Rule(risk="PII").matches("pii.email")  # hegui's PII category
    assert Rule(risk="pii.*").matches("pii.email")
    assert Rule(risk="A.1.[a-c]").matches("A.1.b") and not Rule(risk="A.1.[a-c]").matches("A.1.d")
    assert Rule(risk="*").matches("anything")


def test_first_matching_rule_wins_then_default() -> None:
    p = Policy(
        rules=[Rule(risk="pii.mobile", input="allow"), Rule(risk="pii.*", input="redact")],
        default=Rule(risk="*", input="flag"),
    )
    assert p.rule_for("pii.mobile").input is Action.ALLOW
    assert p.rule_for("pii.email").input is Action.REDACT
    assert p.rule_for("A.1.a").input is Action.FLAG


def test_unknown_risk_in_a_rule_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown risk id or category 'A\.9\.z'"):
        Rule(risk="A.9.z")
    with pytest.raises(PolicyError, match="unknown risk id"):
        load_policy({"rules": [{"risk": "pii.fingerprint"}]})


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError):
        Rule(risk="A.1.a", threshold=1.5)
    with pytest.raises(PolicyError):
        load_policy({"default": {"risk": "*", "threshold": -0.1}})
    with pytest.raises(PolicyError, match="invalid policy"):
        load_policy({"rules": [{"risk": "A.1.a", "input": "obliterate"}]})
    with pytest.raises(PolicyError):
        load_policy({"colour": "red"})  # unknown keys are an error, not ignored


def test_yaml_file_extending_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        """
name: mine
extends: interim-2023
rules:
  - {risk: pii.person_name, input: allow, output: allow}
  - {risk: pii.*, input: redact, output: redact, redact: hash}
refusal:
  zh: 不行。
duties:
  require_real_name: true
""",
        encoding="utf-8",
    )
    p = load_policy(path)
    assert p.name == "mine"
    assert p.rule_for("pii.person_name").action_for(Role.OUTPUT) is Action.ALLOW
    assert p.rule_for("pii.mobile").redact is RedactOperator.HASH  # the override comes first
    assert p.rule_for("A.5.a").action_for(Role.OUTPUT) is Action.FLAG  # the parent's rules still apply
    assert p.refusal_message(Role.INPUT, "zh") == "不行。"
    assert p.refusal_message(Role.INPUT, "en").startswith("Sorry")  # merged with the default
    assert p.duties.require_real_name and p.duties.anti_addiction_scope == "minors"
    assert load_policy(str(path)).name == "mine"  # a path given as a string


def test_refusal_language_and_role() -> None:
    p = load_policy("interim-2023")
    assert "抱歉" in p.refusal_message(Role.INPUT, "zh")
    assert "抱歉" in p.refusal_message(Role.INPUT, "zh-CN")
    assert p.refusal_message(Role.INPUT, "en").startswith("Sorry")
    assert p.refusal_message(Role.OUTPUT, "zh") != p.refusal_message(Role.INPUT, "zh")
    assert "safety review" in p.refusal_message(Role.OUTPUT, "en")


def test_loading_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="unknown policy preset 'draft-2099'"):
        load_policy("draft-2099")
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="mapping"):
        load_policy(listy)
    with pytest.raises(PolicyError, match="unknown policy preset"):
        load_policy({"extends": "nope"})


def test_action_severity_order() -> None:
    order = [Action.ALLOW, Action.FLAG, Action.REDACT, Action.BLOCK]
    assert [a.severity for a in order] == sorted(a.severity for a in order)
