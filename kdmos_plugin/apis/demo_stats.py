"""Paired statistics of the demo: what distillation changed, over seeds.

A student and its distilled twin share the seed, the data order and the
schedule, so each seed gives one paired difference ``d_i = kd_i - plain_i``;
the report gives their mean, the two-sided 95% Student-t interval of that
mean (``mean +- t_{0.975, n-1} * sd / sqrt(n)``, sample standard deviation)
and the number of seeds with ``d_i > 0``.
"""
import math
import statistics
from typing import Dict, Sequence

from scipy import stats


def summary(values: Sequence[float]) -> Dict[str, float]:
    """Mean, sample standard deviation (0 for one value) and count."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('summary: no values')
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return dict(mean=statistics.fmean(values), std=std, n=len(values))


def paired_gain(plain: Sequence[float], distilled: Sequence[float],
                confidence: float = 0.95) -> Dict[str, object]:
    """Paired differences ``distilled - plain`` and their t-interval.

    Args:
        plain: One value per seed (e.g. moving IoU in [0, 1]).
        distilled: The same seeds, in the same order.
        confidence: Two-sided level of the interval.

    Returns:
        dict: ``deltas`` (list), ``mean``, ``std`` (sample), ``n``,
        ``ci`` ((low, high), None for one seed: no spread to estimate),
        ``helped`` (count of ``delta > 0``).

    Raises:
        ValueError: The two lists differ in length or are empty.
    """
    if len(plain) != len(distilled) or not plain:
        raise ValueError(
            f'paired_gain: need the same seeds twice, got {len(plain)} plain '
            f'and {len(distilled)} distilled values')
    deltas = [float(d) - float(p) for p, d in zip(plain, distilled)]
    s = summary(deltas)
    ci = None
    if s['n'] > 1:
        t = float(stats.t.ppf(0.5 + confidence / 2, s['n'] - 1))
        half = t * s['std'] / math.sqrt(s['n'])
        ci = (s['mean'] - half, s['mean'] + half)
    return dict(deltas=deltas, mean=s['mean'], std=s['std'], n=s['n'],
                ci=ci, helped=sum(d > 0 for d in deltas))
