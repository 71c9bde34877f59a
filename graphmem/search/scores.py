"""Picking the best of a score vector, as every ranking channel does."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The (position, score) pairs of the `k` best positive scores, best first, ties by position.

    `argpartition` finds them in linear time; only those `k` are sorted.
    """
    k = min(k, len(scores))
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return sorted(((int(i), float(scores[i])) for i in top if scores[i] > 0), key=lambda p: (-p[1], p[0]))
