"""Small statistics shared by the corpus scanner, the assessment and the annotation tools.

TC260-003 states its thresholds as point rates over samples (≥ 96 % of ≥ 4,000 manual items,
≥ 98 % of ≥ 10 % automated). A point rate from a sample is an estimate, so reports also give the
Wilson score interval: it behaves well near 0 and 1, where the normal approximation does not.
"""

from __future__ import annotations

import math
from statistics import NormalDist


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a binomial proportion ``successes / n``.

    Returns ``(0.0, 1.0)`` for ``n == 0``: with no observations, nothing is known.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def required_sample_size(
    expected_rate: float, margin: float, confidence: float = 0.95, population: int | None = None
) -> int:
    """Items needed to estimate a rate near ``expected_rate`` within ± ``margin``.

    Uses the normal approximation ``z² p (1-p) / m²`` with the finite-population correction when
    ``population`` is given. Use it to check whether the regulatory minimum (say 4,000) is enough
    for the precision a report claims.
    """
    if not 0.0 <= expected_rate <= 1.0:
        raise ValueError(f"expected_rate must be in [0, 1], got {expected_rate}")
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must be in (0, 1), got {margin}")
    z = _z(confidence)
    n0 = z * z * expected_rate * (1 - expected_rate) / (margin * margin)
    if population is not None:
        if population <= 0:
            raise ValueError(f"population must be positive, got {population}")
        n0 = n0 / (1 + (n0 - 1) / population)
    return max(1, math.ceil(n0))
