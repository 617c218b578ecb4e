"""A parameter sweep as a plain Python script: dial ratio × agents on the baseline campaign.

Which power-dialing ratio and team size give the most contacts per agent-hour while
keeping abandoned calls under the 3 % rule, and what does a contact cost under each
billing plan? Every point runs the same replications' seeds, so points face the same
customers and their differences are not noise.

Run::

    python scenarios/sweep_example.py [--out DIR] [--workers N]

``DIALSIM_QUICK=1`` (or ``--quick``) scales it down to a few seconds. Run it again
with the same ``--out`` after an interruption: finished runs are reused.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import sim
from sim.scenario import quick

HERE = Path(__file__).resolve().parent
ABANDON_LIMIT = 0.03  # FTC TSR / Ofcom: at most 3 % of live answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sweeps/sweep_example"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("DIALSIM_QUICK") == "1")
    args = parser.parse_args(argv)

    scenario = sim.load_scenario(HERE / "baseline.toml")
    grid = {"dialer.ratio": [1.0, 1.2, 1.4, 1.6], "agents.count": [20, 30, 40]}
    replications = 5
    if args.quick:
        scenario = quick(scenario, leads=120)
        grid = {"dialer.ratio": [1.0, 1.5], "agents.count": [2, 4]}
        replications = 2

    result = sim.sweep(scenario, grid=grid, replications=replications, seed=1,
                       workers=args.workers, out=args.out, progress=True)
    print(f"{len(result.design)} points × {len(result.seeds)} replications: "
          f"{result.computed} runs made, {result.reused} reused from {args.out}/")

    # The aggregate is long-form: one row per (point, metric). result.to_pandas() and
    # result.aggregate().to_pandas() give DataFrames when pandas is installed.
    plan = result.plans[0]
    cost = f"campaign_per_contact:{plan}"
    shown = ["contacts_per_agent_hour", "abandonment_rate", cost]
    means = {(r["point"], r["metric"]): r for r in result.aggregate(shown)}
    print(f"{'ratio':>6} {'agents':>6} {'contacts/agent-h':>18} {'abandoned':>10} "
          f"{'CNY/contact':>12}")
    for p, values in enumerate(result.design.points):
        cph, ab, cpc = (means[(p, m)] for m in shown)
        print(f"{values['dialer.ratio']:>6} {values['agents.count']:>6} "
              f"{cph['mean']:>10.2f} ± {(cph['high'] - cph['low']) / 2:<5.2f} "
              f"{ab['mean']:>10.2%} {cpc['mean']:>12.2f}")

    legal = [p for p in range(len(result.design))
             if means[(p, "abandonment_rate")]["mean"] <= ABANDON_LIMIT]
    best = min(legal or range(len(result.design)), key=lambda p: means[(p, cost)]["mean"])
    print(f"cheapest point under {plan} within the abandonment limit: point {best} "
          f"({result.design.label(best)})")

    from sim.sweeps.plots import sweep_figure

    for metric in ("contacts_per_agent_hour", cost):
        fig = sweep_figure(result, metric)  # a heat map: two parameters on a grid
        fig.savefig(args.out / f"{metric.split(':')[0]}.png", dpi=110)
        # or draw on your own axes: result.plot(metric, ax=ax)
    print(f"wrote {args.out}/ (sweep.csv, aggregate.csv, plots)")
    return 0


if __name__ == "__main__":  # required: worker processes re-import this file
    raise SystemExit(main())
