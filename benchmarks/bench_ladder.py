"""The dialer ladder (issues 6, 17): seven pacing strategies, same customers, 5 to 100 agents.

For each team size: progressive 1:1; a Poisson open-loop dialer, power dialing (a ratio
of lines per idle agent) and VICIdial's RATIO dial level, each tuned to the 3 % cap
(highest setting whose mean abandonment meets it, by bisection over ``--tune-reps``
replications on seeds 10001..., *not* the scoring seeds); VICIdial-style adaptive; and
dialsim's predictive policy at its default margin (aim at 0.8 × cap) and a tighter one
(0.9 × cap). Each is scored over ``--reps`` replications on seeds 1... (the same
customers for every strategy) on scenarios/dialer_ladder.toml (P(live) 0.25, lognormal
ring median 8 s, 25 s ring timeout, talk lognormal mean 120 s CV 1, wrap 30 s, 2 s
threshold, 8 h day). Reports contacts per agent-hour, occupancy and abandonment with
95 % CIs, how many replications went over the cap, and the gain over progressive 1:1.
Prints a text table and the README's Markdown table; writes benchmarks/results/ladder.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import sim  # noqa: E402
from sim.ladder import STRATEGIES, format_ladder, ladder, markdown_ladder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="5,10,20,50,100")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--tune-reps", type=int, default=4)
    p.add_argument("--tune-steps", type=int, default=9)
    p.add_argument("--strategies", default="",
                   help="comma-separated subset of sim.ladder.STRATEGIES (default all)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ladder.json")
    args = p.parse_args(argv)
    base = sim.load_scenario(ROOT / "scenarios" / "dialer_ladder.toml")
    sizes = [int(x) for x in args.sizes.split(",")]
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        chosen = [x.strip() for x in args.strategies.split(",") if x.strip()] or \
            list(STRATEGIES)
        rows = ladder(base, sizes, reps=args.reps, tune_reps=args.tune_reps,
                      tune_steps=args.tune_steps, strategies=chosen, executor=pool,
                      progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_ladder(rows))
    print()
    print(markdown_ladder(rows))
    print(f"{time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([{
        "agents": r.agents, "strategy": r.strategy, "parameter": r.parameter,
        "label": r.label, "seeds": r.seeds, "tuned_on": r.tuned_on,
        "reps": r.reps, "reps_over_cap": r.reps_over_cap,
        **{k: {"mean": e.mean, "low": e.low, "high": e.high}
           for k, e in (("contacts_per_agent_hour", r.contacts_per_agent_hour),
                        ("occupancy", r.occupancy), ("abandonment", r.abandonment))},
        "values": r.values} for r in rows], indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
