"""The HTML report of a run folder: one self-contained page a campaign manager can read.

``write_report(run_dir)`` reads what ``dialsim run`` (and ``dialsim compare``) wrote —
summary.json, cdrs.csv, agents.csv, the plan files copied under ``plans/``, and when
present replications.json, compare.json and timeline.csv — and writes ``report.html``
with every plot embedded as a base64 PNG (the page needs no other file, no network),
plus the same PNGs beside it (``report-<name>.png``) for slides and mail.

Sections, always present (each says plainly when its input is missing): the decision
box (cheapest plan, margin over the runner-up, saving against 60/60 or the current plan,
best variant, compliance; :mod:`sim.report_decision`), the KPI table, the plan
comparison, the rounding analysis, break-even between plans, the variants
compared on the same customers, compliance (``summary.json["compliance"]``, "not
evaluated" when absent) and operations (agent states, abandonment and the dialer's
pacing over time). Nothing is simulated here: the CDRs are re-rated from the files, so
the report agrees with ``costs.csv`` to the last digit, and every section uses the same
rating and the same call mix. Money is written by :mod:`sim.fmt`; every value put into
the page is escaped with :func:`html.escape`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from . import __version__
from .report_costs import _breakeven_section, _plans_section, _rounding_section, rounding_costs
from .report_decision import decide, decision_html
from .report_folder import RunFolder, load_run, read_agent_log
from .report_html import (
    REPORT_NAME,
    _check_current,
    _e,
    _Figures,
    _refuse_existing,
    _render_page,
    _write_page,
)
from .report_sections import (
    _compliance_section,
    _kpis,
    _operations_section,
    _variants_section,
)

__all__ = ["REPORT_NAME", "SECTIONS", "RunFolder", "load_run", "read_agent_log",
           "render_report", "rounding_costs", "write_report"]

#: Section id -> heading, in page order. Every report has all of them.
SECTIONS: dict[str, str] = {
    "decision": "Decision",
    "kpis": "Campaign KPIs",
    "plans": "Plan comparison",
    "rounding": "Rounding analysis",
    "breakeven": "Break-even between plans",
    "variants": "Variants on the same customers",
    "compliance": "Compliance",
    "operations": "Operations over time",
}


def final_name(path: Path) -> str:
    """The folder's name as the user will see it: a staging folder of
    :func:`sim.output.output_dir` (``.NAME.xxxx.partial``) gives ``NAME``."""
    name = path.name
    if name.startswith(".") and name.endswith(".partial"):
        return name[1:].rsplit(".", 2)[0] or name
    return name


def render_report(run: RunFolder, *, current: str | None = None,
                  name: str | None = None) -> tuple[str, dict[str, bytes]]:
    """The report page (HTML text) and its PNGs by name.

    ``current`` names the plan the campaign pays today (the decision's saving is
    against it; default the plain 60/60 plan); ``name`` is the folder name for the
    footer (default: the folder's final name).
    """
    figs = _Figures()
    rating = run.rating()
    _check_current(current, [p.name for p in run.plans], run.path)
    decision = decide(run.path, rating, run.summary, run.comparison, current=current)
    body: Mapping[str, str] = {
        "decision": decision_html(decision),
        "kpis": _kpis(run),
        "plans": _plans_section(run, rating, figs),
        "rounding": _rounding_section(run, rating, figs),
        "breakeven": _breakeven_section(run, rating, figs),
        "variants": _variants_section(run, figs),
        "compliance": _compliance_section(run),
        "operations": _operations_section(run, figs),
    }
    scen = run.summary.get("scenario", {})
    values = scen.get("values", {})
    k = run.summary.get("kpis", {})
    subtitle = " · ".join(x for x in [
        values.get("description", ""), f"seed {run.summary.get('seed')}",
        f"{k.get('dials', 0):,} dials" if k.get("dials") is not None else ""] if x)
    footer = (f"dialsim {_e(run.summary.get('dialsim_version', __version__))} · scenario "
              f"{_e(scen.get('source', ''))} · folder {_e(name or final_name(run.path))} · "
              "plots also saved "
              "beside this file as report-*.png")
    page = _render_page(SECTIONS, body, title=f"dialsim report: {scen.get('name', run.path.name)}",
                        subtitle=subtitle, footer=footer)
    return page, figs.png


def write_report(run_dir: str | Path, *, force: bool = False, current: str | None = None,
                 name: str | None = None) -> Path:
    """Write ``report.html`` and its ``report-*.png`` into ``run_dir``; return the page.

    ``current`` and ``name`` are passed to :func:`render_report`.

    Raises
    ------
    OutputExistsError
        A report is already there and ``force`` is false.
    SimError
        ``run_dir`` is not a run folder.
    """
    folder = Path(run_dir)
    target = folder / REPORT_NAME
    run = load_run(folder)
    _refuse_existing(target, force)
    page, pngs = render_report(run, current=current, name=name)
    return _write_page(target, page, pngs)
