"""Every recogniser: valid, invalid-checksum, boundary and embedded cases, on normalised text.

All identifiers are synthetic, built with our own validators; none belongs to a real person.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hegui.detect.base import DetectorRegistry
from hegui.detect.pii import PiiDetector, builtin_names
from hegui.detect.pii.recognizers import ResidentIdRecognizer
from hegui.detect.pii.validators import luhn_check_digit, make_resident_id, make_uscc
from hegui.text import normalize

DETECTOR = PiiDetector()


def found(text: str, risk: str | None = None, *, min_score: float = 0.5) -> list[str]:
    """Values (in the normalised text) the detector reports, optionally for one risk only."""
    det = DETECTOR if min_score == 0.5 else PiiDetector(min_score=min_score)
    norm = normalize(text)
    return [norm.text[f.start : f.end] for f in det.detect(norm) if risk is None or f.risk == risk]


ID = make_resident_id("110105", dt.date(1990, 3, 7), 123)
BAD_ID = ID[:-1] + ("0" if ID[-1] != "0" else "1")
CARD_BODY = "622202123456789012"
CARD = CARD_BODY + luhn_check_digit(CARD_BODY)
BAD_CARD = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
USCC = make_uscc("91350100M000100Y4")


# -- resident ID ---------------------------------------------------------------------------------


def test_id_valid_and_after_chinese() -> None:
    assert found(f"身份证号{ID}。", "pii.id_card") == [ID]
    assert found(f"{ID}", "pii.id_card") == [ID]


def test_id_with_x_check_char_uppercase_and_fullwidth() -> None:
    idn = "11010519491231002X"
    fw = idn.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert found(f"证件：{fw}", "pii.id_card") == [idn.lower()]


def test_id_invalid_checksum_only_with_context() -> None:
    assert found(f"编号{BAD_ID}", "pii.id_card") == []
    # A mistyped ID next to 身份证 is still an ID: reported on the strength of the context.
    assert found(f"我的身份证号是{BAD_ID}", "pii.id_card") == [BAD_ID]


def test_id_inside_longer_digit_run_does_not_match() -> None:
    assert found(f"订单号9{ID}5", "pii.id_card") == []
    assert found(f"{ID}0", "pii.id_card") == []
    assert found(f"a{ID}b", "pii.id_card") == [ID]  # letters are a boundary for digits


def test_id_bad_region_date_rejected() -> None:
    first17 = "99010519900307123"
    from hegui.detect.pii.validators import id_check_char

    assert found("身份证" + first17 + id_check_char(first17), "pii.id_card") == []
    feb30 = "11010519900230123"
    assert found("身份证" + feb30 + id_check_char(feb30), "pii.id_card") == []


def test_id_future_birth_date_rejected() -> None:
    rec = ResidentIdRecognizer(today=dt.date(2020, 1, 1))
    future = make_resident_id("110105", dt.date(2021, 1, 1), 5)
    assert rec.analyze(future) == []
    assert [r.validated for r in rec.analyze(ID)] == [True]


def test_id_15_digit_needs_context() -> None:
    old = "110105900307123"
    assert found(f"号码{old}", "pii.id_card") == []
    assert found(f"身份证{old}", "pii.id_card") == [old]


# -- mobile ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("电话13812345678", "13812345678"),
        ("找我13812345678吧", "13812345678"),
        ("138 1234 5678", "138 1234 5678"),
        ("138-1234-5678", "138-1234-5678"),
        ("+86 138 1234 5678", "+86 138 1234 5678"),
        ("0086-13812345678", "0086-13812345678"),
        ("手机：１３８１２３４５６７８", "13812345678"),
        ("号码19998321312。", "19998321312"),
    ],
)
def test_mobile_valid(text: str, value: str) -> None:
    assert found(text, "pii.mobile") == [value]


@pytest.mark.parametrize(
    "text",
    ["12812345678", "15412345678", "138123456789", "913812345678", "1381234567", "订单213812345678"],
)
def test_mobile_invalid_or_embedded(text: str) -> None:
    assert found(text, "pii.mobile") == []


# -- landline --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("电话010-87654321", "010-87654321"),
        ("0755-2345678", "0755-2345678"),
        ("(021)87654321", "(021)87654321"),
        ("总机0571-87654321转8001", "0571-87654321转8001"),
        ("座机075523456789", "075523456789"),
    ],
)
def test_landline_valid(text: str, value: str) -> None:
    assert found(text, "pii.landline") == [value]


@pytest.mark.parametrize("text", ["010-2345678", "9010-23456789", "0755-0234567", "010-234567890", "010-12345678"])
def test_landline_invalid(text: str) -> None:
    assert found(text, "pii.landline") == []


# -- bank card -------------------------------------------------------------------------------------


def test_bank_card_valid_plain_and_grouped() -> None:
    assert found(f"卡号{CARD}", "pii.bank_card") == [CARD]
    grouped = " ".join(CARD[i : i + 4] for i in range(0, len(CARD), 4))
    assert found(f"请转账到 {grouped} 谢谢", "pii.bank_card") == [grouped]
    visa = "4111111111111111"  # the well-known test number still counts
    assert found(visa, "pii.bank_card") == [visa]


def test_bank_card_invalid_luhn_and_embedded() -> None:
    assert found(f"卡号{BAD_CARD}", "pii.bank_card") == []
    assert found(f"123{CARD}4", "pii.bank_card") == []
    assert found("0000000000000000", "pii.bank_card") == []


def test_bank_card_known_bin_scores_higher() -> None:
    unknown_body = "990000123456789"
    unknown = unknown_body + luhn_check_digit(unknown_body)
    (known_f,) = [f for f in DETECTOR.detect(normalize(CARD)) if f.risk == "pii.bank_card"]
    (unknown_f,) = [f for f in DETECTOR.detect(normalize(unknown)) if f.risk == "pii.bank_card"]
    assert known_f.score > unknown_f.score


def test_valid_id_is_not_also_a_bank_card() -> None:
    risks = [f.risk for f in DETECTOR.detect(normalize(ID))]
    assert risks == ["pii.id_card"]


# -- email, IP -------------------------------------------------------------------------------------


def test_email() -> None:
    assert found("邮箱Zhang.San+ai@Mail.Example.com。", "pii.email") == ["zhang.san+ai@mail.example.com"]
    assert found("联系ｚｓ＠ｅｘａｍｐｌｅ．ｃｎ", "pii.email") == ["zs@example.cn"]
    assert found("a@b", "pii.email") == []
    assert found("x..y@example.com", "pii.email") == []


@pytest.mark.parametrize(("text", "value"), [("服务器ip是10.0.0.12", "10.0.0.12"), ("来自 203.0.113.7 的访问", "203.0.113.7")])
def test_ipv4(text: str, value: str) -> None:
    assert found(text, "pii.ip_address") == [value]


@pytest.mark.parametrize("text", ["版本1.2.3", "v1.2.3.4", "version 10.0.0.1", "256.1.1.1", "1.2.3.4.5", "01.2.3.4"])
def test_ipv4_not_versions_or_bad_octets(text: str) -> None:
    assert found(text, "pii.ip_address") == []


def test_ipv6() -> None:
    assert found("地址2001:db8::8a2e:370:7334。", "pii.ip_address") == ["2001:db8::8a2e:370:7334"]
    assert found("fe80:0:0:0:200:f8ff:fe21:67cf", "pii.ip_address") == ["fe80:0:0:0:200:f8ff:fe21:67cf"]
    assert found("时间12:30:45", "pii.ip_address") == []
    assert found("mac 00:1a:2b:3c:4d:5e", "pii.ip_address") == []


# -- passport, permits, USCC -----------------------------------------------------------------------


def test_passport_needs_context_and_is_case_folded() -> None:
    assert found("护照号E12345678", "pii.passport") == ["e12345678"]
    assert found("passport: EA1234567", "pii.passport") == ["ea1234567"]
    assert found("型号E12345678", "pii.passport") == []
    assert found("护照号E123456789", "pii.passport") == []  # too long
    assert found("护照号XE12345678", "pii.passport") == []  # embedded


def test_hmt_permits() -> None:
    assert found("港澳通行证C12345678", "pii.hmt_permit") == ["c12345678"]
    assert found("回乡证H12345678", "pii.hmt_permit") == ["h12345678"]
    assert found("往来台湾通行证T12345678", "pii.hmt_permit") == ["t12345678"]
    assert found("台胞证号码12345678", "pii.hmt_permit") == ["12345678"]
    assert found("订单12345678", "pii.hmt_permit") == []  # 8 bare digits need context
    assert found("台胞证20200101", "pii.hmt_permit") == []  # reads as a date


def test_uscc_valid_invalid_embedded() -> None:
    assert found(f"统一社会信用代码：{USCC}", "pii.uscc") == [USCC.lower()]
    assert found(USCC, "pii.uscc") == [USCC.lower()]
    assert found(USCC[:-1] + "4", "pii.uscc") == []
    assert found(f"x{USCC}", "pii.uscc") == []


# -- licence plates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("车牌京A12345", "京a12345"),
        ("粤B·D12345", "粤b·d12345"),
        ("沪AD12345", "沪ad12345"),
        ("苏E12345D", "苏e12345d"),
        ("京A1234警", "京a1234警"),
        ("鲁B1234学", "鲁b1234学"),
        ("冀A1234挂", "冀a1234挂"),
        ("滬A12345", "沪a12345"),  # traditional → simplified
    ],
)
def test_plates_valid(text: str, value: str) -> None:
    assert found(text, "pii.license_plate") == [value]


@pytest.mark.parametrize("text", ["京I12345", "京A123456", "京Aabcde", "京A1234"])
def test_plates_invalid(text: str) -> None:
    assert found(text, "pii.license_plate") == []


# -- addresses -------------------------------------------------------------------------------------


def test_address_full_chain() -> None:
    text = "收货地址：浙江省杭州市西湖区文三路478号华星时代广场A座1203室，电话联系"
    (addr,) = found(text, "pii.address")
    assert addr.startswith("浙江省杭州市西湖区文三路478号")


def test_address_trims_lead_words_and_estates() -> None:
    assert found("我家住在北京市朝阳区建国路88号", "pii.address") == ["北京市朝阳区建国路88号"]
    (estate,) = found("住阳光花园小区3栋2单元501室", "pii.address")
    assert estate.endswith("3栋2单元501室")


def test_address_not_in_ordinary_text() -> None:
    assert found("一路上我们聊了很多，思路很清晰，走在街上看到花园。") == []
    assert found("北京市是中国的首都。") == []


# -- person names ----------------------------------------------------------------------------------


def test_names_with_cues_and_titles() -> None:
    assert found("你好，我叫王小明，今年十岁", "pii.person_name") == ["王小明"]
    assert found("姓名：欧阳娜娜", "pii.person_name") == ["欧阳娜娜"]
    assert found("谢谢李建国先生的帮助", "pii.person_name") == ["李建国"]
    assert found("联系人：张伟", "pii.person_name") == ["张伟"]


def test_names_not_common_words() -> None:
    assert found("我是高中老师，教数学", "pii.person_name") == []
    assert found("王者荣耀很好玩", "pii.person_name") == []
    assert found("王先生", "pii.person_name") == []  # a surname alone is weak (0.4)
    assert found("王先生", "pii.person_name", min_score=0.3) == ["王"]


# -- secrets ---------------------------------------------------------------------------------------


def test_private_key_block_and_truncated_head() -> None:
    block = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
    assert found(f"这是我的key {block} 帮我看看", "hg.secret") == [block.lower()]
    head = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    assert found(head, "hg.secret") == [head.lower()]


@pytest.mark.parametrize(
    "token",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "sk-proj-Abc123Def456Ghi789Jkl012Mno345",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "xoxb-1234567890-abcdefghij",
        "AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "glpat-abcdefghij0123456789",
    ],
)
def test_vendor_tokens(token: str) -> None:
    assert found(f"配置 {token} 完成", "hg.secret") == [token.lower()]


def test_vendor_tokens_embedded_or_plain_words() -> None:
    assert found("XAKIAIOSFODNN7EXAMPLE", "hg.secret") == []
    assert found("sk-learn is a library", "hg.secret") == []
    assert found("task-management-system-for-everyone", "hg.secret") == []


def test_generic_secret_needs_entropy() -> None:
    assert found("api_key = 'q8Zr3kP0xW7mN2bV5cL9'", "hg.secret") == ["q8zr3kp0xw7mn2bv5cl9"]
    assert found("密码是Xk93mZq8Lp02Ab7Y", "hg.secret") == ["xk93mzq8lp02ab7y"]
    assert found("password = 'aaaaaaaaaaaaaaaa1'", "hg.secret") == []
    assert found("token: abcdefghijklmnopqrst", "hg.secret") == []


# -- the detector ----------------------------------------------------------------------------------


def test_registered_with_options() -> None:
    det = DetectorRegistry.create("pii", disabled=["person_name"], min_score=0.7)
    assert det.name == "pii"
    assert "person_name" not in det.recognizers  # type: ignore[attr-defined]
    assert len(det.recognizers) == len(builtin_names()) - 1  # type: ignore[attr-defined]
    assert det.detect(normalize("我叫王小明")) == []


def test_bad_options_fail_with_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown PII recogniser 'nope'"):
        PiiDetector(disabled=["nope"])
    with pytest.raises(ValueError, match="min_score"):
        PiiDetector(min_score=2)
    with pytest.raises(ValueError, match="unknown options"):
        DetectorRegistry.create("pii", bogus=1)


def test_min_score_filters() -> None:
    text = "型号E12345678"
    assert found(text, "pii.passport") == []
    assert found(text, "pii.passport", min_score=0.3) == ["e12345678"]


def test_evidence_and_meta_never_hold_the_value() -> None:
    text = f"我叫王小明，身份证{ID}，手机13812345678，卡号{CARD}，邮箱wang@example.com，token=Q8zr3kP0xW7mN2bV5cL9"
    findings = DETECTOR.detect(normalize(text))
    assert {f.risk for f in findings} >= {"pii.id_card", "pii.mobile", "pii.bank_card", "pii.email", "hg.secret"}
    for f in findings:
        blob = f.evidence + repr(f.meta) + repr(f.to_dict())
        value = normalize(text).text[f.start : f.end]
        assert value not in blob
        assert f.detector == "pii"
        assert f.meta["recognizer"] in builtin_names()


def test_ordinary_chinese_text_finds_nothing() -> None:
    texts = [
        "将鸡蛋打散，加入少许盐，热锅凉油，倒入蛋液翻炒至凝固，再加入西红柿炒匀即可。",
        "今天的数学作业是第35页的1到12题，明天上午9点交。",
        "据新华社报道，2023年全国粮食总产量达到13908亿斤，比上年增长1.3%。",
        "Python 3.11.4 发布了，性能提升了 25%。",
    ]
    for t in texts:
        assert found(t) == [], t
