"""``dialsim run``: simulate a scenario, print its KPIs and plan costs, save the results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..output import output_dir
from ._common import Progress, add_scenario_args, default_out, format_table, load_from_args, \
    write_json

__all__ = ["add_parser", "kpi_table", "run"]


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run", help="simulate a scenario and price its calls",
        description="Simulate a campaign scenario, print KPIs and the cost under every "
                    "billing plan, and write cdrs.csv, agents.csv, costs.csv, charges.csv "
                    "and summary.json to the output folder.")
    add_scenario_args(p)
    p.add_argument("--out", type=Path, help="output folder (default: runs/<scenario>-NNN, "
                                            "a new one each time)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    p.add_argument("--plans", action="append", default=[], type=Path, metavar="FILE",
                   help="billing plan file(s) to price the calls under "
                        "(default: the scenario's billing.plans)")
    p.add_argument("--asterisk", action="store_true",
                   help="also export the CDRs as an Asterisk cdr_csv Master.csv")
    p.set_defaults(func=run)


def kpi_table(kpis: dict[str, Any]) -> str:
    from ..analysis.kpis import KPI_LABELS

    rows = []
    for key, (label, fmt) in KPI_LABELS.items():
        if key in kpis and kpis[key] is not None:
            value = kpis[key]
            rows.append([label, fmt.format(value) if value == value else "n/a"])
    return format_table(rows)


def run(args: argparse.Namespace) -> int:
    from ..agentlog import AgentLog
    from ..cdrio import write_cdrs
    from ..costing import load_plan_files, rate_run
    from ..model import run as simulate

    scenario = load_from_args(args)
    plan_files = args.plans or list(scenario.plans)
    plans = load_plan_files(plan_files) if plan_files else []
    out = args.out or default_out(scenario)
    if args.out is not None:
        from ..output import check_writable

        check_writable(out, args.force)  # fail before simulating, not after

    bar = Progress(f"simulating {scenario.name}", 1.0)
    result = simulate(scenario, seed=args.seed, progress=bar.update)
    bar.close()
    print(f"{scenario.name}: {scenario.agents.count} agents, {scenario.list.size:,} leads, "
          f"{scenario.dialer.mode} dialing, seed {args.seed}")
    print(kpi_table(result.kpis))

    rating = rate_run(scenario, result.cdrs, result.agents, plans) if plans else None
    if rating is not None:
        from ..billing import format_comparison

        print()
        print(format_comparison(rating))

    with output_dir(out, force=args.force) as tmp:
        write_cdrs(result.cdrs, tmp / "cdrs.csv")
        if args.asterisk:
            write_cdrs(result.cdrs, tmp / "Master.csv", format="asterisk")
        write_agent_log(result.agents, tmp / "agents.csv")
        if rating is not None:
            from ..billing import write_costs

            write_costs(rating, tmp)
        write_json(tmp / "summary.json", summary(result, rating, plan_files))
    print(f"\nwrote {out}/ (cdrs.csv, agents.csv, summary.json"
          + (", costs.csv, charges.csv" if rating is not None else "") + ")")
    assert isinstance(result.agents, AgentLog)
    return 0


def summary(result: Any, rating: Any, plan_files: list[Path]) -> dict[str, Any]:
    """What summary.json records: enough to know exactly what ran and what it gave."""
    scenario = result.scenario
    out: dict[str, Any] = {
        "dialsim_version": __version__,
        "python": sys.version.split()[0],
        "scenario": {"name": scenario.name, "source": scenario.source, "values": scenario.raw},
        "seed": result.seed,
        "kpis": result.kpis,
        "lead_status": result.lead_status,
        "dialer": result.dialer,
        "plans_files": [str(p) for p in plan_files],
    }
    if rating is not None:
        out["costs"] = rating.rows()
        out["campaign"] = {"seats": rating.campaign.seats, "channels": rating.campaign.channels,
                           "numbers": rating.campaign.numbers, "days": rating.campaign.days,
                           "labour": rating.campaign.labour}
    return out


def write_agent_log(log: Any, path: Path) -> None:
    """agents.csv: agent_id, state, start, end, duration_s (seconds from the epoch)."""
    import numpy as np

    from ..output import atomic_write

    with atomic_write(path) as fh:
        fh.write("agent_id,state,start_s,end_s,duration_s\n")
        if len(log):
            states = log.labels()
            lines = np.char.add(log.agent_id.astype(str), ",")
            lines = np.char.add(lines, states.astype(str))
            for arr in (log.start, log.end, log.end - log.start):
                lines = np.char.add(np.char.add(lines, ","), np.char.mod("%.3f", arr))
            fh.write("\n".join(lines.tolist()))
            fh.write("\n")
