"""One finding type for every annotation check, so the CLI, the report and the tests agree."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem found in the rules, the roster or the data.

    ``severity`` "error" fails the QA report (fail closed); "warning" is shown but does not.
    ``where`` points at a file, batch, item or annotator, never at item text.
    """

    severity: str
    code: str
    message_zh: str
    message_en: str
    where: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        loc = f" [{self.where}]" if self.where else ""
        return f"{self.severity} {self.code}{loc}: {self.message_zh} / {self.message_en}"


def has_errors(issues: list[Issue]) -> bool:
    return any(i.severity == "error" for i in issues)
