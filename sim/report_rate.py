"""The HTML report of a ``dialsim rate --out`` folder: a decision on a real export.

A business that priced its own switch's export wants the answer first: which plan is
cheapest for *its* traffic, by how much, and what switching from today's plan saves.
``write_rate_report(folder)`` reads what ``rate --out`` wrote — ``rate.json`` (options,
campaign facts, the import account), ``cdrs.csv`` (the rows priced) and the plan copies
under ``plans/`` — re-rates the rows exactly as ``rate`` did (so every figure equals
``costs.csv``), and writes ``report.html`` with the plots embedded (also saved beside
it as ``report-*.png``).

Sections, always present: the decision, the plan comparison, the rounding analysis,
break-even at the file's own call mix, short calls, calls by hour, and the import
report (rows read = accepted + rejected + excluded, each exclusion with its reason).
The plan, rounding and break-even sections are those of the run report
(:mod:`sim.report`); nothing is simulated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .billing import CampaignInfo, Plan, Rating, rate
from .cdr import CDRTable
from .errors import SimError
from .report_costs import _breakeven_section, _plans_section, _rounding_section
from .report_folder import RunFolder, _json, _plans
from .report_html import (
    REPORT_NAME,
    _check_current,
    _e,
    _empty,
    _Figures,
    _note,
    _num,
    _pct,
    _refuse_existing,
    _render_page,
    _table,
    _write_page,
)

__all__ = ["RATE_SECTIONS", "RateFolder", "is_rate_folder", "load_rate", "render_rate_report",
           "write_rate_report"]

#: Section id -> heading, in page order. Every rate report has all of them.
RATE_SECTIONS: dict[str, str] = {
    "decision": "Decision",
    "plans": "Plan comparison",
    "rounding": "Rounding analysis",
    "breakeven": "Break-even at this traffic's call mix",
    "short": "Short calls",
    "hours": "Calls by hour",
    "import": "Import report",
}
#: Talk-time thresholds (s) of the short-call table; carriers' portfolio terms use 6 s.
SHORT_LIMITS_S: tuple[int, ...] = (0, 3, 6, 10, 30)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateFolder:
    """What a ``rate --out`` folder holds, read back from its files."""

    path: Path
    info: Mapping[str, Any]
    cdrs: CDRTable
    plans: tuple[Plan, ...]

    @property
    def campaign(self) -> CampaignInfo:
        c = self.info["campaign"]
        return CampaignInfo(seats=int(c["seats"]), channels=int(c["channels"]),
                            numbers=int(c["numbers"]), days=Decimal(str(c["days"])),
                            labour=Decimal(str(c["labour"])), estimated=bool(c["estimated"]))

    @property
    def current(self) -> str | None:
        return self.info.get("current")

    def rating(self) -> Rating:
        """The rows rated under the folder's plans with the campaign facts of ``rate``."""
        return rate(self.cdrs, self.plans, campaign=self.campaign)

    def as_run(self) -> RunFolder:
        """The folder seen as a run folder, for the sections shared with the run report."""
        c = self.campaign
        summary = {"campaign": {"seats": c.seats, "channels": c.channels,
                                "numbers": c.numbers, "days": str(c.days),
                                "labour": str(c.labour)}}
        return RunFolder(path=self.path, summary=summary, cdrs=self.cdrs, agents=None,
                         plans=self.plans, replications=None, comparison=None, timeline=None)


def is_rate_folder(path: str | Path) -> bool:
    """True for a folder written by ``dialsim rate --out``."""
    return (Path(path) / "rate.json").is_file()


def load_rate(path: str | Path) -> RateFolder:
    """Read a ``rate --out`` folder.

    Raises
    ------
    SimError
        The folder lacks rate.json, cdrs.csv or its plans.
    """
    from .cdrio import read_cdrs

    folder = Path(path)
    if not is_rate_folder(folder):
        raise SimError(f"{folder}: not a `dialsim rate --out` folder (no rate.json)")
    info = _json(folder / "rate.json")
    if not (folder / "cdrs.csv").is_file():
        raise SimError(f"{folder}: cdrs.csv missing (the rows rate priced); run "
                       "`dialsim rate ... --out DIR --force` again")
    cdrs = read_cdrs(folder / "cdrs.csv", format="native", direction="all").cdrs
    plans = _plans(folder, info)
    if not plans:
        raise SimError(f"{folder}: the plan files are missing (plans/ and "
                       f"{', '.join(info.get('plans_files', []))})")
    return RateFolder(path=folder, info=info, cdrs=cdrs, plans=plans)


# -- sections -------------------------------------------------------------------------
def _decision(folder: RateFolder, rating: Rating) -> str:
    imp = folder.info.get("import", {})
    c = folder.campaign
    out = [_note(
        f"{len(folder.cdrs):,} {folder.info.get('direction', 'outbound')} legs of "
        f"{folder.info.get('source', '?')} priced under {len(folder.plans)} plans "
        f"({imp.get('excluded', 0):,} rows excluded, {imp.get('rejected', 0):,} rejected: "
        "see the import report). Plan-level fees prorated to "
        f"{c.days} days, {c.seats} seats, {c.channels} channels, {c.numbers} numbers"
        + (" (estimated from the CDRs)." if c.estimated else "."))]
    for w in imp.get("warnings", []):
        out.append(f'<p class="fail">WARNING: {_e(w)}</p>')
    groups: dict[str, list[Any]] = {}
    for s in rating.ranked():
        groups.setdefault(s.currency, []).append(s)
    rows = []
    for currency, group in groups.items():
        best = group[0]
        runner = group[1] if len(group) > 1 else None
        margin = "–" if runner is None else f"{runner.total - best.total:,}"
        rel = ("" if runner is None or not best.total
               else f"+{100 * (runner.total - best.total) / best.total:.1f}%")
        row = [currency, best.plan, _num(best.total), "–" if runner is None else runner.plan,
               margin, rel or "–"]
        current = folder.current
        cur = rating.summaries.get(current) if current else None
        if cur is not None and cur.currency == currency:
            row += [current, _num(cur.total), f"{cur.total - best.total:,}",
                    f"{100 * (cur.total - best.total) / cur.total:.1f}%" if cur.total else "–"]
        else:
            row += ["–", "–", "–", "–"]
        rows.append(row)
    out.append(_table(["currency", "cheapest plan", "total", "runner-up", "margin",
                       "margin (% of cheapest)", "current plan", "current total",
                       "saving by switching", "saving (%)"], rows, left=2))
    if folder.current is None:
        out.append(_note("Give the plan paid today with `dialsim rate ... --current NAME` "
                         "to see what switching saves."))
    return "\n".join(out)


def _answered_talk(cdrs: CDRTable) -> np.ndarray:
    return cdrs["billsec"][cdrs.answered]


def _short(folder: RateFolder) -> str:
    cdrs = folder.cdrs
    talk = _answered_talk(cdrs)
    n, answered = len(cdrs), len(talk)
    if answered == 0:
        return _empty("No answered calls: no short calls to count.")
    rows = []
    for limit in SHORT_LIMITS_S:
        k = int((talk <= limit).sum())
        rows.append([f"≤ {limit} s" if limit else "0 s", f"{k:,}", _pct(k / answered),
                     _pct(k / n)])
    asr = answered / n
    out = [_note(f"{answered:,} of {n:,} legs answered (answer-seizure ratio {_pct(asr)}); "
                 f"median billed talk {float(np.median(talk)):.0f} s. Every short call pays "
                 "a whole first block on block plans, and some carriers surcharge a "
                 "portfolio whose calls of 6 s or less exceed 10–25% of connected calls."),
           _table(["billed talk", "calls", "share of answered", "share of legs"], rows)]
    return "\n".join(out)


def hourly_counts(cdrs: CDRTable) -> dict[str, np.ndarray]:
    """Legs, answered legs and billed talk seconds per local hour of the day (0-23)."""
    start = cdrs["start"]
    ok = np.isfinite(start)
    hour = (np.floor(start[ok] / 3600).astype(np.int64)) % 24
    answered = cdrs.answered[ok]
    return {"calls": np.bincount(hour, minlength=24),
            "answered": np.bincount(hour, weights=answered, minlength=24).astype(np.int64),
            "billsec": np.bincount(hour, weights=np.where(answered, cdrs["billsec"][ok], 0),
                                   minlength=24).astype(np.int64)}


def _hours(folder: RateFolder, figs: _Figures) -> str:
    from .analysis.plots import new_axes

    h = hourly_counts(folder.cdrs)
    if not h["calls"].sum():
        return _empty("No legs with a start time.")
    ax = new_axes()
    ax.bar(np.arange(24), h["calls"], color="#9db4d3", label="legs")
    ax.bar(np.arange(24), h["answered"], color="#2f5d9b", label="answered")
    ax.set_xlabel(f"hour of the day ({folder.cdrs.tz})")
    ax.set_ylabel("legs")
    ax.set_xticks(range(0, 24, 2))
    ax.legend(frameon=False)
    rows = [[f"{i:02d}:00", f"{int(c):,}", f"{int(a):,}", _pct(a / c) if c else "–",
             f"{b / 60:,.1f}"]
            for i, (c, a, b) in enumerate(zip(h["calls"], h["answered"], h["billsec"],
                                              strict=True)) if c]
    return "\n".join([
        _note("When the traffic happens (the file's wall clock): time bands of a tariff "
              "and the channels rented follow it."),
        figs.add("calls-by-hour", ax, "Legs and answered legs per hour of the day"),
        _table(["hour", "legs", "answered", "answer rate", "billed talk min"], rows)])


def _import(folder: RateFolder) -> str:
    imp = folder.info.get("import", {})
    rows = [["rows read", f"{imp.get('rows_read', 0):,}"],
            ["accepted (priced)", f"{imp.get('accepted', 0):,}"],
            ["rejected", f"{imp.get('rejected', 0):,}"],
            ["excluded", f"{imp.get('excluded', 0):,}"]]
    out = [_note(f"{imp.get('path', '?')}: {imp.get('format', '?')} CDRs; every row is "
                 "accepted, rejected (with its line and reason: rejections.csv) or "
                 f"excluded on purpose (direction selected: "
                 f"{imp.get('selected_direction', '?')}"
                 + (f"; where {', '.join(folder.info['where'])}" if folder.info.get("where")
                    else "") + ")."),
           _table(["rows", "count"], rows, left=1)]
    directions = imp.get("directions") or {}
    if directions:
        out.append("<h3>Legs by direction</h3>")
        out.append(_table(["direction", "legs"],
                          [[d, f"{n:,}"] for d, n in directions.items()]))
    excluded = imp.get("excluded_by_reason") or []
    if excluded:
        out.append("<h3>Excluded</h3>")
        out.append(_table(["reason", "rows"], [[g["reason"], f"{g['rows']:,}"]
                                               for g in excluded], wrap=(0,)))
    rejections = imp.get("rejections") or []
    if rejections:
        out.append("<h3>Rejected (first rows)</h3>")
        out.append(_table(["line", "reason"], [[r["line"], r["reason"]]
                                               for r in rejections[:20]], wrap=(1,)))
    for w in imp.get("warnings", []):
        out.append(f'<p class="fail">WARNING: {_e(w)}</p>')
    for n in imp.get("notes", []):
        out.append(_note(n))
    return "\n".join(out)


# -- the page -------------------------------------------------------------------------
def render_rate_report(folder: RateFolder) -> tuple[str, dict[str, bytes]]:
    """The report page (HTML text) and its PNGs by name."""
    figs = _Figures()
    rating = folder.rating()
    run = folder.as_run()
    body = {
        "decision": _decision(folder, rating),
        "plans": _plans_section(run, rating, figs),
        "rounding": _rounding_section(run, rating, figs),
        "breakeven": _breakeven_section(run, rating, figs),
        "short": _short(folder),
        "hours": _hours(folder, figs),
        "import": _import(folder),
    }
    source = str(folder.info.get("source", folder.path.name))
    subtitle = (f"{len(folder.cdrs):,} {folder.info.get('direction', 'outbound')} legs · "
                f"{len(folder.plans)} plans")
    footer = (f"dialsim {_e(__version__)} · rated from {_e(source)} · folder "
              f"{_e(folder.path.name)} · plots also saved beside this file as report-*.png")
    page = _render_page(RATE_SECTIONS, body, title=f"dialsim rate report: {Path(source).name}",
                        subtitle=subtitle, footer=footer)
    return page, figs.png


def write_rate_report(folder_path: str | Path, *, force: bool = False,
                      current: str | None = None) -> Path:
    """Write ``report.html`` and its ``report-*.png`` into a ``rate --out`` folder.

    ``current`` names the plan paid today (default: the one ``rate --current`` gave).

    Raises
    ------
    OutputExistsError
        A report is already there and ``force`` is false.
    SimError
        The folder is not a complete ``rate --out`` folder.
    """
    folder = load_rate(folder_path)
    if current is not None:
        _check_current(current, [p.name for p in folder.plans], folder.path)
        folder = dataclasses.replace(folder, info={**folder.info, "current": current})
    target = folder.path / REPORT_NAME
    _refuse_existing(target, force)
    page, pngs = render_rate_report(folder)
    return _write_page(target, page, pngs)
