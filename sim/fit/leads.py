"""The call list as the export shows it: attempts per lead, retry delays, calendar, agents.

A lead's dials, ordered by start, are its attempts. The delay before a retry is
measured from the end of one attempt to the start of the next, by the outcome of the
first (busy, no answer, failed, machine, abandoned). A lead whose last dial could
have been retried but was not is *censored*: its retry would have come after the
export ended — or never. The Kaplan–Meier estimate of each delay law therefore stops
below 1; the rest of its mass ("not retried within the export") is written as a delay
beyond the campaign, so the fitted list retries as often as the real one did.

Calendar: the campaign's dates, weekdays dialled, and calling windows (the hours with
dials, merged into contiguous windows). Agents: distinct agent ids, else the peak
number of answered calls in progress at once; lines per agent from concurrent dials.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cdr import encode
from .data import ANSWERED, BUSY, FAILED, NO_ANSWER, Dials
from .estimate import Estimate, dials_per_lead, not_identified
from .ring import kaplan_meier

__all__ = ["ListFit", "fit_agents", "fit_calendar", "fit_list", "peak_concurrency"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MACHINE = encode("answered_by", "machine")
_CONVERTED = encode("result", "converted")
_POINTS = 40  # an empirical delay law keeps at most this many quantiles


def _r(x: float) -> float:
    return float(f"{x:.4g}")


@dataclass(slots=True)
class ListFit:
    estimates: dict[str, Estimate] = field(default_factory=dict)
    delays: dict[str, np.ndarray] = field(default_factory=dict)  # observed, for plots


def _outcome_names(d: Dials, machine: np.ndarray) -> np.ndarray:
    disp = d.disposition
    out = np.full(d.n, "", dtype=object)
    out[disp == BUSY] = "busy"
    out[disp == NO_ANSWER] = "no_answer"
    out[disp == FAILED] = "failed"
    out[machine] = "machine"
    return out


def fit_list(d: Dials, horizon_s: float, machine: np.ndarray | None = None) -> ListFit:
    """Attempts per lead, ``max_attempts`` and ``list.retry`` delay laws (KM, censored).

    ``machine``: per dial, answered by a machine (default: ``answered_by``; without it,
    the likelier class of the machine split, :mod:`.machine`)."""
    if machine is None:
        machine = (d.disposition == ANSWERED) & (d.answered_by == _MACHINE)
    lf = ListFit()
    leads = d.leads
    lf.estimates["list.size"] = Estimate(
        name="list.size", value=leads, n=d.n,
        method=f"distinct leads (by {d.lead_source})" if d.lead_source else "one lead per dial",
        identified=bool(d.lead_source),
        note="" if d.lead_source else "no lead id or dialled number: every dial is its own "
                                      "lead (give --lead-column)")
    per_lead = np.bincount(d.lead) if d.n else np.zeros(0, dtype=int)
    max_att = int(per_lead.max()) if len(per_lead) else 1
    mean, low, high = dials_per_lead(per_lead)
    lf.estimates["attempts_per_lead"] = Estimate(
        name="attempts_per_lead", value=mean, low=low, high=high, n=leads,
        method="dials / leads")
    lf.estimates["list.max_attempts"] = Estimate(
        name="list.max_attempts", value=max_att, n=leads, method="observed maximum",
        identified=bool(d.lead_source))
    if max_att <= 1:
        lf.estimates["list.retry"] = not_identified(
            "list.retry", None, "a single attempt per lead: no retry delay can be measured")
        return lf
    same_next = np.r_[d.lead[1:] == d.lead[:-1], False]
    next_start = np.r_[d.start[1:], np.nan]
    delay = next_start - d.end
    outcome = _outcome_names(d, machine)
    export_end = float(np.nanmax(d.end))
    last = ~same_next
    retryable = d.attempt < max_att
    people = (d.disposition == ANSWERED) & ~machine & (d.result != _CONVERTED)
    for name in ("busy", "no_answer", "failed", "machine", "callback"):
        sel = people if name == "callback" else outcome == name
        ev = sel & same_next
        cens = sel & last & retryable
        n_ev, n_c = int(ev.sum()), int(cens.sum())
        key = f"list.retry.{name}_s"
        if n_ev == 0:
            if n_c:
                lf.estimates[key] = Estimate(
                    name=key, value=False, n=n_c, method="never retried in the export",
                    note=f"{n_c:,} such calls, none retried")
            continue
        lf.delays[name] = np.maximum(delay[ev], 0.0)
        t = np.concatenate([np.maximum(delay[ev], 0.0), np.maximum(export_end - d.end[cens], 0)])
        e = np.concatenate([np.ones(n_ev, dtype=bool), np.zeros(n_c, dtype=bool)])
        km_t, km_s = kaplan_meier(t, e)
        s_last = float(km_s[-1]) if len(km_s) else 1.0
        cdf = 1 - km_s
        probs = (np.arange(_POINTS) + 0.5) / _POINTS * cdf[-1]
        values = km_t[np.minimum(np.searchsorted(cdf, probs, side="left"), len(km_t) - 1)]
        vals = [_r(float(v)) for v in values]
        weights = [1.0] * len(vals)
        note = ""
        med = float(np.median(lf.delays[name]))
        method = (f"Kaplan-Meier of retry delays ({n_ev:,} retried, {n_c:,} censored at the "
                  f"export's end); median {med:.0f} s")
        if name == "callback":
            # an answered person called again: the script's "call me later" (p_callback)
            p_cb = 1 - s_last
            lf.estimates["script.p_callback"] = Estimate(
                name="script.p_callback", value=_r(p_cb), n=n_ev + n_c,
                method="Kaplan-Meier share of answered (not converted) leads dialled again")
        elif s_last > 0.005:
            # the share never retried within the export: a delay beyond the campaign
            vals.append(_r(horizon_s + 86_400))
            weights.append(_r(s_last / max(1 - s_last, 1e-9) * len(values)))
            note = f"{s_last:.1%} not retried within the export (written as a delay beyond it)"
        lf.estimates[key] = Estimate(
            name=key, value={"dist": "empirical", "values": vals, "weights": weights},
            n=n_ev + n_c, method=method, note=note)
    return lf


def fit_calendar(d: Dials, tz: str) -> dict[str, Estimate]:
    """Campaign start, days, weekdays, calling windows, holidays, time zone."""
    out: dict[str, Estimate] = {}
    epoch = dt.datetime.fromisoformat(d.epoch)
    day = np.floor(d.start / 86_400).astype(np.int64)
    first, last = int(day.min()), int(day.max())
    start_date = (epoch + dt.timedelta(days=first)).date()
    days = last - first + 1
    seen = sorted(set(day.tolist()))
    wds = sorted({(start_date + dt.timedelta(days=x - first)).weekday() for x in seen})
    holidays = [(start_date + dt.timedelta(days=x)).isoformat() for x in range(days)
                if (start_date + dt.timedelta(days=x)).weekday() in wds
                and x + first not in set(seen)]
    out["campaign.start"] = Estimate(name="campaign.start", value=start_date.isoformat(),
                                     n=d.n, method="date of the first dial")
    out["campaign.days"] = Estimate(name="campaign.days", value=days, n=d.n,
                                    method="first to last dial")
    out["campaign.weekdays"] = Estimate(name="campaign.weekdays",
                                        value=[WEEKDAYS[w] for w in wds], n=d.n,
                                        method="weekdays with dials")
    out["campaign.holidays"] = Estimate(name="campaign.holidays", value=holidays, n=d.n,
                                        method="calling days without any dial")
    out["campaign.timezone"] = Estimate(name="campaign.timezone", value=tz, n=d.n,
                                        method="the export's zone (or --tz)",
                                        identified=tz != "UTC" or True)
    counts = np.bincount(d.hour, minlength=24)
    active = counts >= max(1, 0.002 * d.n)
    windows: list[list[str]] = []
    h = 0
    while h < 24:
        if active[h]:
            h0 = h
            while h < 24 and active[h]:
                h += 1
            windows.append([f"{h0:02d}:00", f"{h:02d}:00" if h < 24 else "24:00"])
        h += 1
    out["campaign.windows"] = Estimate(
        name="campaign.windows", value=windows, n=d.n,
        method="hours of day with at least 0.2 % of the dials, merged")
    return out


def peak_concurrency(start: np.ndarray, end: np.ndarray) -> int:
    """Most intervals ``[start, end)`` in progress at once (a call ending as another
    starts does not overlap it)."""
    ok = np.isfinite(start) & np.isfinite(end) & (end >= start)
    s, e = np.sort(start[ok]), np.sort(end[ok])
    if len(s) == 0:
        return 0
    # in progress just after the i-th start: starts so far minus ends at or before it
    level = np.arange(1, len(s) + 1) - np.searchsorted(e, s, side="right")
    return int(level.max())


def fit_agents(d: Dials, agents: int | None) -> dict[str, Any]:
    """Agents, lines per agent and the dialer mode suggested by the export."""
    out: dict[str, Estimate] = {}
    ids = d.agent_id[d.agent_id >= 0]
    ans = d.answered
    peak_talk = peak_concurrency(d.start[ans], d.end[ans])
    peak_dial = peak_concurrency(d.start, d.end)
    if agents is not None:
        n_agents, how, ident = agents, "given (--agents)", True
    elif len(ids):
        n_agents, how, ident = int(len(np.unique(ids))), "distinct agent ids", True
    else:
        # no agent ids: agents dialling their own lines, as many as lines ever in use
        n_agents = max(peak_dial, 1)
        how = (f"peak number of calls in progress at once (no agent ids; peak answered "
               f"calls {peak_talk})")
        ident = peak_dial > 0
    out["agents.count"] = Estimate(name="agents.count", value=int(n_agents), n=d.n,
                                   method=how, identified=ident,
                                   note="" if ident else "no answered call: agents unknown")
    ratio = max(1.0, round(peak_dial / max(n_agents, 1), 1))
    mode = "progressive"
    note = f"peak {peak_dial} dials at once, {n_agents} agents"
    if ratio <= 1.0:
        ratio_note = "at most one line per agent: progressive 1:1 (agents dial their own calls)"
    else:
        ratio_note = f"up to {ratio:g} lines per agent: power dialing at that ratio"
    out["dialer.mode"] = Estimate(name="dialer.mode", value=mode, n=d.n,
                                  method="concurrent dials per agent", note=ratio_note)
    out["dialer.ratio"] = Estimate(name="dialer.ratio", value=ratio, n=d.n,
                                   method="peak concurrent dials / agents", note=note)
    wrap = d.wrap_s[ans]
    wrap = wrap[np.isfinite(wrap) & (wrap > 0)]
    if len(wrap) >= 10:
        lw = np.log(wrap)
        out["agents.wrap"] = Estimate(
            name="agents.wrap", value={"dist": "lognormal", "median": _r(math.exp(lw.mean())),
                                       "sigma": _r(max(float(lw.std()), 0.01))},
            n=len(wrap), method="lognormal fitted to the export's wrap_s")
    else:
        out["agents.wrap"] = not_identified(
            "agents.wrap", 0, "the export has no after-call work times: 0 s assumed")
    return out
