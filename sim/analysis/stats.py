"""Estimates with their uncertainty: means and t-intervals over replications.

A simulated KPI is a random variable; one run is one draw. Replications with
independent seeds give a sample, and the Student-t interval over it is the honest
statement of what the simulation knows (VALIDATION.md: analytic answers must fall
inside it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "mean_ci", "paired_diff"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean with its confidence interval (``level``, e.g. 0.95) over ``n`` values."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    def format(self, fmt: str = "{:.4g}") -> str:
        if self.n < 2 or not math.isfinite(self.half_width):
            return fmt.format(self.mean)
        return f"{fmt.format(self.mean)} ± {fmt.format(self.half_width)}"

    def __str__(self) -> str:
        return self.format()


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Estimate:
    """Mean and Student-t confidence interval of ``values`` (NaNs are ignored).

    With one value the interval is (-inf, inf); with zero variance it is the point.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, level)
    m = float(x.mean())
    if n == 1:
        return Estimate(m, -math.inf, math.inf, 1, level)
    from scipy.special import stdtrit  # here, not at import: scipy costs ~0.5 s to load

    se = float(x.std(ddof=1)) / math.sqrt(n)
    h = float(stdtrit(n - 1, 0.5 + level / 2)) * se
    return Estimate(m, m - h, m + h, n, level)


def paired_diff(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                level: float = 0.95) -> Estimate:
    """CI of the mean of ``a - b`` over paired replications (same seeds)."""
    a_ = np.asarray(a, dtype=float)
    b_ = np.asarray(b, dtype=float)
    if a_.shape != b_.shape:
        raise ValueError(f"paired_diff: {a_.shape} and {b_.shape} differ")
    return mean_ci(a_ - b_, level)
