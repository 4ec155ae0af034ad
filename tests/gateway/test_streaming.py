"""The stream moderator on its own: first clause, sentence pieces, bounded buffer, overlap window."""

from __future__ import annotations

import pytest

from hegui.gateway.config import StreamMode
from hegui.gateway.streaming import StreamModerator, first_clause
from hegui.policy import Role

from .conftest import make_settings


@pytest.fixture(scope="module")
def guard(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from hegui.guard import Guard

    return Guard.from_settings(make_settings(tmp_path_factory.mktemp("g"), None))


def mod(guard, mode=StreamMode.BUFFERED, max_chars=400, overlap=64, first=True):  # type: ignore[no-untyped-def]
    return StreamModerator(lambda t: guard.check(t, Role.OUTPUT), mode, max_chars, overlap, first)


def feed_all(m: StreamModerator, deltas: list[str]) -> list[str]:
    out = []
    for d in deltas:
        step = m.feed(d)
        if step.release:
            out.append(step.release)
        if step.stop:
            return out
    step = m.finish()
    if step.release:
        out.append(step.release)
    return out


def test_first_clause_then_sentences(guard) -> None:  # type: ignore[no-untyped-def]
    assert first_clause("好的，这是") == 3 and first_clause("好的") == 0 and first_clause("Sure, here") == 6
    m = mod(guard)
    assert feed_all(m, ["好的，", "这是第一句", "。然后，第二句。", "尾巴"]) == ["好的，", "这是第一句。然后，第二句。", "尾巴"]
    m = mod(guard, first=False)
    assert feed_all(m, ["好的，", "这是第一句", "。然后"]) == ["好的，这是第一句。", "然后"]


def test_bounded_buffer_cuts_long_sentences_and_still_catches(guard) -> None:  # type: ignore[no-untyped-def]
    text = "没有标点的一长串文字一直写下去 联系 leak.test@example.com 谢谢"
    m = mod(guard, max_chars=16, overlap=32)
    released = feed_all(m, [text[i : i + 4] for i in range(0, len(text), 4)])
    assert m.stopped is not None and "pii.email" in m.stopped.risks
    assert "@example.com" not in "".join(released) and all(len(p) <= 16 for p in released)


def test_redaction_in_buffered_mode(guard) -> None:  # type: ignore[no-untyped-def]
    m = mod(guard)
    out = "".join(feed_all(m, ["他的手机号是 138", "12345678。好的。"]))
    assert "13812345678" not in out and "<MOBILE>" in out


def test_stream_first_releases_at_once_and_stops(guard) -> None:  # type: ignore[no-untyped-def]
    m = mod(guard, StreamMode.STREAM_FIRST)
    assert m.feed("第一句。").release == "第一句。"
    step = m.feed("联系 leak.test@example.com。")
    assert step.stop is not None and m.feed("后面的。").release == ""
