"""Seeded, order-independent noise: the same (seed, key, time) always gives the same value.

Values are drawn at fixed knots and interpolated linearly between them, so a
meter sampled every second or every minute sees the same smooth curve, and a
run at any speed reproduces the same site.
"""

from __future__ import annotations

import functools
import random
from datetime import datetime


@functools.lru_cache(maxsize=8192)  # every knot serves many ticks
def knot_value(seed: int, key: str, index: int) -> float:
    """Uniform in [0, 1) for one knot."""
    return random.Random(f"{seed}:{key}:{index}").random()


def smooth_noise(seed: int, key: str, when: datetime, knot_s: float) -> float:
    """Uniform-ish value in [0, 1) interpolated between knots every ``knot_s`` seconds."""
    t = when.timestamp() / knot_s
    i = int(t // 1)
    frac = t - i
    a = knot_value(seed, key, i)
    b = knot_value(seed, key, i + 1)
    return a + (b - a) * frac
