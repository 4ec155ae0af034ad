"""The one risk taxonomy every hegui module imports.

TC260-003 Appendix A (kept unchanged in GB/T 45654-2025) defines 5 categories and 31 risks,
A.1.a … A.5.b. hegui adds its own ids for things the Measures name elsewhere: each personal
information type (Art. 4(5), 11), prompt injection / jailbreak, spam and malware generation
(draft Art. 19) and secrets / trade-secret markers (Art. 4(3)). Each hegui id names the TC260 risk
it rolls up to, so a report can always be grouped by the 31 official risks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """Where a risk id comes from."""

    TC260 = "tc260"
    PII = "pii"
    HEGUI = "hegui"


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Risk:
    """One risk id with its bilingual names.

    ``parent`` is the TC260 risk a hegui-specific id rolls up to (``None`` for TC260 risks).
    """

    id: str
    category: str
    name_zh: str
    name_en: str
    kind: Kind = Kind.TC260
    parent: str | None = None
    aliases: tuple[str, ...] = field(default=())

    def name(self, lang: str = "zh") -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en

    @property
    def tc260(self) -> str:
        """The TC260 risk this id counts under (itself for TC260 risks)."""
        return self.id if self.kind is Kind.TC260 else (self.parent or self.id)


CATEGORIES: dict[str, Category] = {
    c.id: c
    for c in (
        Category("A.1", "包含违反社会主义核心价值观的内容", "Content violating the core socialist values"),
        Category("A.2", "包含歧视性内容", "Discriminatory content"),
        Category("A.3", "商业违法违规", "Commercial violations"),
        Category("A.4", "侵犯他人合法权益", "Infringement of others' legitimate rights"),
        Category("A.5", "无法满足特定服务类型的安全需求", "Failing the safety needs of specific service types"),
        Category("PII", "个人信息", "Personal information"),
        Category("HG", "hegui 扩展风险", "hegui extended risks"),
    )
}

_TC260: tuple[tuple[str, str, str], ...] = (
    ("A.1.a", "煽动颠覆国家政权、推翻社会主义制度", "Incitement to subvert state power and overthrow the socialist system"),
    ("A.1.b", "危害国家安全和利益、损害国家形象", "Endangering national security and interests; harming the image of the state"),
    ("A.1.c", "煽动分裂国家、破坏国家统一和社会稳定", "Incitement of separatism; undermining national unity and social stability"),
    ("A.1.d", "宣扬恐怖主义、极端主义", "Promotion of terrorism or extremism"),
    ("A.1.e", "宣扬民族仇恨", "Promotion of ethnic hatred"),
    ("A.1.f", "宣扬暴力、淫秽色情", "Promotion of violence, obscenity or pornography"),
    ("A.1.g", "传播虚假有害信息", "Dissemination of false and harmful information"),
    ("A.1.h", "其他法律、行政法规禁止的内容", "Other content prohibited by laws and administrative regulations"),
    ("A.2.a", "民族歧视内容", "Ethnic discrimination"),
    ("A.2.b", "信仰歧视内容", "Discrimination based on beliefs"),
    ("A.2.c", "国别歧视内容", "Nationality-based discrimination"),
    ("A.2.d", "地域歧视内容", "Discrimination based on regional origin"),
    ("A.2.e", "性别歧视内容", "Gender discrimination"),
    ("A.2.f", "年龄歧视内容", "Age discrimination"),
    ("A.2.g", "职业歧视内容", "Occupation-based discrimination"),
    ("A.2.h", "健康歧视内容", "Health-based discrimination"),
    ("A.2.i", "其他方面歧视内容", "Other discriminatory content"),
    ("A.3.a", "侵犯他人知识产权", "Infringement of others' intellectual property rights"),
    ("A.3.b", "违反商业道德", "Violation of business ethics"),
    ("A.3.c", "泄露他人商业秘密", "Disclosure of others' trade secrets"),
    ("A.3.d", "利用算法、数据、平台等优势，实施垄断和不正当竞争行为",
     "Using algorithms, data or platforms for monopolistic or unfair competition"),
    ("A.3.e", "其他商业违法违规行为", "Other commercial violations"),
    ("A.4.a", "危害他人身心健康", "Endangering others' physical or mental health"),
    ("A.4.b", "侵害他人肖像权", "Unauthorized use of another's likeness"),
    ("A.4.c", "侵害他人名誉权", "Defamation of reputation"),
    ("A.4.d", "侵害他人荣誉权", "Defamation of honor"),
    ("A.4.e", "侵害他人隐私权", "Infringement of privacy"),
    ("A.4.f", "侵害他人个人信息权益", "Infringement of personal-information rights"),
    ("A.4.g", "侵犯他人其他合法权益", "Infringement of other legitimate rights"),
    ("A.5.a", "内容不准确", "Inaccurate content"),
    ("A.5.b", "内容不可靠", "Unreliable content"),
)

# Personal-information types. All roll up to A.4.f (personal-information rights).
_PII: tuple[tuple[str, str, str], ...] = (
    ("pii.id_card", "居民身份证号码", "Resident identity card number"),
    ("pii.mobile", "手机号码", "Mobile phone number"),
    ("pii.landline", "固定电话号码", "Landline phone number"),
    ("pii.bank_card", "银行卡号", "Bank card number"),
    ("pii.email", "电子邮箱", "Email address"),
    ("pii.ip_address", "IP 地址", "IP address"),
    ("pii.passport", "护照号码", "Passport number"),
    ("pii.hmt_permit", "港澳台通行证/来往内地通行证号码", "Hong Kong/Macau/Taiwan travel permit number"),
    ("pii.uscc", "统一社会信用代码", "Unified social credit code"),
    ("pii.license_plate", "机动车号牌", "Vehicle licence plate"),
    ("pii.address", "详细地址", "Street address"),
    ("pii.person_name", "姓名", "Person name"),
)

# hegui's own risks, each with the TC260 risk it counts under.
_HEGUI: tuple[tuple[str, str, str, str], ...] = (
    ("hg.prompt_injection", "提示词注入/越狱", "Prompt injection / jailbreak", "A.1.h"),
    ("hg.spam", "垃圾信息/恶意营销生成", "Spam or malicious marketing generation (draft Art. 19)", "A.3.b"),
    ("hg.malware", "恶意软件编写", "Malware authoring (draft Art. 19)", "A.1.h"),
    ("hg.gambling", "赌博", "Gambling", "A.1.h"),
    ("hg.fraud", "诈骗", "Fraud", "A.1.h"),
    ("hg.secret", "密钥/凭据泄露", "Secret, credential or private-key disclosure", "A.3.c"),
    ("hg.trade_secret", "商业秘密标记", "Trade-secret marker (Art. 4(3))", "A.3.c"),
    ("hg.offensive", "辱骂/攻击性言论", "Offensive or abusive language", "A.4.a"),
    ("hg.blocklist", "投诉认定的违规内容", "Content upheld in a complaint (blocklist)", "A.1.h"),
    ("hg.unsafe_request", "不安全请求", "Unsafe request (asks for harmful or illegal help)", "A.1.h"),
)


def _build() -> dict[str, Risk]:
    risks: dict[str, Risk] = {}
    for rid, zh, en in _TC260:
        risks[rid] = Risk(rid, rid[:3], zh, en)
    for rid, zh, en in _PII:
        risks[rid] = Risk(rid, "PII", zh, en, Kind.PII, "A.4.f")
    for rid, zh, en, parent in _HEGUI:
        risks[rid] = Risk(rid, "HG", zh, en, Kind.HEGUI, parent)
    return risks


RISKS: dict[str, Risk] = _build()

TC260_RISKS: tuple[str, ...] = tuple(r for r in RISKS if RISKS[r].kind is Kind.TC260)
PII_RISKS: tuple[str, ...] = tuple(r for r in RISKS if RISKS[r].kind is Kind.PII)
HEGUI_RISKS: tuple[str, ...] = tuple(r for r in RISKS if RISKS[r].kind is Kind.HEGUI)
# The 17 risks of A.1 + A.2: the keyword-library and must-refuse subset (TC260-003 §8.1, §8.3).
MUST_REFUSE_RISKS: tuple[str, ...] = tuple(r for r in TC260_RISKS if r.startswith(("A.1.", "A.2.")))

assert len(TC260_RISKS) == 31 and len(MUST_REFUSE_RISKS) == 17


class UnknownRiskError(KeyError):
    """A risk id that is not in the taxonomy."""

    def __str__(self) -> str:  # KeyError quotes its arg; say it in words instead
        return f"unknown risk id {self.args[0]!r}; see `hegui.taxonomy.RISKS` for the valid ids"


def get(risk_id: str) -> Risk:
    """Look a risk up by id, raising a clear error for an unknown one."""
    try:
        return RISKS[risk_id]
    except KeyError:
        raise UnknownRiskError(risk_id) from None


def is_known(risk_id: str) -> bool:
    return risk_id in RISKS


def in_category(category: str) -> tuple[str, ...]:
    """Risk ids of a category ("A.1") or of a TC260 risk's hegui children ("A.4.f")."""
    if category in CATEGORIES:
        return tuple(r for r, v in RISKS.items() if v.category == category)
    return tuple(r for r, v in RISKS.items() if v.id == category or v.parent == category)
