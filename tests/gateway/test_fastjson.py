"""`hegui.gateway.fastjson` reads and writes what ``json`` does: same values in, same values out,
including what orjson alone refuses (big integers, lone surrogates, NaN literals)."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from hegui.gateway import fastjson

_CHARS = "abc xyz 你好，世界。\n\t\"\\/\u2028\u00e9\U0001f600<>&"


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 2**31, 2**63 - 1, -(2**63), 2**64 - 1, 10**25 + 1, rng.randint(-10**6, 10**6)])
    if kind == 2:
        return rng.choice([0.0, -0.5, 1e-7, 1.5e300, rng.uniform(-1e6, 1e6)])
    if kind in (3, 4):
        return "".join(rng.choice(_CHARS) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {"".join(rng.choice(_CHARS) for _ in range(rng.randrange(1, 6))): _value(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def test_round_trips_agree_with_json_on_random_documents() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        doc = _value(rng)
        text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
        assert fastjson.loads(text.encode()) == json.loads(text)
        assert json.loads(fastjson.dumps(doc)) == doc


@pytest.mark.parametrize("text", ['{"n": 123456789012345678901234567890}', '{"s": "\\ud800x"}',
                                  '{"x": NaN}', '[Infinity, -Infinity]', '{"a": 1, "a": 2}'])
def test_what_orjson_refuses_reads_as_json_reads_it(text: str) -> None:
    a, b = fastjson.loads(text.encode()), json.loads(text)
    assert json.dumps(a) == json.dumps(b)  # NaN != NaN, so compare the re-encoded forms


def test_invalid_json_still_raises_value_error() -> None:
    for bad in (b"", b"{", b"[1,]", b"\xff\xfe", b"{'a': 1}"):
        with pytest.raises(ValueError):  # UnicodeDecodeError is a ValueError too
            fastjson.loads(bad)


def test_dumps_falls_back_for_big_integers_and_keeps_non_ascii() -> None:
    assert fastjson.dumps({"n": 2**70}) == b'{"n":1180591620717411303424}'
    assert fastjson.dumps({"t": "你好"}) == '{"t":"你好"}'.encode()
    assert math.isnan(json.loads(json.dumps(float("nan"))))  # the stdlib's own behaviour, for reference
