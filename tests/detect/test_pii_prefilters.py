"""Pre-filters rewritten for speed must accept exactly the texts the original expressions accepted."""

from __future__ import annotations

import random
import re

from hegui.detect.pii.recognizers.finance import BankCardRecognizer

_ORIGINAL_GROUPED = re.compile(r"\d{4}[ \-]\d{4}[ \-]\d{4}|\d{6}[ \-]\d{10}")


def test_bank_card_grouped_prefilter_matches_the_original_expression() -> None:
    rng = random.Random(5)
    alphabet = list("0123456789") * 3 + [" ", "-", "—", "a", "卡", "号", "\n", "٣", "０"]
    texts = ["", "1234 5678 9012", "123456-1234567890", "1234 5678-9012", "12345-1234567890"]
    for _ in range(20000):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))))
    fast = BankCardRecognizer._grouped
    assert sum(_ORIGINAL_GROUPED.search(t) is not None for t in texts) > 200  # the fuzz hits both ways
    for t in texts:
        assert (fast.search(t) is None) == (_ORIGINAL_GROUPED.search(t) is None), t
