"""Versioned labelling rules (Art. 8 "clear, specific and operable"; TC260-003 §5.3).

A rule document is Markdown with a YAML front matter::

    ---
    task: safety-risk          # what is being labelled
    kind: safety               # functional | safety (TC260-003 §5.3 keeps them apart)
    version: "1.1"
    effective: 2026-03-01      # in force from this date until the next version's date
    labels:
      - id: A.2.d
        name: 地域歧视
        definition: …
        examples: ["…"]
        risks: [A.2.d]         # optional; a TC260 label id counts as its own risk
    ---
    Free text: procedure, edge cases, escalation.

Versions matter because an annotation must be judged by the rules the annotator had on the day:
:func:`rules_in_force` picks the latest version whose effective date is not after the item's date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hegui.annotation._io import AnnotationError, parse_date, read_text
from hegui.annotation.issues import Issue
from hegui.taxonomy import RISKS, TC260_RISKS

KINDS = ("functional", "safety")
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    definition: str
    name: str = ""
    examples: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One version of the rules for one task."""

    task: str
    kind: str
    version: str
    effective: dt.date
    labels: dict[str, Label]
    title: str = ""
    body: str = ""
    path: str = ""
    risks_covered: frozenset[str] = field(default=frozenset())

    @property
    def ref(self) -> str:
        return f"{self.task} v{self.version}"


def parse_rules(text: str, where: str = "<rules>") -> RuleSet:
    """Parse one rule document; every fault is an :class:`AnnotationError` naming ``where``."""
    import yaml

    m = _FRONT.match(text)
    if not m:
        raise AnnotationError(f"{where}: 缺少 YAML 前置信息（以 --- 开头和结尾） no YAML front matter (a block between --- lines at the top)")
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError as e:
        raise AnnotationError(f"{where}: 前置信息 YAML 无法解析 invalid YAML front matter: {e}") from None
    except ValueError as e:  # PyYAML builds dates itself: 2026-13-01 raises here
        raise AnnotationError(f"{where}: 前置信息中日期无效 not an ISO date in the front matter: {e}") from None
    if not isinstance(meta, dict):
        raise AnnotationError(f"{where}: 前置信息须为映射 front matter must be a mapping")
    missing = [k for k in ("task", "kind", "version", "effective", "labels") if meta.get(k) in (None, "", [])]
    if missing:
        raise AnnotationError(f"{where}: 前置信息缺少 front matter lacks {', '.join(missing)}")
    kind = str(meta["kind"]).strip().lower()
    if kind not in KINDS:
        raise AnnotationError(f"{where}: kind 须为 functional 或 safety, got {meta['kind']!r}")
    if not isinstance(meta["labels"], list):
        raise AnnotationError(f"{where}: labels 须为列表 labels must be a list of {{id, definition, examples}}")
    labels: dict[str, Label] = {}
    covered: set[str] = set()
    for i, raw in enumerate(meta["labels"], start=1):
        lw = f"{where}: labels[{i}]"
        if not isinstance(raw, dict) or not str(raw.get("id") or "").strip():
            raise AnnotationError(f"{lw}: 须为含 id 的映射 must be a mapping with an id")
        lid = str(raw["id"]).strip()
        if lid in labels:
            raise AnnotationError(f"{lw}: 标签重复 duplicate label id {lid!r}")
        definition = str(raw.get("definition") or "").strip()
        if not definition:
            raise AnnotationError(f"{lw} ({lid}): 缺少定义 no definition; rules must say what the label means")
        examples = raw.get("examples") or []
        if isinstance(examples, str):
            examples = [examples]
        if not isinstance(examples, list):
            raise AnnotationError(f"{lw} ({lid}): examples 须为列表 must be a list")
        risks = raw.get("risks") or []
        if isinstance(risks, str):
            risks = [risks]
        for r in risks:
            if str(r) not in RISKS:
                raise AnnotationError(f"{lw} ({lid}): 未知风险 unknown risk id {r!r} (see hegui.taxonomy)")
        rset = {str(r) for r in risks}
        if lid in RISKS:
            rset.add(lid)
        covered |= {RISKS[r].tc260 for r in rset}
        labels[lid] = Label(lid, definition, str(raw.get("name") or ""), tuple(str(x) for x in examples), tuple(sorted(rset)))
    return RuleSet(
        task=str(meta["task"]).strip(), kind=kind, version=str(meta["version"]).strip(),
        effective=parse_date(meta["effective"], f"{where}: effective"), labels=labels,
        title=str(meta.get("title") or ""), body=m.group(2).strip(), path=where,
        risks_covered=frozenset(covered),
    )


def load_rules(paths: Iterable[Path]) -> list[RuleSet]:
    """Rule documents from files and directories (``*.md`` inside), sorted by task, then date."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(p.glob("*.md")))
        elif p.exists():
            files.append(p)
        else:
            raise AnnotationError(f"规则文件不存在 rules not found: {p}")
    if not files:
        raise AnnotationError("未找到规则文件 no rule documents (*.md) found")
    sets = [parse_rules(read_text(f), str(f)) for f in files]
    sets.sort(key=lambda r: (r.task, r.effective, r.version))
    return sets


def rules_in_force(rules: list[RuleSet], task: str, on: dt.date) -> RuleSet | None:
    """The version of ``task``'s rules in force on ``on`` (latest effective date ≤ on), or None."""
    best: RuleSet | None = None
    for r in rules:
        if r.task == task and r.effective <= on and (best is None or r.effective >= best.effective):
            best = r
    return best


def check_rules(rules: list[RuleSet]) -> list[Issue]:
    """Checks on the rule set itself (TC260-003 §5.3): separate functional and safety rules, the
    current safety rules cover the 31 risks, versions are unambiguous, labels carry examples.
    """
    issues: list[Issue] = []
    tasks: dict[str, list[RuleSet]] = {}
    for r in rules:
        tasks.setdefault(r.task, []).append(r)
    for task, versions in tasks.items():
        kinds = {v.kind for v in versions}
        if len(kinds) > 1:
            issues.append(Issue("error", "rules.kind_changes", f"任务 {task} 的版本类型不一致 {sorted(kinds)}",
                                f"task {task} mixes kinds across versions: {sorted(kinds)}", task))
        seen_v: dict[str, str] = {}
        seen_d: dict[dt.date, str] = {}
        for v in versions:
            if v.version in seen_v:
                issues.append(Issue("error", "rules.duplicate_version", f"{task} 版本 {v.version} 重复（{seen_v[v.version]}、{v.path}）",
                                    f"{task} version {v.version} defined twice ({seen_v[v.version]}, {v.path})", v.path))
            if v.effective in seen_d:
                issues.append(Issue("error", "rules.same_effective_date", f"{task} 两个版本同日生效 {v.effective}（{seen_d[v.effective]}、{v.version}）",
                                    f"{task}: two versions take effect on {v.effective} ({seen_d[v.effective]}, {v.version}); which one applies is ambiguous", v.path))
            seen_v[v.version] = v.path
            seen_d[v.effective] = v.version
            if v.kind == "safety":
                missing = [r for r in TC260_RISKS if r not in v.risks_covered]
                if missing:
                    issues.append(Issue("error", "rules.safety_coverage",
                                        f"安全标注规则 {v.ref} 未覆盖 {len(missing)}/31 项风险：{', '.join(missing)}",
                                        f"safety rules {v.ref} do not cover {len(missing)} of the 31 TC260 risks: {', '.join(missing)}", v.path))
            no_ex = [lab.id for lab in v.labels.values() if not lab.examples]
            if no_ex:
                issues.append(Issue("warning", "rules.no_examples", f"{v.ref} 中 {len(no_ex)} 个标签无示例：{', '.join(no_ex[:10])}",
                                    f"{v.ref}: {len(no_ex)} label(s) without examples: {', '.join(no_ex[:10])}", v.path))
    kinds_present = {r.kind for r in rules}
    if "safety" not in kinds_present:
        issues.append(Issue("error", "rules.no_safety", "缺少安全标注规则（TC260-003 §5.3）",
                            "no safety labelling rules (TC260-003 §5.3 requires them, covering the 31 risks)", ""))
    if "functional" not in kinds_present:
        issues.append(Issue("warning", "rules.no_functional", "缺少功能性标注规则（如进行功能性标注则必须制定）",
                            "no functional labelling rules (required if functional labelling is done)", ""))
    return issues
