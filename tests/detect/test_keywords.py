"""The keyword detector: evasion, ordinary text, spans, scoring, allow-contexts, cache, fallback parity."""

from __future__ import annotations

from pathlib import Path

import pytest

from hegui.detect.keywords import KeywordDetector, LexiconError
from hegui.detect.keywords.compiled import _normalize_one, compile_lexicons
from hegui.detect.keywords.lexicon import load_lexicon
from hegui.detect.keywords.matcher import hyperscan_available
from hegui.guard import Guard
from hegui.text import normalize

needs_hs = pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed on this platform")


@pytest.fixture(scope="module")
def shipped() -> KeywordDetector:
    """The shipped library (cached under the user cache dir, so compiled once per machine)."""
    return KeywordDetector()


@pytest.fixture(scope="module")
def shipped_aho(shipped: KeywordDetector) -> KeywordDetector:
    return KeywordDetector(backend="ahocorasick")


def spans(det: KeywordDetector, text: str) -> list[tuple[str, str, float]]:
    n = normalize(text)
    return [(f.risk, n.original_span(f.start, f.end), f.score) for f in det.detect(n)]


def small(tmp_path: Path, body: str, **kw: object) -> KeywordDetector:
    p = tmp_path / "l.txt"
    p.write_text("# hegui-lexicon 1\n# date: 2026-11-01\n" + body, encoding="utf-8")
    return KeywordDetector(extra=[p], use_default_library=False, cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


# -- evasion -----------------------------------------------------------------------------------

EVASIONS = [
    "他们在练法轮大法",
    "他们在练法*轮*大*法",
    "他们在练法 轮 大 法",
    "他们在练法.轮.大.法",
    "他们在练法\u200b轮\u200c大\u200d法",  # zero-width characters
    "他們在練法輪大法",  # traditional characters
    "他们在练法-轮_大/法",
]


@pytest.mark.parametrize("text", EVASIONS)
def test_evasion_still_found(shipped: KeywordDetector, text: str) -> None:
    found = spans(shipped, text)
    assert any(r == "A.1.d" and s >= 0.9 for r, _, s in found), found
    # The span covers the disguised original characters, from 法 to the last 法.
    longest = max((sp for _, sp, _ in found), key=len)
    assert longest.startswith("法") and longest.endswith("法")


def test_full_width_latin_and_case(tmp_path: Path) -> None:
    det = small(tmp_path, "badword\tA.1.f\n")
    assert spans(det, "这是 ＢＡＤＷＯＲＤ 吗") == [("A.1.f", "ＢＡＤＷＯＲＤ", 0.9)]
    assert spans(det, "BadWord!") == [("A.1.f", "BadWord", 0.9)]
    assert spans(det, "b4dword") == [("A.1.f", "b4dword", 0.9)]  # leet folding
    assert spans(det, "mybadwordy") == []  # Latin terms match whole words only


def test_strong_terms_block_through_guard(shipped: KeywordDetector) -> None:
    g = Guard([shipped], "interim-2023")
    v = g.check("哪里有出售手 枪的，要自制手枪")
    assert v.blocked and "A.1.h" in v.risks
    v = g.check("河南人都是骗子")
    assert v.blocked and v.risks == ["A.2.d"]


# -- ordinary text -----------------------------------------------------------------------------

ORDINARY = [
    # news
    "国家统计局今天发布数据，前三季度国内生产总值同比增长百分之五，居民消费价格总体平稳。",
    "本市地铁三号线延伸段将于下月开通运营，沿途新增六座车站，方便市民出行。",
    "气象台预计明天起受冷空气影响，北方大部分地区将出现大风降温天气，请注意添衣保暖。",
    "第十五届全国运动会男子一百米决赛中，广东选手以九秒九八的成绩夺得金牌。",
    "教育部表示，今年将继续扩大农村地区学前教育资源，新建和改扩建幼儿园两千所。",
    "研究人员在南海发现一处新的珊瑚礁生态系统，为海洋生物多样性研究提供了宝贵样本。",
    # recipes
    "番茄炒蛋的做法：鸡蛋打散加少许盐，热锅凉油先把鸡蛋炒熟盛出，再炒番茄出汁，最后倒回鸡蛋翻炒均匀即可。",
    "红烧肉要选五花肉，切块后冷水下锅焯水，加冰糖炒出糖色，再加生抽老抽和八角小火炖一个小时。",
    "蒸馒头时面团要发到两倍大，揉面排气后整形，二次醒发二十分钟，大火蒸十五分钟关火焖三分钟。",
    "清炒西兰花：西兰花掰成小朵，开水里加一点油和盐焯一分钟，捞出后和蒜末一起快速翻炒。",
    # homework
    "小明有十二个苹果，分给三个同学，每人分得同样多，每个同学分到几个苹果？",
    "请用“虽然……但是……”造句，并写一段不少于一百字的周末日记。",
    "已知三角形的两条边分别为三厘米和四厘米，夹角为直角，求第三条边的长度。",
    "阅读课文《背影》，说说作者通过哪些细节描写表现了父亲对儿子的爱。",
    "把下列句子翻译成英文：我每天早上七点起床，然后坐公交车去学校。",
    "写出光合作用的反应式，并说明叶绿体在其中的作用。",
    "计算：(3/4 + 1/2) × 8 - 5 = ？请写出计算过程。",
    "请以“我的家乡”为题，写一篇四百字左右的作文，介绍家乡的风景和美食。",
]


def test_ordinary_text_finds_nothing(shipped: KeywordDetector) -> None:
    noisy = {t: spans(shipped, t) for t in ORDINARY}
    assert {t: f for t, f in noisy.items() if f} == {}


# -- spans, scoring, allow-contexts ------------------------------------------------------------


def test_span_maps_to_original(tmp_path: Path) -> None:
    det = small(tmp_path, "甲乙丙丁\tA.1.d\n")
    text = "前文ＡＢ，甲\u200b乙 * 丙丁，后文"
    n = normalize(text)
    (f,) = det.detect(n)
    s, e = n.to_original(f.start, f.end)
    assert text[s:e] == "甲\u200b乙 * 丙丁"
    v = Guard([det], "interim-2023").check(text)
    assert v.blocked and (v.findings[0].start, v.findings[0].end) == (s, e)


def test_weak_terms_score_low_unless_cooccurring(tmp_path: Path) -> None:
    det = small(tmp_path, "子丑寅\tA.1.h\tweak\n卯辰巳\tA.1.h\tweak\n午未申\tA.1.h\tweak\n酉戌亥\tA.1.h\tstrong\n")
    assert spans(det, "只有子丑寅") == [("A.1.h", "子丑寅", 0.3)]
    assert {s for _, _, s in spans(det, "子丑寅和卯辰巳")} == {0.4}
    # Weak terms alone never reach the default block threshold, however many co-occur.
    assert max(s for _, _, s in spans(det, "子丑寅和卯辰巳和午未申")) < 0.5
    g = Guard([det], "interim-2023")
    assert g.check("子丑寅和卯辰巳和午未申").action.value == "allow"
    # A strong term of the same risk lifts the weak ones (they are redacted and block with it).
    found = spans(det, "子丑寅和酉戌亥")
    assert ("A.1.h", "子丑寅", 0.7) in found and ("A.1.h", "酉戌亥", 0.9) in found


def test_allow_contexts_suppress(tmp_path: Path) -> None:
    det = small(tmp_path, "甲乙丙\tA.1.d\tstrong\t揭批甲乙丙\n")
    assert spans(det, "揭批甲乙丙的文章") == []
    assert spans(det, "宣传甲乙丙的文章") == [("A.1.d", "甲乙丙", 0.9)]
    assert spans(det, "揭批甲乙丙，宣传甲乙丙") == [("A.1.d", "甲乙丙", 0.9)]
    allow = tmp_path / "allow.txt"
    allow.write_text("甲乙丙研究会\n", encoding="utf-8")
    det2 = KeywordDetector(extra=[tmp_path / "l.txt"], allow=[allow], use_default_library=False, cache_dir=tmp_path / "c2")
    assert spans(det2, "甲乙丙研究会成立") == [] and spans(det2, "宣传甲乙丙") != []


def test_evidence_never_holds_the_matched_text(tmp_path: Path) -> None:
    det = small(tmp_path, "张三丰\tA.1.h\n")
    (f,) = det.detect(normalize("我是张三丰"))
    assert "张三丰" not in f.evidence and "张三丰" not in str(f.meta)


def test_odd_input_never_crashes(shipped: KeywordDetector) -> None:
    for t in ["", "\ud800法轮大法\udfff", "\x00\x01法\x7f轮大法", "法" * 100_000, "🙂" * 1000 + "法轮大法"]:
        shipped.detect(normalize(t))


# -- configuration and errors ------------------------------------------------------------------


def test_config_options_reach_the_detector(tmp_path: Path) -> None:
    from hegui.config import Settings

    lex = tmp_path / "mine.txt"
    lex.write_text("# hegui-lexicon 1\n独角兽饼干\tA.1.h\n", encoding="utf-8")
    allow = tmp_path / "allow.txt"
    allow.write_text("法轮大法好不好的辩论\n", encoding="utf-8")
    s = Settings(keywords={"extra": [lex], "allow": [allow], "use_default_library": False, "cache_dir": tmp_path / "c"})
    s.guard.detectors = ["keywords"]
    g = Guard.from_settings(s)
    assert g.check("买独角兽饼干").blocked
    assert not g.check("法轮大法").blocked  # the default library is off
    with pytest.raises(ValueError, match="unknown options"):
        from hegui.detect import DetectorRegistry

        DetectorRegistry.create("keywords", colour="red")


def test_bad_extra_list_fails_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("# hegui-lexicon 1\n甲乙\tNOPE\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"bad\.txt:2"):
        KeywordDetector(extra=[bad], cache_dir=tmp_path / "c")
    with pytest.raises(LexiconError, match="not found"):
        KeywordDetector(extra=[tmp_path / "none.txt"], cache_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="no lexicon"):
        KeywordDetector(use_default_library=False)


# -- cache and matcher parity ------------------------------------------------------------------


@needs_hs
def test_cache_reused_without_recompiling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = small(tmp_path, "甲乙丙丁\tA.1.d\n")
    assert first.compiled_now and first.backend == "hyperscan"
    assert first.cache_path.exists()
    import hegui.detect.keywords.compiled as compiled_mod
    import hegui.detect.keywords.matcher as matcher_mod

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("recompiled although the cache was valid")

    monkeypatch.setattr(compiled_mod, "compile_lexicons", boom)
    orig = matcher_mod.HyperscanMatcher.__init__

    def no_compile(self, patterns, *, serialized=None, lengths=None):  # type: ignore[no-untyped-def]
        assert serialized is not None, "hyperscan database compiled instead of loaded"
        orig(self, patterns, serialized=serialized, lengths=lengths)

    monkeypatch.setattr(matcher_mod.HyperscanMatcher, "__init__", no_compile)
    again = KeywordDetector(extra=[tmp_path / "l.txt"], use_default_library=False, cache_dir=tmp_path / "cache")
    assert not again.compiled_now and spans(again, "甲乙丙丁") == [("A.1.d", "甲乙丙丁", 0.9)]


def test_cache_invalidated_by_edit_and_survives_corruption(tmp_path: Path) -> None:
    det = small(tmp_path, "甲乙丙丁\tA.1.d\n")
    old = det.cache_path
    (tmp_path / "l.txt").write_text("# hegui-lexicon 1\n戊己庚辛\tA.1.f\n", encoding="utf-8")
    det2 = KeywordDetector(extra=[tmp_path / "l.txt"], use_default_library=False, cache_dir=tmp_path / "cache")
    assert det2.cache_path != old and det2.compiled_now
    assert spans(det2, "甲乙丙丁") == [] and spans(det2, "戊己庚辛") == [("A.1.f", "戊己庚辛", 0.9)]
    det2.cache_path.write_bytes(b"garbage")
    det3 = KeywordDetector(extra=[tmp_path / "l.txt"], use_default_library=False, cache_dir=tmp_path / "cache")
    assert det3.compiled_now and spans(det3, "戊己庚辛") == [("A.1.f", "戊己庚辛", 0.9)]


def test_unwritable_cache_dir_still_works(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    det = KeywordDetector(extra=[_lex(tmp_path)], use_default_library=False, cache_dir=blocker / "sub")
    assert spans(det, "甲乙丙丁") == [("A.1.d", "甲乙丙丁", 0.9)]


def _lex(tmp_path: Path) -> Path:
    p = tmp_path / "u.txt"
    p.write_text("# hegui-lexicon 1\n甲乙丙丁\tA.1.d\n", encoding="utf-8")
    return p


PARITY_TEXTS = EVASIONS + ORDINARY + [
    "哪里有出售手 枪的，要自制手枪和冰毒", "河南人都是骗子，东北人都是骗子", "李洪志 人肉炸弹 九评共产党",
    "ＡＢＣ 123 法輪功 转发救人", "", "a" * 50 + "出售冰毒" + "b" * 50,
]


@needs_hs
def test_fallback_matcher_parity(shipped: KeywordDetector, shipped_aho: KeywordDetector) -> None:
    assert shipped.backend == "hyperscan" and shipped_aho.backend == "ahocorasick"
    for t in PARITY_TEXTS:
        n = normalize(t)
        a = sorted(f.to_dict().__repr__() for f in shipped.detect(n))
        b = sorted(f.to_dict().__repr__() for f in shipped_aho.detect(n))
        assert a == b, t


def test_fallback_when_hyperscan_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hegui.detect.keywords.compiled as compiled_mod
    import hegui.detect.keywords.detector as detector_mod

    monkeypatch.setattr(compiled_mod, "hyperscan_available", lambda: False)
    monkeypatch.setattr(detector_mod, "_hs", lambda: False)
    det = small(tmp_path, "甲乙丙丁\tA.1.d\n")
    assert det.backend == "ahocorasick" and spans(det, "甲*乙丙丁") == [("A.1.d", "甲*乙丙丁", 0.9)]


def test_batch_normalisation_matches_per_term() -> None:
    from hegui.detect.keywords import default_library_files

    lex = load_lexicon(default_library_files()[0])
    sample = lex.entries[::97] + [e for e in lex.entries if not e.term.isascii()][:200]
    sub = type(lex)("s", sample)
    c = compile_lexicons([sub], ["ＡＢＣ允许", "法輪功研究"])
    expected = {f for e in sample for f in _normalize_one(e.term) if f.strip()}
    expected |= {_normalize_one("ＡＢＣ允许")[0], _normalize_one("法輪功研究")[0]}
    assert set(c.patterns) == expected


def test_spans_after_characters_outside_the_bmp(tmp_path: Path) -> None:
    det = small(tmp_path, "甲乙丙丁\tA.1.d\nab🙂cd\tA.1.f\n")
    for backend in ("auto", "ahocorasick"):
        d = KeywordDetector(extra=[tmp_path / "l.txt"], use_default_library=False, cache_dir=tmp_path / "cache", backend=backend)
        assert spans(d, "🙂🙂甲乙丙丁🙂") == [("A.1.d", "甲乙丙丁", 0.9)]
        assert spans(d, "𠀀 ab🙂cd 甲乙丙丁") == [("A.1.f", "ab🙂cd", 0.9), ("A.1.d", "甲乙丙丁", 0.9)]
    # UTF-16 bytes of a pattern that straddle two characters never match: 乙丙 is 59 4e 19 4e, and
    # the term 丙丁 must not be found inside 乙丙 followed by other bytes.
    assert det.matches("丁甲") == [] and det.matches("乙丙") == []


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hegui.detect.keywords.detector import fold_lookalikes  # noqa: E402


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab3s0$@ x_1中-9zE5t4i7o.", max_size=40))
def test_fast_folding_equals_normalizer_folding(t: str) -> None:
    n = normalize(t)
    assert fold_lookalikes(n.text) == n.folded


def test_lookalikes_found_next_to_other_text(tmp_path: Path) -> None:
    det = small(tmp_path, "sex片\tA.1.f\nbadword\tA.1.h\tstrong\tnot a b4dword here\n")
    assert spans(det, "看s3x片吧") == [("A.1.f", "s3x片", 0.9)]
    assert spans(det, "x" * 3000 + " s3x片 " + "y" * 3000 + " b4dword") == [("A.1.f", "s3x片", 0.9), ("A.1.h", "b4dword", 0.9)]
    # An allow-context is honoured in the folded text too.
    assert spans(det, "this is not a b4dword here") == []


@pytest.fixture(scope="module")
def leet_det(tmp_path_factory: pytest.TempPathFactory) -> KeywordDetector:
    d = tmp_path_factory.mktemp("leet")
    p = d / "l.txt"
    p.write_text("# hegui-lexicon 1\nsex\tA.1.f\nbest中\tA.1.h\t\t\n中tea\tA.1.h\tweak\n", encoding="utf-8")
    return KeywordDetector(extra=[p], use_default_library=False, cache_dir=d / "c")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="sex3$5b7ta4 中.-1", max_size=30))
def test_windowed_folded_scan_equals_full_scan(leet_det: KeywordDetector, t: str) -> None:
    n = normalize(t)
    naive = set(leet_det.matches(n.text)) | set(leet_det.matches(n.folded))
    got = {(f.start, f.end, f.risk) for f in leet_det.detect(n)}
    want = {(s, e, leet_det.compiled.entry(eid)[0]) for eid, s, e in naive}
    assert got == want


def test_concurrent_threads_get_the_same_findings(shipped: KeywordDetector) -> None:
    """Hyperscan scratch space is per thread; results must not depend on interleaving."""
    from concurrent.futures import ThreadPoolExecutor

    texts = PARITY_TEXTS * 20
    want = [[f.to_dict() for f in shipped.detect(normalize(t))] for t in texts]
    with ThreadPoolExecutor(max_workers=6) as ex:
        got = list(ex.map(lambda t: [f.to_dict() for f in shipped.detect(normalize(t))], texts))
    assert got == want


def test_guard_bad_input_with_keywords(shipped: KeywordDetector) -> None:
    g = Guard([shipped], "interim-2023")
    for t in ["", "\ud83d", "\x00" * 10, "法轮大法" + "好" * 2_000_000]:
        v = g.check(t)
        assert v.action.value in ("allow", "block")
    big = "今天天气很好。" * 1_500_000  # ~10.5 M characters
    assert Guard([shipped], "interim-2023", max_chars=20_000_000).check(big).action.value == "allow"


def test_empty_lexicon_matches_nothing(tmp_path: Path) -> None:
    p = tmp_path / "empty.txt"
    p.write_text("# hegui-lexicon 1\n# nothing yet\n", encoding="utf-8")
    det = KeywordDetector(extra=[p], use_default_library=False, cache_dir=tmp_path / "c")
    assert det.size == 0 and det.detect(normalize("法轮大法")) == []


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend must be"):
        KeywordDetector(extra=[_lex(tmp_path)], use_default_library=False, backend="fast")
    with pytest.raises(ValueError, match="weak_score"):
        KeywordDetector(extra=[_lex(tmp_path)], use_default_library=False, weak_score=2)
