"""The blocklist detector: exact and near-duplicate matching on the canonical (normalised,
punctuation-free) form, containment inside longer texts, and no match on unrelated text."""

from __future__ import annotations

import pytest

from hegui.detect import DetectorRegistry
from hegui.detect.blocklist import BlocklistDetector, canonical
from hegui.guard import Guard
from hegui.text import normalize

ENTRY = "那家公司的老板王大锤是个骗子，卷走了员工的工资后逃到了国外。"


def score(d: BlocklistDetector, text: str) -> float:
    found = d.detect(normalize(text))
    return found[0].score if found else 0.0


@pytest.fixture
def det() -> BlocklistDetector:
    return BlocklistDetector([ENTRY])


def test_exact_and_evasions(det):
    assert score(det, ENTRY) == 1.0
    assert score(det, "那家公司的老板·王大锤，是个骗子！！卷走了 员工的工资后……逃到了国外") == 1.0
    assert score(det, "那家公司的老闆王大錘是個騙子，捲走了員工的工資後逃到了國外。") == 1.0  # traditional
    assert score(det, "ＡＢ" + ENTRY.replace("，", "\u200b")) == 1.0  # full-width, zero-width space
    assert score(det, "先说点别的。" * 20 + ENTRY + "再说点别的。" * 20) == 1.0  # inside a long answer


def test_paraphrase_and_unrelated(det):
    assert score(det, "那家公司的老板王大锤就是个骗子，卷走了员工的工资以后逃到了国外。") >= 0.7
    assert score(det, "那家公司的老板王大锤是个好人，给员工发了很多奖金。") == 0.0
    assert score(det, "今天天气很好，我们去公园散步吧。") == 0.0
    assert score(det, "") == 0.0


def test_entries_and_registry():
    d = DetectorRegistry.create("blocklist", containment=0.9)
    assert isinstance(d, BlocklistDetector) and len(d) == 0 and d.detect(normalize(ENTRY)) == []
    first = d.add(ENTRY)
    assert d.add("那家公司的老板，王大锤是个骗子！卷走了员工的工资后逃到了国外") == first  # same canonical form
    with pytest.raises(ValueError):
        d.add("骗子!")
    with pytest.raises(ValueError):
        BlocklistDetector(containment=0)
    assert canonical("A-b 1，二") == "ab1二"


def test_guard_blocks_with_the_policy(det):
    v = Guard([det], "interim-2023").check("这是回答：" + ENTRY, "output")
    assert v.blocked and v.risks == ["hg.blocklist"]
    assert Guard([det], "interim-2023").check("普通的回答。", "output").action.value == "allow"


class _Source:
    """A store stand-in that counts how often the detector asks for the version."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str]] = []
        self.version_calls = 0

    def version(self) -> object:
        self.version_calls += 1
        return (len(self.entries), max((i for i, _ in self.entries), default=0))

    def rows(self) -> list[tuple[int, str]]:
        return list(self.entries)


def test_background_refresh_keeps_the_store_off_the_check_path():
    import time

    from hegui.detect.blocklist import canonical
    from hegui.text import normalize

    src = _Source()
    det = BlocklistDetector(source=src, refresh_s=0.05)
    assert det.start_refresher()
    try:
        text = normalize("某某公司的产品含有致癌物质，千万不要购买")
        assert det.detect(text) == []  # first check loads once (stale at start)
        src.entries.append((1, canonical("某某公司的产品含有致癌物质")))
        deadline = time.monotonic() + 5
        while not det.detect(text) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert det.detect(text)  # another worker's uphold arrives within the period, from the thread
        det.refresh_s = 3600.0  # the thread now sleeps
        time.sleep(0.2)
        calls = src.version_calls
        for _ in range(50):
            det.detect(text)
        assert src.version_calls == calls  # no store call on the check path
        src.entries.append((2, canonical("另一段被投诉并成立的内容")))
        det.invalidate()
        assert det.detect(normalize("另一段被投诉并成立的内容"))  # this worker's uphold: at once
    finally:
        det.stop_refresher()
    assert det._refresher is None
