"""Inter-annotator agreement for nominal labels: Cohen's κ, Fleiss' κ, Krippendorff's α.

Written out here (a few lines each) rather than imported, so the run-time package carries no
statistics dependency; tests check each against its textbook example and against the reference
packages (scikit-learn, statsmodels, ``krippendorff``). A multi-label annotation is compared as one
value (its sorted label set): two annotators agree on an item only if they chose the same set.

Every function returns ``None`` where the statistic is undefined (no pairs, or a single category
so that chance agreement is 1): a report then shows "–" instead of a misleading 1.0 or NaN.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import combinations

Value = Hashable


def cohen_kappa(a: Sequence[Value], b: Sequence[Value]) -> float | None:
    """Cohen's κ of two raters over the same items: (p_o − p_e) / (1 − p_e)."""
    if len(a) != len(b):
        raise ValueError(f"raters rated different numbers of items: {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if pe == 1.0:
        return None
    return (po - pe) / (1.0 - pe)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' κ from an items × categories table of rating counts, the same number of raters per item."""
    if not counts:
        return None
    m = sum(counts[0])
    if m < 2:
        raise ValueError("Fleiss' kappa needs at least two ratings per item")
    if any(sum(row) != m for row in counts):
        raise ValueError("Fleiss' kappa needs the same number of ratings for every item")
    n = len(counts)
    k = len(counts[0])
    p_j = [sum(row[j] for row in counts) / (n * m) for j in range(k)]
    p_i = [(sum(c * c for c in row) - m) / (m * (m - 1)) for row in counts]
    p_bar = sum(p_i) / n
    pe = sum(p * p for p in p_j)
    if pe == 1.0:
        return None
    return (p_bar - pe) / (1.0 - pe)


def krippendorff_alpha_nominal(units: Sequence[Sequence[Value]]) -> float | None:
    """Krippendorff's α (nominal) for units rated by any number of coders; missing ratings allowed.

    ``units`` lists, per item, the values the coders gave (coders who skipped it are just absent).
    Units with fewer than two values are not pairable and are ignored, as in Krippendorff (2011).
    α = 1 − D_o / D_e from the coincidence matrix.
    """
    o: Counter[tuple[Value, Value]] = Counter()
    for vals in units:
        mu = len(vals)
        if mu < 2:
            continue
        for i, j in combinations(range(mu), 2):
            o[(vals[i], vals[j])] += 1.0 / (mu - 1)
            o[(vals[j], vals[i])] += 1.0 / (mu - 1)
    n_c: Counter[Value] = Counter()
    for (c, _k), v in o.items():
        n_c[c] += v
    n = sum(n_c.values())
    if n <= 1:
        return None
    d_o = sum(v for (c, k), v in o.items() if c != k) / n
    d_e = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n * (n - 1))
    if d_e == 0:
        return None
    return 1.0 - d_o / d_e


def agreement(ratings: dict[str, dict[str, Value]], min_pair_items: int = 2) -> dict[str, object]:
    """All three statistics for ``{item: {annotator: value}}``.

    Cohen's κ per pair of annotators who share at least ``min_pair_items`` items; Fleiss' κ over the
    items rated by the most common number (≥ 2) of annotators; Krippendorff's α over every item
    rated twice or more.
    """
    multi = {i: r for i, r in ratings.items() if len(r) >= 2}
    pairs: list[dict[str, object]] = []
    shared_by_pair: dict[tuple[str, str], list[str]] = {}
    for i, r in multi.items():  # one pass over items, not one per pair: many annotators stay cheap
        for x, y in combinations(sorted(r), 2):
            shared_by_pair.setdefault((x, y), []).append(i)
    for (x, y), shared in sorted(shared_by_pair.items()):
        if len(shared) >= min_pair_items:
            k = cohen_kappa([multi[i][x] for i in shared], [multi[i][y] for i in shared])
            pairs.append({"annotators": [x, y], "items": len(shared), "kappa": k})
    fleiss: float | None = None
    fleiss_items = 0
    if multi:
        m = Counter(len(r) for r in multi.values()).most_common(1)[0][0]
        rows = [r for r in multi.values() if len(r) == m]
        cats = sorted({v for r in rows for v in r.values()}, key=repr)
        if len(rows) >= 2:
            fleiss = fleiss_kappa([[list(r.values()).count(c) for c in cats] for r in rows])
            fleiss_items = len(rows)
    alpha = krippendorff_alpha_nominal([list(r.values()) for r in multi.values()])
    return {"items_multi": len(multi), "cohen": pairs, "fleiss_kappa": fleiss, "fleiss_items": fleiss_items,
            "krippendorff_alpha": alpha}
