"""One fitted value with what it rests on: estimate, 95 % CI, sample size, method.

A calibrated scenario is only as good as its weakest number, so every value the fit
writes carries its evidence. A value the export cannot identify (no conversions, no
agent wrap-up, a single attempt per lead) is still written — the model needs it — but
marked ``identified=False`` with the reason, never passed off as fitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._mle import Z95

__all__ = ["Estimate", "dials_per_lead", "not_identified", "wilson"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """A fitted value.

    Parameters
    ----------
    name
        Dotted name (``customers.p_pickup``, ``ring.median_s``, ...).
    value
        The estimate (a number, or a scenario value such as a distribution table).
    low, high
        95 % confidence interval (NaN when there is none).
    n
        Number of calls (or leads) the estimate rests on.
    method
        How it was estimated, in a few words.
    identified
        False when the export cannot tell this value: ``value`` is then an assumption.
    note
        Why it is not identified, or anything the user should know.
    """

    name: str
    value: Any
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    method: str = ""
    identified: bool = True
    note: str = ""

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)

    def covers(self, x: float) -> bool:
        return bool(self.low <= x <= self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "low": self.low, "high": self.high,
                "n": self.n, "method": self.method, "identified": self.identified,
                "note": self.note}

    def comment(self) -> str:
        """The scenario-file comment: source, n and CI, or why it is not identified."""
        if not self.identified:
            return f"NOT IDENTIFIED: {self.note}" if self.note else "NOT IDENTIFIED"
        parts = [self.method] if self.method else []
        if self.n:
            parts.append(f"n={self.n:,}")
        if math.isfinite(self.low) and math.isfinite(self.high):
            parts.append(f"95% CI {_g(self.low)}..{_g(self.high)}")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def _g(x: float) -> str:
    return f"{x:.4g}"


def wilson(k: float, n: float) -> tuple[float, float, float]:
    """Share ``k / n`` with its 95 % Wilson interval (NaNs when ``n`` is 0)."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    p = k / n
    z2 = Z95 ** 2
    den = 1 + z2 / n
    mid = (p + z2 / (2 * n)) / den
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
    return p, max(0.0, mid - half), min(1.0, mid + half)


def dials_per_lead(per_lead: np.ndarray) -> tuple[float, float, float]:
    """Mean dials per lead with a 95 % normal CI on the mean, its lower end no lower
    than 1 (every lead counted was dialled at least once: a few leads with one long
    retry chain would otherwise give a negative bound)."""
    n = len(per_lead)
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(np.mean(per_lead))
    if n < 2:
        return m, math.nan, math.nan
    h = Z95 * float(np.std(per_lead, ddof=1)) / math.sqrt(n)
    return m, max(m - h, 1.0), m + h


def not_identified(name: str, value: Any, note: str) -> Estimate:
    """An assumed value the export cannot identify, with the reason."""
    return Estimate(name=name, value=value, identified=False, note=note)


def quantile_ci(x: np.ndarray, q: float) -> tuple[float, float, float]:
    """Quantile ``q`` of ``x`` with a distribution-free 95 % CI (binomial order statistics)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    value = float(np.quantile(x, q))
    half = Z95 * math.sqrt(n * q * (1 - q))
    lo = int(max(0, math.floor(n * q - half) - 1))
    hi = int(min(n - 1, math.ceil(n * q + half)))
    return value, float(x[lo]), float(x[hi])
