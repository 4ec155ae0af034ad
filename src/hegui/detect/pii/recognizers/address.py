"""Street addresses: a chain of province/city/district/street/road/number/building/room parts.

No gazetteer is shipped, so a part is "up to N Chinese characters + a suffix" (省, 市, 区, 路, 号…).
A match needs a road or an estate as its anchor plus at least one more part; the score grows with
the number of parts, and words like 地址/住在/收货 nearby raise it.
"""

from __future__ import annotations

import bisect
import re
from typing import ClassVar

from hegui.detect.pii.gates import Gate, alt, chars, lit
from hegui.detect.pii.recognizer import Check, Pattern, PatternRecognizer, RecognizerResult, merged_windows

_H = r"[\u4e00-\u9fff]"
_NUM = r"(?:\d{1,5}|[一二三四五六七八九十百零]{1,5})"

_ADMIN = (
    rf"(?P<prov>{_H}{{2,6}}?(?:省|自治区|特别行政区))?"
    rf"(?P<city>{_H}{{2,6}}?(?:市|自治州|地区|盟))?"
    rf"(?P<dist>{_H}{{1,6}}?(?:区|县|旗))?"
    rf"(?P<town>{_H}{{1,6}}?(?:街道|镇|乡))?"
)
_TAIL = (
    rf"(?P<num>{_NUM}(?:-\d{{1,4}})?号(?!码|线|文|称|召))?"
    rf"(?P<estate2>[\u4e00-\u9fff0-9a-z]{{2,10}}?(?:小区|花园|公寓|大厦|广场|新村|家园|苑)(?:小区|[a-z]座)?)?"
    rf"(?P<bldg>(?:{_NUM}|[a-z])(?:号楼|栋|幢|座|号院))?"
    rf"(?P<unit>{_NUM}单元)?"
    rf"(?P<room>\d{{1,5}}(?:室|房|号房)|{_NUM}(?:楼|层)(?:\d{{1,4}}(?:室|号))?)?"
)
_ROAD = r"(?P<road>[\u4e00-\u9fff0-9]{1,10}?(?:大道|大街|路|街|巷|胡同|弄))"
_ESTATE = rf"(?P<estate>{_H}{{2,8}}?(?:小区|花园|公寓|大厦|新村|家园|苑|村)(?:小区|社区|[东西南北]区)?)"

# A result needs a detail part (house number, building, unit, room: each holds one of _DETAIL's
# characters) or, for a road, two admin parts (each ends in one of _ADMIN_SUFFIX's characters).
# The detail parts are in the tail, which starts right after the road or estate suffix and holds
# only CJK characters, digits, a-z and "-", and the first detail character is at most 20
# characters into it (30 below, to be safe); admin parts (at most 35 characters together) and
# the road name (at most 10) come before the road suffix. So a window can only yield a result
# if it holds a suffix followed by a detail character (`_DETAIL_AFTER`) or, for a road, two admin
# suffixes at most `_ADMIN_REACH` characters before a road suffix (see `_windows`).
_DETAIL = "号栋幢座单室房楼层"
_ADMIN_SUFFIX = "省区市州盟县旗道镇乡"
_ADMIN_REACH = 48
_ROAD_SUFFIX = r"[路街巷弄大胡](?:(?<=大)[道街]|(?<=胡)同|(?<![大胡]))"  # 大道|大街|胡同|[路街巷弄]
_ESTATE_SUFFIX = r"[小花公大新家苑村](?:(?<=小)区|(?<=[花家])园|(?<=公)寓|(?<=大)厦|(?<=新)村|(?<![小花公大新家]))"
_TAIL_CHARS = r"[\u4e00-\u9fff\da-z\-]{0,30}?"
_DETAIL_AFTER = {
    "road": re.compile(f"{_ROAD_SUFFIX}{_TAIL_CHARS}[{_DETAIL}]"),
    "estate": re.compile(f"{_ESTATE_SUFFIX}{_TAIL_CHARS}[{_DETAIL}]"),
}
_ADMIN_RX = re.compile(f"[{_ADMIN_SUFFIX}]")
# Two admin suffixes close together. One bounded run of non-suffix characters: linear, unlike a
# search for "suffix, suffix, road" with two nested bounded runs (quadratic on 省市区省市区…).
_ADMIN_PAIR = re.compile(f"[{_ADMIN_SUFFIX}][^{_ADMIN_SUFFIX}]{{0,{_ADMIN_REACH}}}[{_ADMIN_SUFFIX}]")

_PARTS = ("prov", "city", "dist", "town", "road", "estate", "num", "estate2", "bldg", "unit", "room")
# Characters that end a sentence fragment before an address starts (住在|位于|地址是…).
_LEAD_STOP = re.compile(r".*(?:住在|住址|地址|位于|寄到|送到|发到|搬到|来自|住|在|是|于|到|为|的)")


class AddressRecognizer(PatternRecognizer):
    """Chinese postal addresses, from the province down to the room."""

    name = "address"
    risk = "pii.address"
    patterns = (
        Pattern("road", _ADMIN + _ROAD + _TAIL, 0.0),
        Pattern("estate", _ADMIN + _ESTATE + _TAIL, 0.0),
    )
    context_words = ("地址", "住址", "住在", "家住", "收货", "寄到", "送到", "快递", "位于", "门牌", "address")
    context_boost = 0.15
    context_floor = 0.0

    # Every address has a road or an estate/building part: only windows around those are searched.
    # Each pattern is searched only around its own suffix (a road pattern match ends its road
    # part in 路/街/…, an estate match its estate part in 小区/花园/…).
    # The anchors are ``大道|大街|胡同|[路街巷弄]`` and ``小区|花园|公寓|大厦|新村|家园|[苑村]``,
    # written to start with one character class so that `re` skips ahead to it (an alternation
    # with a class in it is tried at every position: 3x slower). At each position exactly one
    # alternative can match, as in the originals, so the anchors are the same.
    _anchors: ClassVar[dict[str, re.Pattern[str]]] = {
        "road": re.compile(_ROAD_SUFFIX),
        "estate": re.compile(_ESTATE_SUFFIX),
    }
    _road_suffix = alt(chars("路街巷弄"), lit("大道"), lit("胡同"))
    _estate_suffix = alt(*(lit(w) for w in ("小区", "花园", "公寓", "大厦", "新村", "家园")), chars("苑村"))
    # The window conditions for the whole text: a suffix, at most 30 tail characters (CJK,
    # digits, a-z, "-"), a detail character; or a road suffix anywhere and two admin suffixes
    # with at most 40 CJK characters between them. As bytes: a run of ASCII digits, a-z, "-" and
    # non-ASCII bytes, up to four bytes a character (one byte class: cheap to compile).
    _tail = r"[0-9a-z\-\x80-\xff]*"
    gate = Gate(
        (
            (_road_suffix + _tail + chars(_DETAIL),),
            (_road_suffix, chars(_ADMIN_SUFFIX) + r"[\x80-\xbf\xe4-\xe9]*" + chars(_ADMIN_SUFFIX)),
            (_estate_suffix + _tail + chars(_DETAIL),),
        )
    )
    _window_before = 40
    _window_after = 48

    def __init__(self) -> None:
        super().__init__()
        # (part name, index into ``Match.groups()``) per pattern, in `_PARTS` order.
        self._part_index = {
            p.name: [(part, rx.groupindex[part] - 1) for part in _PARTS if part in rx.groupindex]
            for p, rx in self._compiled
        }

    def analyze(self, text: str) -> list[RecognizerResult]:
        return self._analyze(text, 0b111)

    def analyze_clauses(self, text: str, clauses: int) -> list[RecognizerResult]:
        # The gate's clauses 0 and 1 (road suffix with a detail after it; road suffix and two admin
        # suffixes) are the road pattern's window conditions, clause 2 the estate pattern's: a
        # pattern whose clauses fail has no window (`_windows`), so it is not searched at all.
        return self._analyze(text, clauses)

    def _analyze(self, text: str, clauses: int) -> list[RecognizerResult]:
        # Every match ends in a road or estate suffix, so only windows around those anchors are
        # searched; overlapping windows are merged so a run of anchors (路路路…) is scanned once.
        found: list[RecognizerResult] = []
        for pattern, rx in self._compiled:
            if not clauses & (0b011 if pattern.name == "road" else 0b100):
                continue
            for lo, hi in self._windows(pattern.name, text):
                for m in rx.finditer(text, lo, hi):
                    res = self._result(text, m, pattern)
                    if res is not None:
                        found.append(res)
        # The road and estate patterns can both match one address: keep the longest.
        found.sort(key=lambda r: (r.start, -(r.end - r.start)))
        out: list[RecognizerResult] = []
        for r in found:
            if out and r.start < out[-1].end:
                if r.score > out[-1].score and r.end - r.start >= out[-1].end - out[-1].start:
                    out[-1] = r
                continue
            out.append(r)
        return out

    def _windows(self, name: str, text: str) -> list[tuple[int, int]]:
        """The merged windows around pattern ``name``'s anchors that can hold an accepted match.

        The others can only yield matches that `_result` rejects, and the expensive pattern is
        not run there. (A test overrides this to return every window, and compares.)
        """
        n = len(text)
        detail = _DETAIL_AFTER[name]
        road = name == "road"
        # A window's match is also a match in the whole text (look-behinds see the whole text
        # either way): one search first decides whether any window can pass.
        has_detail = detail.search(text) is not None
        if not has_detail and (not road or _ADMIN_PAIR.search(text) is None):
            return []
        anchors = [a.start() for a in self._anchors[name].finditer(text)]
        out: list[tuple[int, int]] = []
        admin: list[int] | None = None
        for lo, hi in merged_windows(anchors, self._window_before, self._window_after, n):
            if has_detail if (lo, hi) == (0, n) else detail.search(text, lo, hi) is not None:
                out.append((lo, hi))
            elif road:
                # Two admin suffixes inside the window, at most _ADMIN_REACH characters before
                # a road suffix. Every road suffix starts at an anchor or one after it (the 街
                # of 大街), so checking before each anchor in the window is enough.
                if admin is None:
                    admin = [m.start() for m in _ADMIN_RX.finditer(text)]
                for a in anchors[bisect.bisect_left(anchors, lo) : bisect.bisect_left(anchors, hi)]:
                    k = bisect.bisect_left(admin, a)
                    if k >= 2 and admin[k - 2] >= max(lo, a - _ADMIN_REACH):
                        out.append((lo, hi))
                        break
        return out

    def _result(self, text: str, m: re.Match[str], pattern: Pattern) -> RecognizerResult | None:
        # One C call for all groups (``groupdict`` per part was most of the cost on 路路路…).
        gs = m.groups()
        parts = [p for p, i in self._part_index[pattern.name] if gs[i]]
        if len(parts) < 2:
            return None
        detail = {"num", "bldg", "unit", "room"} & set(parts)
        admin = {"prov", "city", "dist", "town"} & set(parts)
        if pattern.name == "road":
            # A road alone is a place name; it needs a house number or admin parts around it.
            if not detail and len(admin) < 2:
                return None
        elif not ({"bldg", "unit", "room"} & set(parts)):
            return None
        start, end = m.span()
        first = parts[0]
        lead = _LEAD_STOP.match(text, start, m.end(first))
        if lead is not None and lead.end() < m.end(first):
            start = lead.end()
        score = min(0.9, 0.2 + 0.15 * len(parts))
        ctx = self.has_context(text, start, end)
        if ctx:
            score = min(1.0, score + self.context_boost)
        return RecognizerResult(start, end, score, self.risk, self.name, pattern.name, None, f"{len(parts)} parts", ctx)

    def validate(self, value: str, pattern: Pattern) -> Check:
        return Check(None)
