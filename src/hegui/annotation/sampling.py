"""How many items of a batch a reviewer must check (Art. 8 "sample checks"; TC260-003 §5.3).

Neither the Measures nor TC260-003 set a sampling percentage, so the plan is a statistical one,
from three inputs: the batch size N, the target accuracy p and the confidence c.

*  ``wilson`` (default): the smallest sample whose Wilson lower bound reaches p when every sampled
   annotation is correct, i.e. a sample that *can* demonstrate the target: n₀ = ⌈z² p / (1 − p)⌉
   (z two-sided for c). p = 0.95, c = 0.95 → n₀ = 73; p = 0.98 → 189.
*  ``binomial``: the exact one-sided zero-failure (Clopper–Pearson) size: n₀ = ⌈ln(1 − c) / ln p⌉.
   p = 0.95, c = 0.95 → 59.

Then the finite-population correction n = ⌈n₀ / (1 + (n₀ − 1) / N)⌉, then a floor: at least
:data:`MIN_SAMPLE` items (the pre-training-data draft's "sample ≥ 100 items" for its record checks,
REGULATION.md b.3 row 5) — a lucky handful must never accept a batch — and never more than N: a
batch smaller than the floor is reviewed in full.

Sampling is seeded per batch: the same seed and batch give the same items, so the report can
recompute the sample and see that each item in it was reviewed.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from hegui.stats import _z

MIN_SAMPLE = 100
METHODS = ("wilson", "binomial")


@dataclass(frozen=True, slots=True)
class SamplingPlan:
    batch_size: int
    target: float
    confidence: float
    method: str
    n0: int          # before the finite-population correction
    n_fpc: int       # after it
    minimum: int
    sample_size: int  # what to review: max(n_fpc, minimum), capped at batch_size

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def sampling_plan(batch_size: int, target: float = 0.95, confidence: float = 0.95,
                  method: str = "wilson", minimum: int = MIN_SAMPLE) -> SamplingPlan:
    """The review sample size for one batch (see the module docstring for the formulas)."""
    if batch_size < 0:
        raise ValueError(f"batch size must be ≥ 0, got {batch_size}")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target accuracy must be in (0, 1), got {target}")
    if minimum < 0:
        raise ValueError(f"minimum must be ≥ 0, got {minimum}")
    if method == "wilson":
        z = _z(confidence)
        n0 = math.ceil(z * z * target / (1.0 - target) - 1e-9)
    elif method == "binomial":
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
        n0 = math.ceil(math.log(1.0 - confidence) / math.log(target) - 1e-9)
    else:
        raise ValueError(f"unknown sampling method {method!r}; choose {' or '.join(METHODS)}")
    n0 = max(1, n0)
    n_fpc = math.ceil(n0 / (1.0 + (n0 - 1) / batch_size) - 1e-9) if batch_size else 0
    size = min(batch_size, max(n_fpc, minimum))
    return SamplingPlan(batch_size, target, confidence, method, n0, n_fpc, minimum, size)


def sample_items(items: Sequence[str], n: int, seed: int, batch: str) -> list[str]:
    """``n`` item ids of ``batch``, reproducible from ``seed`` and the batch id, in sorted order.

    The input order does not matter (ids are sorted first), so re-exporting the same batch from
    another tool gives the same sample.
    """
    pool = sorted(set(items))
    if n >= len(pool):
        return pool
    digest = hashlib.sha256(f"{seed}:{batch}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    return sorted(rng.sample(pool, n))
