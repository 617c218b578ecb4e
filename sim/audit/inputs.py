"""The audit's inputs: one side's calls with what a CDR table cannot hold (line numbers,
the carrier's charges and currency), the contract's plan, and charges read exactly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from sim.billing import Plan, load_plans
from sim.cdr import CDRTable

from .errors import AuditError

__all__ = ["Side", "load_contract", "parse_charges"]


@dataclass(frozen=True, slots=True, eq=False)
class Side:
    """One side of the audit: a CDR table and what the table itself cannot hold.

    Parameters
    ----------
    cdrs
        The calls.
    lines
        Source line of each row (None: row number + 1).
    charges
        The charge of each row in units of ``10**-charge_decimals`` (int64; carrier side).
    charge_decimals
        Decimal places of ``charges``.
    currency
        Currency of the charges, when the file says.
    source
        File name, for messages.
    """

    cdrs: CDRTable
    lines: np.ndarray | None = None
    charges: np.ndarray | None = None
    charge_decimals: int = 0
    currency: str | None = None
    source: str = ""

    @property
    def line(self) -> np.ndarray:
        if self.lines is not None:
            return self.lines
        return np.arange(1, len(self.cdrs) + 1, dtype=np.int64)


def load_contract(spec: str | Path | Plan) -> Plan:
    """A plan from ``FILE`` (its only plan) or ``FILE:NAME``."""
    if isinstance(spec, Plan):
        return spec
    text = str(spec)
    path, name = text, None
    if not Path(text).exists() and ":" in text:
        path, _, name = text.rpartition(":")
    plans = load_plans(path)
    if name is None:
        if len(plans) != 1:
            raise AuditError(f"{path}: holds {len(plans)} plans ({', '.join(p.name for p in plans)}"
                             f"); name the contract's plan as {path}:NAME")
        return plans[0]
    for p in plans:
        if p.name == name:
            return p
    from ..validate import no_such_plan

    raise AuditError(no_such_plan("--plan", name, [p.name for p in plans], path))


_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")


def _plain_decimals(texts: Sequence[Any]) -> tuple[np.ndarray, int] | None:
    """Units and places when every text is a plain decimal (``-12.345``), as whole
    numpy columns; None otherwise."""
    arr = np.char.strip(np.asarray([str(t) for t in texts] if len(texts) and not isinstance(
        texts, np.ndarray) else texts, dtype=np.str_))
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64), 0
    neg = np.char.startswith(arr, "-")
    body = np.where(neg, np.char.lstrip(arr, "-"), arr)
    whole, dot, frac = (np.char.partition(body, ".")[:, k] for k in range(3))
    ok = np.char.isdigit(whole) & (np.char.isdigit(frac) | ((frac == "") & (dot == "")))
    places = int(np.char.str_len(frac).max())
    if not ok.all() or places > 12 or int(np.char.str_len(whole).max()) > 15:
        return None
    units = whole.astype(np.int64) * 10**places
    if places:
        units += np.char.ljust(frac, places, "0").astype(np.int64)
    return np.where(neg, -units, units), places


def parse_charges(texts: Sequence[Any], *, source: str = "charges",
                  lines: Sequence[int] | None = None,
                  currency: str | None = None) -> tuple[np.ndarray, int, str | None]:
    """Charges written as decimals (``0.12``, ``1,234.50``, ``"0.12 CNY"``, ``CNY 0.12``)
    to int units.

    Returns
    -------
    units, decimals, currency
        int64 units of ``10**-decimals``; the currency code written beside them (if any).

    Raises
    ------
    AuditError
        A charge that is not a decimal number (a decimal comma is refused: ``1,234``
        could be either), or two different currency codes.
    """
    fast = _plain_decimals(texts)
    if fast is not None:
        return fast[0], fast[1], currency
    values: list[Decimal] = []
    seen = currency
    for i, raw in enumerate(texts):
        text = str(raw).strip() if raw is not None else ""
        code = None
        parts = text.split()
        if len(parts) == 2:
            code = parts[1] if parts[1].isalpha() else parts[0] if parts[0].isalpha() else None
            text = parts[0] if code == parts[1] else parts[1]
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        try:
            value = Decimal(text) if text and "," not in text else Decimal("NaN")
        except InvalidOperation:
            value = Decimal("NaN")
        where = f"{source}:{lines[i]}" if lines is not None else f"{source}: row {i + 1}"
        if not value.is_finite():
            raise AuditError(f"{where}: charge: must be a decimal amount like 0.12 "
                             f"(got {str(raw)!r})")
        if code is not None:
            code = code.upper()
            if seen is not None and code != seen:
                raise AuditError(f"{where}: charge: currency {code} differs from {seen}")
            seen = code
        values.append(value)
    places = max([max(0, -int(v.as_tuple().exponent)) for v in values] or [0])  # type: ignore[arg-type]
    scale = Decimal(10) ** places
    units = np.array([int(v * scale) for v in values], dtype=np.int64)
    return units, places, seen
