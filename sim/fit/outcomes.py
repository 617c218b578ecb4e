"""Dial outcomes: failed, busy, answered and no-answer shares, overall, by attempt and
by hour of day (95 % Wilson intervals), machines and the AMD, conversions.

``p_fail`` and ``p_busy`` are shares of all dials (the model draws them per attempt);
pick-up is not a share at all — see :mod:`.ring` for its censored fit.
"""

from __future__ import annotations

import numpy as np

from ..cdr import encode
from .data import ANSWERED, BUSY, FAILED, NO_ANSWER, Dials
from .estimate import Estimate, not_identified, wilson

__all__ = ["fit_outcomes", "outcome_table"]

_PERSON = encode("answered_by", "person")
_MACHINE = encode("answered_by", "machine")
_AMD_MACHINE = encode("amd", "machine")
_CONVERTED = encode("result", "converted")
NAMES = {ANSWERED: "answered", NO_ANSWER: "no_answer", BUSY: "busy", FAILED: "failed"}


def _share(name: str, k: int, n: int, method: str) -> Estimate:
    p, lo, hi = wilson(k, n)
    return Estimate(name=name, value=p, low=lo, high=hi, n=n, method=method)


def outcome_table(d: Dials, by: str) -> list[dict[str, float]]:
    """Outcome shares per attempt number (``by="attempt"``) or hour (``by="hour"``)."""
    key = (d.attempt if by == "attempt" else d.hour).astype(np.int64)
    if d.n == 0:
        return []
    size = int(key.max()) + 1
    counts = np.bincount(key * 4 + d.disposition, minlength=size * 4).reshape(size, 4)
    rows = []
    for g in np.flatnonzero(counts.sum(axis=1)):
        n = int(counts[g].sum())
        row: dict[str, float] = {by: int(g), "dials": n}
        for code, name in NAMES.items():
            p, lo, hi = wilson(int(counts[g, code]), n)
            row[name], row[f"{name}_low"], row[f"{name}_high"] = p, lo, hi
        rows.append(row)
    return rows


def fit_outcomes(d: Dials) -> dict[str, Estimate]:
    """Per-dial shares, machine share and AMD, conversion probability."""
    out: dict[str, Estimate] = {}
    n = d.n
    for code, name in NAMES.items():
        out[f"share.{name}"] = _share(f"share.{name}", int((d.disposition == code).sum()), n,
                                      "share of dials")
    out["customers.p_fail"] = _share("customers.p_fail", int((d.disposition == FAILED).sum()),
                                     n, "FAILED share of dials")
    out["customers.p_busy"] = _share("customers.p_busy", int((d.disposition == BUSY).sum()),
                                     n, "BUSY share of dials")
    ans = d.answered
    n_ans = int(ans.sum())
    who = d.answered_by[ans]
    known = int(((who == _PERSON) | (who == _MACHINE)).sum())
    if known and known >= 0.9 * n_ans:
        out["customers.p_machine"] = _share("customers.p_machine", int((who == _MACHINE).sum()),
                                            known, "answered_by = machine among answered")
    else:
        out["customers.p_machine"] = not_identified(
            "customers.p_machine", 0.0,
            "the export does not say who answered: machine greetings are left in the talk "
            "mixture's short component (p_machine 0)")
    amd = d.amd[ans]
    machines = who == _MACHINE
    if known and (amd != 0).any():
        out["dialer.amd.p_detect"] = _share("dialer.amd.p_detect",
                                            int((machines & (amd == _AMD_MACHINE)).sum()),
                                            int(machines.sum()), "AMD verdict machine | machine")
        people = who == _PERSON
        out["dialer.amd.p_false_positive"] = _share(
            "dialer.amd.p_false_positive", int((people & (amd == _AMD_MACHINE)).sum()),
            int(people.sum()), "AMD verdict machine | person")
    res = d.result[ans]
    if (res != 0).any():
        conv = int((res == _CONVERTED).sum())
        out["script.p_convert.calls"] = _share("script.p_convert.calls", conv, n_ans,
                                               "converted share of answered calls")
    else:
        out["script.p_convert.calls"] = not_identified(
            "script.p_convert.calls", 0.0,
            "the export has no business results: p_convert 0 written, set it yourself")
    return out
