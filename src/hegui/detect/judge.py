"""The external judge: an OpenAI-compatible guard model (e.g. Qwen3Guard on vLLM) over HTTP.

Two detectors:

- ``judge`` asks the endpoint about every text. Slow and costly; for the few places that need it.
- ``escalate`` runs the fast ``classifier`` and asks the judge only when some head's calibrated
  score falls in the uncertainty band ``[low, high)`` (default 0.3–0.7). Confident scores are
  returned as they are; in the band, the judge's answer replaces the classifier's findings.

Both fail closed: a timeout, a connection error, an HTTP error status or an answer we cannot parse
raises `DetectorError`, which `Guard` turns into a block. The API key is read from an environment
variable named in config, never from the config file itself, and never logged.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from hegui.detect.base import DetectorError, DetectorRegistry, Finding
from hegui.text import NormalizedText

DEFAULT_PROMPT = (
    "You are a content-safety classifier. Judge the following user text.\n"
    "Answer exactly in this format:\nSafety: Safe|Unsafe|Controversial\nCategories: comma-separated list or None\n\n"
    "Text:\n{text}"
)

# Qwen3Guard category names (and common variants) → hegui / TC260 risk ids.
CATEGORY_RISKS: dict[str, str] = {
    "violent": "A.1.f",
    "non-violent illegal acts": "hg.unsafe_request",
    "sexual content or sexual acts": "A.1.f",
    "pii": "A.4.e",
    "personally identifiable information": "A.4.e",
    "suicide & self-harm": "A.5.b",
    "unethical acts": "hg.offensive",
    "politically sensitive topics": "A.1.a",
    "copyright violation": "A.3.a",
    "jailbreak": "hg.prompt_injection",
    "discrimination": "A.2.i",
    "hate": "A.1.e",
}
FALLBACK_RISK = "hg.unsafe_request"
_SAFETY = re.compile(r"safety\s*[:：]\s*(safe|unsafe|controversial)", re.I)
_CATS = re.compile(r"categor(?:y|ies)\s*[:：]\s*(.+)", re.I)


def parse_answer(answer: str, *, controversial_score: float = 0.5) -> list[tuple[str, float, str]]:
    """(risk id, score, category) triples from a judge's answer; ``[]`` means safe.

    Accepts Qwen3Guard's ``Safety: … / Categories: …`` lines or a JSON object
    ``{"safe": bool, "categories": [...], "score": 0..1}``. Anything else raises `DetectorError`.
    """
    text = answer.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            raise DetectorError("judge answered malformed JSON / 外部评审返回的 JSON 无法解析") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("safe"), bool):
            raise DetectorError("judge JSON answer lacks a boolean 'safe' / 外部评审回答缺少 safe 字段")
        if obj["safe"]:
            return []
        cats = obj.get("categories") or []
        score = obj.get("score", 1.0)
        if not isinstance(cats, list) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise DetectorError("judge JSON answer has bad 'categories' or 'score' / 外部评审回答格式错误")
        return _risks([str(c) for c in cats], float(score))
    m = _SAFETY.search(text)
    if not m:
        raise DetectorError("judge answer has no 'Safety:' verdict / 外部评审回答无法解析")
    verdict = m.group(1).lower()
    if verdict == "safe":
        return []
    cm = _CATS.search(text)
    cats = [c.strip() for c in cm.group(1).split(",")] if cm else []
    cats = [c for c in cats if c and c.lower() != "none"]
    return _risks(cats, 1.0 if verdict == "unsafe" else controversial_score)


def _risks(cats: list[str], score: float) -> list[tuple[str, float, str]]:
    if not cats:
        return [(FALLBACK_RISK, score, "")]
    return [(CATEGORY_RISKS.get(c.lower(), FALLBACK_RISK), score, c) for c in cats]


class JudgeDetector:
    """Asks an OpenAI-compatible ``/chat/completions`` endpoint to judge each text."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000/v1",
        model: str = "Qwen/Qwen3Guard-Gen-8B",
        *,
        api_key_env: str | None = "HEGUI_JUDGE_API_KEY",
        timeout: float = 5.0,
        prompt_template: str = DEFAULT_PROMPT,
        controversial_score: float = 0.5,
        max_chars: int = 8000,
        name: str = "judge",
        client: httpx.Client | None = None,
    ) -> None:
        if "{text}" not in prompt_template:
            raise ValueError("judge prompt_template must contain {text} / 提示模板必须包含 {text}")
        self.name = name
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.prompt_template = prompt_template
        self.controversial_score = controversial_score
        self.max_chars = max_chars
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if client is None:
            import httpx  # here, not at the top: every `import hegui` registers this detector

            client = httpx.Client(timeout=timeout, headers=headers)
        self._client = client

    def ask(self, text: str) -> str:
        """The judge's raw answer for one text; raises `DetectorError` on any transport problem."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": self.prompt_template.replace("{text}", text[: self.max_chars])}],
            "temperature": 0,
        }
        import httpx  # loaded by __init__ already (or by the caller's client)

        try:
            r = self._client.post(self.endpoint, json=body)
        except httpx.TimeoutException:
            raise DetectorError("judge timed out / 外部评审超时") from None
        except httpx.HTTPError as e:
            raise DetectorError(f"judge unreachable ({type(e).__name__}) / 无法连接外部评审") from None
        if r.status_code != 200:
            raise DetectorError(f"judge returned HTTP {r.status_code} / 外部评审返回错误 {r.status_code}")
        try:
            content = r.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise DetectorError("judge response is not an OpenAI chat completion / 外部评审响应格式错误") from None
        if not isinstance(content, str):
            raise DetectorError("judge response has no text content / 外部评审响应无内容")
        return content

    def detect(self, text: NormalizedText) -> list[Finding]:
        # The judge sees the original text: it is a language model, it reads the text as written.
        triples = parse_answer(self.ask(text.original), controversial_score=self.controversial_score)
        return [
            Finding(risk, -1, -1, score, self.name, evidence=f"category={cat}" if cat else "", meta={"category": cat})
            for risk, score, cat in triples
        ]

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        return [self.detect(t) for t in texts]


class JudgeEscalation:
    """Classifier first; the judge only for texts with a head score in ``[low, high)``."""

    def __init__(self, classifier: Any, judge: JudgeDetector, *, low: float = 0.3, high: float = 0.7,
                 name: str = "escalate") -> None:
        if not 0 <= low < high <= 1:
            raise ValueError(f"uncertainty band must satisfy 0 <= low < high <= 1, got [{low}, {high})")
        self.classifier, self.judge, self.low, self.high, self.name = classifier, judge, low, high, name
        self.escalated = 0  # texts sent to the judge (for metrics and tests)

    def detect(self, text: NormalizedText) -> list[Finding]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        fast = self.classifier.detect_batch(texts)
        scores = self.classifier.scores(texts)
        out: list[list[Finding]] = []
        for text, found, row in zip(texts, fast, scores, strict=True):
            if ((row >= self.low) & (row < self.high)).any():
                self.escalated += 1
                out.append(self.judge.detect(text))
            else:
                out.append(found)
        return out


@DetectorRegistry.register("judge")
def _judge_factory(**options: Any) -> JudgeDetector:
    return JudgeDetector(**options)


@DetectorRegistry.register("escalate")
def _escalate_factory(
    *, classifier: dict[str, Any] | None = None, judge: dict[str, Any] | None = None,
    low: float = 0.3, high: float = 0.7,
) -> JudgeEscalation:
    from hegui.detect.classifier import ClassifierDetector

    return JudgeEscalation(ClassifierDetector(**(classifier or {})), JudgeDetector(**(judge or {})), low=low, high=high)
