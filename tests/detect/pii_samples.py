"""Texts for the PII gate tests: synthetic PII of every type the recognisers know, planted into
real or random text, and random texts built to hit the gates' edges (digits of other scripts,
full-width forms, emoji, lone surrogates, NUL).

The values are made with our own validators (checksum-valid IDs, cards, USCCs): no real person's
data. Also used by the one-off comparison against the previous commit (see BENCHMARKS.md).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from hegui.detect.pii.validators import luhn_check_digit, make_resident_id, make_uscc

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

_REGIONS = ("110105", "310104", "440305", "330106", "510107", "420106", "320102")
_SURNAMES = "王李张刘陈杨黄赵吴周欧阳司马诸葛高林文明"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
_TITLES = ("先生", "女士", "老师", "同学", "经理", "主任", "阿姨")
_CUES = (
    "我叫",
    "我的名字是",
    "姓名：",
    "姓名",
    "联系人：",
    "收件人",
    "患者：",
    "学生:",
    "name: ",
    "my name is ",
)
_OTHER_DIGITS = "٠١٢٣٤٥٦٧٨٩۴০১২੩୪௫౬೭൮๙໐༡၂႓០᠔᥆᧑᪒᭓᮴᱅꘠꣐꤁꧒꩓꯴０１２"
_ASTRAL_DIGITS = "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗𑁦𑁧𞥐🯰🯱"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _name(rng: random.Random) -> str:
    surname = rng.choice(["欧阳", "司马", "诸葛", *"王李张刘陈杨黄赵吴周高林文"])
    return surname + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(0, 2)))


def _card(rng: random.Random) -> str:
    body = rng.choice(["622202", "621700", "436742", "4", "55", "9"]) + _digits(rng, 9)
    body = body + _digits(rng, rng.randint(15, 18) - len(body))
    return body + luhn_check_digit(body)


def _grouped(value: str, sep: str) -> str:
    return sep.join(value[i : i + 4] for i in range(0, len(value), 4))


def _pii(rng: random.Random) -> Iterator[Callable[[], str]]:
    """One generator per PII shape (all recognisers, several shapes each)."""
    birth = lambda: dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(28000))  # noqa: E731
    yield lambda: f"身份证号{make_resident_id(rng.choice(_REGIONS), birth(), rng.randrange(1000))}"
    yield lambda: make_resident_id(rng.choice(_REGIONS), birth(), rng.randrange(1000))
    yield lambda: f"身份证 {make_resident_id(rng.choice(_REGIONS), birth(), 5)[:17]}{rng.randrange(10)}"
    yield lambda: f"旧证件号{rng.choice(_REGIONS)}{birth():%y%m%d}{_digits(rng, 3)}"
    yield lambda: f"手机1{rng.choice('3456789')}{_digits(rng, 9)}"
    yield lambda: f"电话 +86 1{rng.choice('3589')}{_digits(rng, 1)}-{_digits(rng, 4)}-{_digits(rng, 4)}"
    yield lambda: f"0086 13{_digits(rng, 1)} {_digits(rng, 4)} {_digits(rng, 4)}"
    yield lambda: f"座机0{rng.choice(['10', '21', '755', '571'])}-{rng.randrange(2, 9)}{_digits(rng, 7)}"
    yield lambda: f"(0755){rng.randrange(2, 9)}{_digits(rng, 6)}转{_digits(rng, 3)}"
    yield lambda: f"卡号{_card(rng)}"
    yield lambda: _grouped(_card(rng), rng.choice(" -"))
    yield lambda: f"银行卡 {_digits(rng, 6)} {_digits(rng, 10)}"
    yield lambda: f"邮箱 user.{rng.randrange(10**5)}@mail{rng.randrange(9)}.example.com"
    yield lambda: f"a_b@c-d.co{rng.choice(['', 'm', '.cn'])}"
    yield (
        lambda: f"服务器 {rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
    )
    yield lambda: f"版本 v{rng.randrange(9)}.{rng.randrange(9)}.{rng.randrange(9)}.{rng.randrange(9)}"
    yield lambda: rng.choice(
        ["ip 2001:db8::1", "fe80::1:2", "::1", "::ffff:10.0.0.1", "主机 1:2:3:4:5:6:7:8"]
    )
    yield lambda: f"护照号e{_digits(rng, 8)}"
    yield lambda: f"passport e{rng.choice('abcdhjk')}{_digits(rng, 7)} g{_digits(rng, 8)} p{_digits(rng, 7)}"
    yield lambda: f"通行证c{rng.choice('0123abc')}{_digits(rng, 7)} w{_digits(rng, 8)}"
    yield lambda: f"回乡证h{_digits(rng, rng.choice([8, 10]))} 台胞证{_digits(rng, 8)} t{_digits(rng, 8)}"
    yield (
        lambda: (
            f"统一社会信用代码{make_uscc('91' + rng.choice(_REGIONS) + ''.join(rng.choice('0123456789abcdefgh') for _ in range(9)))}"
        )
    )
    yield lambda: make_uscc("9" + _digits(rng, 16))
    yield (
        lambda: (
            f"车牌{rng.choice('京沪粤川')}{rng.choice('abcde')}{rng.choice(['', '·', ' '])}{rng.choice(['12345', 'd12345', '1234警', 'a1b23'])}"
        )
    )
    yield lambda: f"使{_digits(rng, 6)}"
    yield (
        lambda: (
            f"收货地址：广东省深圳市南山区科技园路{rng.randrange(1, 300)}号{rng.randrange(1, 9)}栋{rng.randrange(101, 2000)}室"
        )
    )
    yield lambda: f"住在北京市朝阳区建国路{rng.randrange(1, 99)}号"
    yield (
        lambda: (
            f"家住{rng.choice(['幸福', '阳光', '万科'])}小区{rng.randrange(1, 30)}号楼{rng.randrange(1, 6)}单元{rng.randrange(101, 999)}"
        )
    )
    yield lambda: f"浙江省杭州市西湖区{rng.choice(['文三', '天目山'])}路"
    yield (
        lambda: (
            f"寄到{rng.choice(['人民', '中山'])}大道{rng.choice(['一', '十二', '8'])}号{rng.choice(['', 'a座', '3楼'])}"
        )
    )
    yield lambda: f"{rng.choice(_CUES)}{_name(rng)}"
    yield lambda: f"{rng.choice(['谢谢', '请', '和', ''])}{_name(rng)}{rng.choice(_TITLES)}"
    yield (
        lambda: (
            "-----begin rsa private key-----\nmiieowibaakcaqea"
            + "a" * rng.randint(0, 40)
            + "\n-----end rsa private key-----"
        )
    )
    yield lambda: "-----begin openssh private key-----\n" + "b3blbnnzac1rzxktdjeaaaaa" * rng.randint(1, 3)
    yield (
        lambda: (
            rng.choice(["akia", "asia"])
            + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
        )
    )
    yield (
        lambda: "sk-" + rng.choice(["", "proj-", "ant-"]) + "".join(rng.choice("abc123_-") for _ in range(24))
    )
    yield lambda: "ghp_" + "a1" * 18 + " glpat-" + "x9" * 10 + " xoxb-" + _digits(rng, 12)
    yield lambda: "aiza" + "b" * 35 + " sk_live_" + "c4" * 8 + " eyj" + "a" * 9 + ".eyj" + "b" * 9 + ".c" * 5
    yield (
        lambda: (
            f"{rng.choice(['token', 'api_key', 'password', '密码是', 'client secret'])}={''.join(rng.choice('abcdefghijklmnopqrstuvwxyz0123456789+/') for _ in range(24))}"
        )
    )


def _other_script(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_OTHER_DIGITS + _ASTRAL_DIGITS + "0123456789") for _ in range(n))


def plant(text: str, rng: random.Random, generators: list[Callable[[], str]]) -> str:
    """``text`` with one to three PII values (or digit runs in other scripts) inserted."""
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.15:
            value = rng.choice(["身份证", "卡号", "手机", "通行证", "护照", ""]) + _other_script(
                rng, rng.randint(6, 19)
            )
        else:
            value = rng.choice(generators)()
        if rng.random() < 0.1:
            value = value.upper()
        cut = rng.randrange(len(text) + 1)
        text = (
            text[:cut]
            + rng.choice(["", " ", "，", "\n"])
            + value
            + rng.choice(["", "。", " ", "号"])
            + text[cut:]
        )
    return text


# Characters for random texts: the gates' edge cases next to the recognisers' own vocabulary.
_ALPHABET = (
    list("0123456789" * 4)
    + list(" -.:@+()_#/=,\n\t\r")
    + list("abcdefghijklmnopqrstuvwxyzEGX")
    + list("路街巷弄大道胡同小区花园公寓大厦新村家园苑村号栋幢座单元室房楼层省区市州盟县旗街道镇乡一二三十百")
    + list("京沪粤使先生女士老师同学王李欧阳我叫姓名联系人学生身份证手机护照通行证台胞证密码")
    + list(_OTHER_DIGITS)
    + list(_ASTRAL_DIGITS)
    + [
        "\ud800",
        "\udfff",
        "\ud83d",
        "\x00",
        "\u3000",
        "\u00a0",
        "\u2028",
        "😀",
        "👍",
        "𠀀",
        "\U000e0001",
        "\uffff",
        "ß",
        "İ",
    ]
)


def random_texts(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    gens = list(_pii(rng))
    out = []
    for _ in range(n):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 60)))
        out.append(plant(text, rng, gens) if rng.random() < 0.5 else text)
    return out


def corpus_texts(limit: int, seed: int = 3, plant_share: float = 0.3) -> list[str]:
    """Up to ``limit`` real texts (benign prompts, CED Weibo posts, COLD comments), a share with PII."""
    rng = random.Random(seed)
    gens = list(_pii(rng))
    per_source: list[list[str]] = []
    sources = [
        (DATA / "prompts" / "benign" / "train.jsonl", "json"),
        (DATA / "rumours" / "ced_posts.jsonl", "json"),
        (DATA / "cold" / "train.csv", "csv"),
    ]
    for path, kind in sources:
        if not path.exists():
            continue
        with path.open(encoding="utf-8-sig") as fh:
            if kind == "json":
                texts = [json.loads(line)["text"] for line, _ in zip(fh, range(limit), strict=False)]
            else:
                import csv

                texts = [row["TEXT"] for row, _ in zip(csv.DictReader(fh), range(limit), strict=False)]
        per_source.append(texts)
    # Round robin, so that every source is represented whatever the limit.
    raw = [t for group in itertools.zip_longest(*per_source) for t in group if t is not None][:limit]
    return [plant(t, rng, gens) if rng.random() < plant_share else t for t in raw[:limit]]
