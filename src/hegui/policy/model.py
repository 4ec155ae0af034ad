"""The policy model (pydantic) and its loader."""

from __future__ import annotations

import fnmatch
import functools
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from hegui import taxonomy


class Action(StrEnum):
    """Ordered from least to most severe; a verdict takes the most severe action of its findings."""

    ALLOW = "allow"
    FLAG = "flag"
    REDACT = "redact"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.FLAG: 1, Action.REDACT: 2, Action.BLOCK: 3}


class Role(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


class RedactOperator(StrEnum):
    """How a redacted span is rewritten."""

    TAG = "tag"  # <ID_CARD>
    MASK = "mask"  # 1101**********1234 style: keep a little for display, star the rest
    HASH = "hash"  # <ID_CARD:9f2c…> keyed HMAC, stable for joins, not reversible
    DROP = "drop"  # removed entirely


class Rule(BaseModel):
    """What to do with findings of the risks matching ``risk`` (an id, a category or a glob)."""

    model_config = ConfigDict(extra="forbid")

    risk: str
    input: Action = Action.BLOCK
    output: Action = Action.BLOCK
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    # Scores in [flag_threshold, threshold) are flagged instead of ignored.
    flag_threshold: float | None = Field(None, ge=0.0, le=1.0)
    redact: RedactOperator = RedactOperator.TAG

    @field_validator("risk")
    @classmethod
    def _known(cls, v: str) -> str:
        if any(ch in v for ch in "*?["):
            return v
        if v in taxonomy.CATEGORIES or taxonomy.is_known(v):
            return v
        raise ValueError(f"unknown risk id or category {v!r}")

    def matches(self, risk_id: str) -> bool:
        if self.risk == risk_id:
            return True
        if self.risk in taxonomy.CATEGORIES:
            return taxonomy.RISKS[risk_id].category == self.risk if taxonomy.is_known(risk_id) else False
        return fnmatch.fnmatchcase(risk_id, self.risk)

    def action_for(self, role: Role) -> Action:
        return self.input if role is Role.INPUT else self.output


class Duties(BaseModel):
    """Service duties that differ between the draft and the final Measures (used by the service modules)."""

    model_config = ConfigDict(extra="allow")

    require_real_name: bool = False  # draft Art. 9
    unverified_users: str = "limit"  # "refuse" | "limit" | "allow"
    anti_addiction_scope: str = "minors"  # draft Art. 10: "all"; final Art. 10: "minors"
    optimisation_deadline_days: int | None = None  # draft Art. 15: 90 days; final: none
    strikes_consecutive: int = 3  # TC260-003 §7 practice
    strikes_per_day: int = 5
    suspensions_before_termination: int = 3
    profiling_allowed: bool = False  # draft Art. 11 forbids it


DEFAULT_REFUSAL: dict[str, str] = {
    "zh": "抱歉，您的请求涉及不适宜的内容，我无法提供帮助。如有疑问，可通过投诉渠道反馈。",
    "en": "Sorry, I can't help with that request because it involves content I'm not able to "
    "provide. If you think this is a mistake, you can let us know through the complaints channel.",
}
DEFAULT_OUTPUT_REFUSAL: dict[str, str] = {
    "zh": "抱歉，生成的内容未通过安全审核，已停止输出。",
    "en": "Sorry, the generated content did not pass the safety review and was withheld.",
}


class Policy(BaseModel):
    """Rules are tried in order; the first rule that matches a risk decides. ``default`` covers the rest."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    description: str = ""
    extends: str | None = None
    default: Rule = Field(default_factory=lambda: Rule(risk="*"))
    rules: list[Rule] = Field(default_factory=list)
    duties: Duties = Field(default_factory=Duties)
    refusal: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REFUSAL))
    output_refusal: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_OUTPUT_REFUSAL))
    _rule_cache: tuple[Any, int, Any, dict[str, Rule]] = PrivateAttr(default=(None, -1, None, {}))

    @field_validator("refusal", "output_refusal")
    @classmethod
    def _both_languages(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        # A policy that rewrites only the Chinese refusal must not leave English users with it (or
        # the other way round): languages it does not set keep the default wording.
        default = DEFAULT_REFUSAL if info.field_name == "refusal" else DEFAULT_OUTPUT_REFUSAL
        return {**default, **v}

    def rule_for(self, risk_id: str) -> Rule:
        # Cached per risk id: matching tries each rule's glob/category in turn, and the scanner
        # asks for the same few ids tens of thousands of times. The cache holds the rules list
        # and default it was filled for (held, so compared by identity), and is replaced, never
        # cleared in place, when either is swapped or the list changes length. (Editing a rule's
        # ``risk`` pattern in place is not seen: build a new policy for that.)
        # Read through the private-attribute dict: pydantic's `__getattr__` costs ~8 µs a call.
        private = self.__pydantic_private__
        cache = private["_rule_cache"]
        if cache[0] is not self.rules or cache[1] != len(self.rules) or cache[2] is not self.default:
            cache = private["_rule_cache"] = (self.rules, len(self.rules), self.default, {})
        rule = cache[3].get(risk_id)
        if rule is None:
            rule = cache[3][risk_id] = self._match_rule(risk_id)
        return rule

    def _match_rule(self, risk_id: str) -> Rule:
        for rule in self.rules:
            if rule.matches(risk_id):
                return rule
        return self.default

    def refusal_message(self, role: Role, lang: str) -> str:
        msgs = self.refusal if role is Role.INPUT else self.output_refusal
        return msgs.get("zh" if lang.startswith("zh") else "en") or next(iter(msgs.values()))


class PolicyError(ValueError):
    """A policy file that cannot be used, with the reason in words."""


def preset_names() -> list[str]:
    files = resources.files("hegui.policy") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in files.iterdir() if p.name.endswith(".yaml"))


@functools.lru_cache(maxsize=16)
def _preset_raw(name: str) -> dict[str, Any]:
    path = resources.files("hegui.policy") / "presets" / f"{name}.yaml"
    if not path.is_file():
        raise PolicyError(f"unknown policy preset {name!r}; presets: {', '.join(preset_names())}")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if k == "rules":
            # Overriding rules come first so they win; the base's rules still apply to the rest.
            out["rules"] = list(v) + list(base.get("rules", []))
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve(raw: dict[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    parent = raw.get("extends")
    if not parent:
        return raw
    if parent in seen:
        raise PolicyError(f"policy presets extend each other in a loop: {' → '.join((*seen, parent))}")
    return _merge(_resolve(_preset_raw(parent), (*seen, parent)), {k: v for k, v in raw.items() if k != "extends"})


def load_policy(source: str | Path | dict[str, Any] | None = None) -> Policy:
    """Load a policy from a preset name, a YAML file path or a dict (``None`` → ``draft-2023``)."""
    if source is None:
        source = "draft-2023"
    if isinstance(source, dict):
        raw = source
    elif isinstance(source, Path) or str(source).endswith((".yaml", ".yml")):
        path = Path(source)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise PolicyError(f"policy file not found: {path}") from None
        except yaml.YAMLError as e:
            raise PolicyError(f"policy file {path} is not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise PolicyError(f"policy file {path} must hold a mapping at the top level")
    else:
        raw = dict(_preset_raw(str(source)))
        raw.setdefault("name", str(source))
    try:
        return Policy.model_validate(_resolve(raw))
    except ValidationError as e:
        raise PolicyError(f"invalid policy: {e}") from None
