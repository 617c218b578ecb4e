"""The dialer ladder (issue 6): five pacing strategies, same customers, 5 to 100 agents.

For each team size: progressive 1:1, Poisson at the highest rate meeting the 3 % cap,
the best fixed dial level (power ratio tuned once to the cap), VICIdial-style adaptive
and dialsim's predictive policy, each over ``--reps`` replications on the same seeds
(scenarios/dialer_ladder.toml: P(live) 0.25, lognormal ring median 8 s, 25 s ring
timeout, talk lognormal mean 120 s CV 1, wrap 30 s, 2 s threshold, 8 h day).
Reports contacts per agent-hour, occupancy and abandonment with 95 % CIs, how many
replications went over the cap, and the gain over progressive 1:1. Prints a table and
writes benchmarks/results/ladder.json.
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
from sim.ladder import format_ladder, ladder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="5,10,20,50,100")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--tune-reps", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ladder.json")
    args = p.parse_args(argv)
    base = sim.load_scenario(ROOT / "scenarios" / "dialer_ladder.toml")
    sizes = [int(x) for x in args.sizes.split(",")]
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        rows = ladder(base, sizes, reps=args.reps, tune_reps=args.tune_reps, executor=pool,
                      progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_ladder(rows))
    print(f"{time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([{
        "agents": r.agents, "strategy": r.strategy, "parameter": r.parameter,
        "reps": r.reps, "reps_over_cap": r.reps_over_cap,
        **{k: {"mean": e.mean, "low": e.low, "high": e.high}
           for k, e in (("contacts_per_agent_hour", r.contacts_per_agent_hour),
                        ("occupancy", r.occupancy), ("abandonment", r.abandonment))},
        "values": r.values} for r in rows], indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
