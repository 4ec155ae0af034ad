"""The source manifest: where each part of the corpus came from, and the papers that prove it.

Art. 7 and TC260-003 §5 ask the provider to keep, per source, the licence, the collection record
(robots.txt for crawls), the contract or authorisation for commercial data, and the consent for
personal information. The scanner checks the manifest itself and maps every file to a source.
"""

from __future__ import annotations

import fnmatch
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ManifestError(ValueError):
    """The manifest cannot be read; the scan refuses to guess."""


class SourceType(StrEnum):
    OPEN_SOURCE = "open-source"
    SELF_COLLECTED = "self-collected"
    COMMERCIAL = "commercial"
    USER_INPUT = "user-input"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: SourceType
    license: str | None = None  # SPDX id, e.g. CC-BY-4.0, Apache-2.0, or "proprietary"
    evidence: list[str] = Field(default_factory=list)  # licence / contract / authorisation files
    robots_txt: bool | None = None  # crawls: did collection honour robots.txt?
    pi_consent: bool | None = None  # personal information: is consent (or another legal basis) recorded?
    consent_record: str | None = None
    language: str | None = None
    domain: str | None = None
    files: list[str] = Field(default_factory=list)  # globs, relative to the manifest (or absolute)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # What the trained model is for: a non-commercial licence does not cover a commercial model.
    model_use: str = Field(default="commercial", pattern="^(commercial|research)$")
    sources: list[Source]
    base_dir: str = ""

    def source_for(self, path: str) -> str | None:
        """The first source whose globs match ``path`` (absolute), else None."""
        for s in self.sources:
            for g in s.files:
                pattern = g if os.path.isabs(g) else os.path.join(self.base_dir, g)
                pattern = os.path.normpath(pattern)
                if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, os.path.join(pattern, "*")):
                    return s.name
        return None

    def get(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)


def load_manifest(path: Path) -> Manifest:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"来源清单不存在 manifest not found: {path}") from None
    except yaml.YAMLError as e:
        raise ManifestError(f"来源清单不是合法的 YAML manifest {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict) or "sources" not in data:
        raise ManifestError(f"来源清单须有 sources 列表 manifest {path} needs a top-level 'sources' list")
    try:
        m = Manifest(**data, base_dir=str(path.resolve().parent))
    except ValidationError as e:
        raise ManifestError(f"来源清单无效 invalid manifest {path}: {e}") from None
    names = [s.name for s in m.sources]
    if len(set(names)) != len(names):
        raise ManifestError(f"来源名称重复 duplicate source names in {path}: {names}")
    return m


_NC_MARKERS = ("-NC", "NONCOMMERCIAL", "NON-COMMERCIAL", "RESEARCH-ONLY", "ACADEMIC")


def is_non_commercial(spdx: str) -> bool:
    u = spdx.upper()
    return any(m in u for m in _NC_MARKERS)


def _finding(source: str, code: str, severity: str, zh: str, en: str) -> dict[str, Any]:
    return {"source": source, "code": code, "severity": severity, "message_zh": zh, "message_en": en}


def check_manifest(m: Manifest) -> list[dict[str, Any]]:
    """Manifest-level findings (severity ``error`` fails the filing, ``warning`` needs a look)."""
    out: list[dict[str, Any]] = []
    for s in m.sources:
        if not s.license:
            out.append(_finding(s.name, "missing_license", "error", "未登记许可证", "no licence recorded"))
        elif m.model_use == "commercial" and is_non_commercial(s.license):
            out.append(_finding(s.name, "nc_license_commercial", "error",
                                f"许可证 {s.license} 不允许商用，而模型用于商业服务",
                                f"licence {s.license} is non-commercial but the model is for a commercial service"))
        if s.type in (SourceType.COMMERCIAL, SourceType.USER_INPUT) and not s.evidence:
            what = ("交易合同或合作协议", "a contract or agreement") if s.type is SourceType.COMMERCIAL else \
                ("用户授权记录", "a user authorisation record")
            out.append(_finding(s.name, "missing_authorisation", "error", f"缺少{what[0]}", f"no {what[1]} recorded"))
        if s.type is SourceType.OPEN_SOURCE and not s.evidence:
            out.append(_finding(s.name, "missing_license_evidence", "warning", "缺少许可证文本或来源记录",
                                "no licence text or provenance record"))
        if s.type is SourceType.SELF_COLLECTED:
            if s.robots_txt is None:
                out.append(_finding(s.name, "robots_unknown", "warning", "未记录是否遵守 robots.txt",
                                    "robots.txt compliance not recorded"))
            elif s.robots_txt is False:
                out.append(_finding(s.name, "robots_ignored", "error", "采集未遵守 robots.txt",
                                    "collection did not honour robots.txt"))
            if not s.evidence:
                out.append(_finding(s.name, "missing_collection_record", "warning", "缺少采集记录",
                                    "no collection record"))
        if s.pi_consent is True and not s.consent_record:
            out.append(_finding(s.name, "missing_consent_record", "error", "声称已取得个人信息同意但无同意记录",
                                "personal-information consent claimed without a consent record"))
        for ev in [*s.evidence, *([s.consent_record] if s.consent_record else [])]:
            p = ev if os.path.isabs(ev) else os.path.join(m.base_dir, ev)
            if not os.path.exists(p):
                out.append(_finding(s.name, "evidence_not_found", "error", f"证明材料不存在: {ev}",
                                    f"evidence file not found: {ev}"))
        if not s.files:
            out.append(_finding(s.name, "no_files", "warning", "来源未列出文件", "source lists no files"))
    return out
