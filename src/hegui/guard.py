"""`Guard`: the one in-process API. Normalise → detectors → findings → policy → `Verdict`.

The gateway, the corpus scanner and the assessment judge all call this, so a fix in a detector or
the policy fixes all three. It fails closed: a detector that raises makes the verdict ``block``
with ``error`` set, never ``allow``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hegui.detect.base import Detector, DetectorRegistry, Finding
from hegui.policy import Action, Policy, RedactOperator, Role, load_policy
from hegui.text import NormalizedText, TextTooLargeError, guess_lang, normalize
from hegui.text.normalize import normalize_batch

log = logging.getLogger("hegui.guard")


@dataclass(slots=True)
class Verdict:
    """The outcome of one check. ``findings`` carry spans in the *original* text.

    ``redacted`` is the original with the redacted spans rewritten and lone surrogates replaced by
    U+FFFD (one for one, so offsets outside rewritten spans still line up): it is always valid
    Unicode, safe to forward, store and print.
    """

    action: Action
    findings: list[Finding]
    redacted: str
    role: Role
    lang: str
    refusal: str | None = None
    error: str | None = None
    latency_ms: float = 0.0
    # Findings that decided the action (score over threshold), a subset of ``findings``.
    decisive: list[Finding] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.action in (Action.ALLOW, Action.FLAG)

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK

    @property
    def risks(self) -> list[str]:
        """Distinct risk ids that decided the action, in order of appearance."""
        decisive = self.decisive
        if not decisive:  # most verdicts (the scanner asks for every document)
            return []
        return list(dict.fromkeys([f.risk for f in decisive]))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "action": self.action.value,
            "risks": self.risks,
            "findings": [f.to_dict() for f in self.findings],
            "redacted": self.redacted,
            "role": self.role.value,
            "lang": self.lang,
            "latency_ms": round(self.latency_ms, 3),
        }
        if self.refusal:
            d["refusal"] = self.refusal
        if self.error:
            d["error"] = self.error
        return d


class Guard:
    """Runs detectors and applies the policy.

    ``Guard()`` builds the default detectors from the registry (the shipped keyword library and
    the PII recognisers); pass ``detectors=`` to choose your own.
    """

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        policy: Policy | str | None = None,
        *,
        hash_key: bytes | Callable[[], bytes] = b"hegui",
        max_chars: int = 2_000_000,
    ) -> None:
        self.policy = policy if isinstance(policy, Policy) else load_policy(policy)
        self.detectors: list[Detector] = list(detectors) if detectors is not None else default_detectors()
        names = [d.name for d in self.detectors]
        if len(set(names)) != len(names):
            raise ValueError(f"detector names must be unique, got {names}")
        # A callable is resolved on first use: `from_settings` passes `Settings.key_bytes`, which
        # creates var/secret.key, and only the hash operator needs it — `hegui check` must not
        # write a key file into whatever directory it runs in (or fail where it cannot write).
        self._hash_key = hash_key
        self.max_chars = max_chars
        self.errors = 0  # detector failures seen (each one failed closed)
        self._lock = threading.Lock()
        # (policy, its rules list, their number, its default, per role ({risk: rule values} for
        # output, then input)): see `_rule_table`.
        self._rules: tuple[Any, Any, int, Any, tuple[dict[str, _RuleValues], ...]] = (None, None, -1, None, ({}, {}))

    @property
    def hash_key(self) -> bytes:
        """The key of the ``hash`` redaction operator (resolved once, on first use)."""
        if callable(self._hash_key):
            with self._lock:
                if callable(self._hash_key):
                    self._hash_key = self._hash_key()
        return self._hash_key  # type: ignore[return-value]

    @classmethod
    def from_settings(cls, settings: Any | None = None) -> Guard:
        """Build detectors and policy from `hegui.config.Settings` (defaults when ``None``)."""
        import hegui.detect  # noqa: F401 - registers the built-in detectors
        from hegui.config import Settings

        s = settings if settings is not None else Settings()
        detectors = [
            DetectorRegistry.create(name, **_detector_options(s, name)) for name in s.guard.detectors
        ]
        return cls(detectors, load_policy(s.policy), hash_key=s.key_bytes, max_chars=s.guard.max_chars)

    # -- checking -----------------------------------------------------------------------------

    def check(self, text: str, role: Role | str = Role.INPUT, *, lang: str | None = None) -> Verdict:
        """Check one text. Never raises for bad text: odd input gives a verdict or a fail-closed block."""
        t0 = time.perf_counter()
        role = Role(role)
        if not isinstance(text, str):
            raise TypeError(f"Guard.check() takes str, not {type(text).__name__}; decode bytes first")
        lang = lang or guess_lang(text)
        try:
            norm = normalize(text, max_chars=self.max_chars)
        except TextTooLargeError as e:
            return self._failed(text, role, lang, f"text too large: {e}", t0)
        findings: list[Finding] = []
        for det in self.detectors:
            try:
                found = det.detect(norm)
            except Exception as e:  # fail closed, whatever the detector raised
                with self._lock:
                    self.errors += 1
                log.error("detector failed, failing closed", extra={"detector": det.name, "error": type(e).__name__})
                return self._failed(text, role, lang, f"detector {det.name!r} failed: {type(e).__name__}: {e}", t0)
            findings.extend(found)
        return self.decide(norm, findings, role, lang, t0)

    def check_batch(
        self, texts: Iterable[str], role: Role | str = Role.INPUT, *, langs: Sequence[str] | None = None
    ) -> list[Verdict]:
        """Check many texts; detectors with ``detect_batch`` get them all at once.

        ``langs`` (one per text) skips language guessing when the caller already knows it (the
        corpus scanner does); it only chooses the refusal's language.
        """
        role = Role(role)
        texts = list(texts)
        if langs is not None and len(langs) != len(texts):
            raise ValueError(f"langs has {len(langs)} entries for {len(texts)} texts")
        t0 = time.perf_counter()
        norms = normalize_batch(texts, max_chars=self.max_chars)  # None: over max_chars
        ok = [n for n in norms if n is not None]
        per_text: list[list[Finding]] = [[] for _ in ok]
        failed: str | None = None
        for det in self.detectors:
            try:
                batch = getattr(det, "detect_batch", None)
                results = batch(ok) if batch is not None else [det.detect(n) for n in ok]
            except Exception as e:
                with self._lock:
                    self.errors += 1
                failed = f"detector {det.name!r} failed: {type(e).__name__}: {e}"
                break
            for acc, res in zip(per_text, results, strict=True):
                acc.extend(res)
        out: list[Verdict] = []
        it = iter(per_text)
        for i, (text, norm) in enumerate(zip(texts, norms, strict=True)):
            lang = langs[i] if langs is not None else guess_lang(text)
            if norm is None:
                out.append(self._failed(text, role, lang, f"text too large: {len(text):,} characters", t0))
            elif failed:
                next(it)
                out.append(self._failed(text, role, lang, failed, t0))
            else:
                out.append(self.decide(norm, next(it), role, lang, t0))
        return out

    # -- policy -------------------------------------------------------------------------------

    def decide(
        self, norm: NormalizedText, findings: list[Finding], role: Role, lang: str, t0: float | None = None
    ) -> Verdict:
        """Apply the policy to findings (normalised spans) and build the verdict."""
        t0 = time.perf_counter() if t0 is None else t0
        if not findings:
            # Nothing found (most texts): the verdict the code below builds for no findings,
            # without its bookkeeping.
            redacted = norm.original
            if not norm.surrogate_free and _SURROGATE.search(redacted) is not None:
                redacted = _SURROGATE.sub("\ufffd", redacted)
            return Verdict(Action.ALLOW, [], redacted, role, lang, None, None, (time.perf_counter() - t0) * 1000, [])
        if norm.is_identity:
            mapped = list(findings)
        else:
            mapped = [f.with_span(*norm.to_original(f.start, f.end)) if f.has_span else f for f in findings]
        action = Action.ALLOW
        decisive: list[Finding] = []
        redact_spans: list[tuple[int, int, Finding, RedactOperator]] = []
        rules = self._rule_table()[role is Role.INPUT]  # `Rule.action_for` asks only this of the role
        for f in mapped:
            r = rules.get(f.risk)
            if r is None:
                r = self._rule(rules, f.risk, role)
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
                else:  # a whole-text finding cannot be redacted: block instead (fail closed)
                    act = Action.BLOCK
            if _SEVERITY[act] > _SEVERITY[action]:  # `Action.severity`, without a property call each
                action = act
        # A blocked text is redacted too: the audit log keeps the redacted form, never the raw one.
        if not redact_spans:
            redacted = norm.original
        else:
            uses_key = any(op is RedactOperator.HASH for *_, op in redact_spans)
            try:
                key = self.hash_key if uses_key else b""
            except Exception as e:  # no key, no keyed hash: fail closed rather than leak the value
                return self._failed(norm.original, role, lang, f"hash key unavailable: {type(e).__name__}: {e}", t0)
            redacted = redact(norm.original, redact_spans, key)
        if not norm.surrogate_free and _SURROGATE.search(redacted) is not None:
            # Lone surrogates (from JSON "\ud800" escapes) cannot be encoded as UTF-8: the text
            # that goes upstream, into the audit store and back to the client is always valid.
            redacted = _SURROGATE.sub("\ufffd", redacted)
        refusal = self.policy.refusal_message(role, lang) if action is Action.BLOCK else None
        if len(mapped) > 1:
            mapped.sort(key=_finding_order)
        return Verdict(
            action=action,
            findings=mapped,
            redacted=redacted,
            role=role,
            lang=lang,
            refusal=refusal,
            latency_ms=(time.perf_counter() - t0) * 1000,
            decisive=decisive,
        )

    def _rule_table(self) -> tuple[dict[str, _RuleValues], ...]:
        """Per role (output, input), the rule values per risk id, kept across calls while the policy is the same.

        Why: looking a rule up and reading its pydantic attributes for every text cost more than
        applying it (the scanner decides tens of thousands of texts with a handful of risk ids).
        The table is replaced, never cleared in place, when the policy is swapped or its rules
        list or default is (like `Policy.rule_for`'s own cache); a rule edited in place is not
        seen: assign a new policy for that.
        """
        policy = self.policy
        cached = self._rules
        if cached[0] is not policy or cached[1] is not policy.rules or cached[2] != len(policy.rules) or (
            cached[3] is not policy.default
        ):
            cached = self._rules = (policy, policy.rules, len(policy.rules), policy.default, ({}, {}))
        return cached[4]

    def _rule(self, table: dict[str, _RuleValues], risk: str, role: Role) -> _RuleValues:
        rule = self.policy.rule_for(risk)
        values = table[risk] = (rule.action_for(role), rule.threshold, rule.flag_threshold, rule.redact)
        return values

    def _failed(self, text: str, role: Role, lang: str, error: str, t0: float) -> Verdict:
        return Verdict(
            action=Action.BLOCK,
            findings=[],
            redacted="",
            role=role,
            lang=lang,
            refusal=self.policy.refusal_message(role, lang),
            error=error,
            latency_ms=(time.perf_counter() - t0) * 1000,
        )


_SURROGATE = re.compile("[\ud800-\udfff]")

# A rule as plain values: (action for the role, threshold, flag threshold, redaction operator).
_RuleValues = tuple[Action, float, float | None, RedactOperator]
_SEVERITY = {a: a.severity for a in Action}


def _finding_order(f: Finding) -> tuple[int, float]:
    return (f.start, -f.score)



def redact(
    original: str, spans: Sequence[tuple[int, int, Finding, RedactOperator]], key: bytes = b"hegui"
) -> str:
    """Rewrite the spans of ``original``. Overlapping spans are merged (the first finding names the tag)."""
    if not spans:
        return original
    ordered = sorted(spans, key=lambda s: (s[0], -s[1]))
    merged: list[list[Any]] = []
    for s, e, f, op in ordered:
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e, f, op])
    out: list[str] = []
    pos = 0
    for s, e, f, op in merged:
        out.append(original[pos:s])
        out.append(_rewrite(original[s:e], f, op, key))
        pos = e
    out.append(original[pos:])
    return "".join(out)


def tag_for(risk: str) -> str:
    """``pii.id_card`` → ``ID_CARD``; ``hg.secret`` → ``SECRET``."""
    return risk.split(".", 1)[-1].upper()


def _rewrite(value: str, f: Finding, op: RedactOperator, key: bytes) -> str:
    tag = tag_for(f.risk)
    if op is RedactOperator.DROP:
        return ""
    if op is RedactOperator.MASK:
        n = len(value)
        if n <= 4:
            return "*" * n
        keep_head = min(3, n // 4)
        keep_tail = min(4, n // 4)
        return value[:keep_head] + "*" * (n - keep_head - keep_tail) + value[n - keep_tail :]
    if op is RedactOperator.HASH:
        digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:12]
        return f"<{tag}:{digest}>"
    return f"<{tag}>"


def _detector_options(settings: Any, name: str) -> dict[str, Any]:
    opts = dict(settings.guard.options.get(name, {}))
    if name == "keywords":
        opts.setdefault("extra", [str(p) for p in settings.keywords.extra])
        opts.setdefault("allow", [str(p) for p in settings.keywords.allow])
        opts.setdefault("use_default_library", settings.keywords.use_default_library)
        opts.setdefault("backend", settings.keywords.backend)
        if settings.keywords.cache_dir is not None:
            opts.setdefault("cache_dir", str(settings.keywords.cache_dir))
    elif name == "pii":
        opts.setdefault("disabled", list(settings.pii.disabled))
        opts.setdefault("min_score", settings.pii.min_score)
    return opts


def default_detectors() -> list[Detector]:
    """The detectors a bare ``Guard()`` runs: the shipped keyword library and the PII recognisers."""
    import hegui.detect  # noqa: F401 - registers the built-in detectors

    return [DetectorRegistry.create(n) for n in ("keywords", "pii") if n in DetectorRegistry.names()]
