"""``dialsim compare SCENARIO``: the base and each ``[[variant]]`` on the same customers.

Every scenario runs on the same seeds, so differences are paired; the table gives, per
plan, cost per contact and per conversion, and plan-free contacts, conversions and
abandonment, each with its 95 % CI and its paired difference to the base. The output
folder holds compare.json and compare.csv (one row per variant and replication) and the
base run at the root seed (as ``dialsim run`` writes it), so ``dialsim report`` can show
everything.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import (
    Console,
    add_scenario_args,
    check_count,
    default_out,
    load_from_args,
    run_progress,
    write_json,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "compare", help="compare the scenario's variants on the same customers",
        description="Run the base scenario and each [[variant]] on the same seeds (common "
                    "random numbers) and report cost per contact and per conversion under "
                    "each plan, conversions and abandonment, with the paired difference to "
                    "the base and its 95% confidence interval.")
    add_scenario_args(p)
    p.add_argument("--reps", type=int, default=10, metavar="R",
                   help="replications per variant (default 10)")
    p.add_argument("--variant", dest="variants", action="append", metavar="NAME",
                   help="compare only this variant (repeatable; default: all)")
    p.add_argument("--plans", action="append", default=[], type=Path, metavar="FILE",
                   help="plan file(s) (default: the scenario's billing.plans)")
    p.add_argument("--out", type=Path, help="output folder (default: runs/<scenario>-NNN)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes for the runs (same results; default 1)")
    p.add_argument("--report", action="store_true", help="also write report.html")
    p.add_argument("--uncertain", metavar="KEY=LO:HI", action="append", default=[],
                   help="an uncertain scenario input, sampled uniformly on the same seeds: "
                        "reports P(each choice is the cheapest) and its expected regret "
                        "(repeatable; with --samples)")
    p.add_argument("--samples", type=int, default=10, metavar="N",
                   help="samples of the --uncertain inputs (default 10)")
    p.add_argument("--sure-plan", metavar="PLAN",
                   help="the plan whose cost per contact decides, for --uncertain "
                        "(default: the first plan)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..costing import load_plan_files, rate_run
    from ..errors import ScenarioError
    from ..model import run as simulate
    from ..output import check_writable, output_dir
    from ..variants import compare
    from .run import _executor, replication_progress, run_notes, save_run, write_rows_csv

    con = Console(args)
    scenario = load_from_args(args)
    check_count("--reps", args.reps, least=2, why=" (for confidence intervals)")
    check_count("--samples", args.samples)
    if not scenario.variants:
        raise ScenarioError(f"{scenario.source}: variant: the scenario declares no "
                            "[[variant]] entries to compare")
    known = [v.name for v in scenario.variants]
    unknown = [name for name in args.variants or () if name not in known]
    if unknown:  # fails before anything runs
        from ..validate import did_you_mean

        raise ScenarioError("; ".join(f"--variant: no variant named {name!r}"
                                      + did_you_mean(name, known) for name in unknown)
                            + f" (the scenario's variants: {', '.join(known)})")
    plan_files = args.plans or list(scenario.plans)
    plans = load_plan_files(plan_files) if plan_files else []
    sure_plan = _sure_plan(args, scenario, plans) if args.uncertain else None  # before work
    out = args.out or default_out(scenario)
    check_writable(out, args.force)

    n = len(args.variants or scenario.variants) + 1
    step, done = replication_progress(f"comparing {scenario.name}", n * args.reps,
                                      quiet=con.quiet)
    executor = _executor(args.workers)
    try:
        comp = compare(scenario, args.reps, seed=args.seed, plans=plans,
                       variants=args.variants, executor=executor, progress=step)
    finally:
        done()
        if executor is not None:
            executor.shutdown()
    con.table(f"{scenario.name}: base and {len(comp.variants)} variant(s), {args.reps} "
              f"replications each on seeds {args.seed}..{args.seed + args.reps - 1} "
              "(the same customers for all)")
    con.table("mean ± 95% CI; paired difference to base ± 95% CI (* = excludes 0)\n")
    con.table(comp.format())

    base = simulate(scenario, seed=args.seed)  # replication 0, kept in full for the report
    rating = rate_run(scenario, base.cdrs, base.agents, plans) if plans else None
    with output_dir(out, force=args.force) as tmp:
        files = save_run(tmp, base, rating, plan_files)
        write_json(tmp / "compare.json", comp.to_dict())
        write_rows_csv(comp.replication_rows(), tmp / "compare.csv")
        from ..tidy import write_long_csv

        write_long_csv(comp.replication_rows(), ["variant", "seed"], tmp / "compare_long.csv")
        files += ["compare.json", "compare.csv", "compare_long.csv"]
        if args.report:
            from ..report import write_report

            write_report(tmp, name=Path(out).name)
            files.append("report.html")
    for note in run_notes(base):
        con.note(note)
    con.note(f"wrote {out}/ ({', '.join(files)})")
    sure = _how_sure(args, scenario, comp, plans, sure_plan, con) if sure_plan else None
    con.emit({**comp.to_dict(), "out": str(out), "files": files,
              **({"how_sure": sure} if sure is not None else {})})
    return 0


def _sure_plan(args: argparse.Namespace, scenario: Any, plans: list[Any]) -> str:
    """The plan whose cost per contact ``--uncertain`` decides on (``--sure-plan``, else
    the first); its ranges checked too (keys and both ends), all before anything runs."""
    from ..errors import ScenarioError
    from ..validate import no_such_plan
    from .negotiate import _check_ranges

    if not plans:
        raise ScenarioError("--uncertain: needs plans (the cost per contact decides)")
    plan: str = args.sure_plan or plans[0].name
    if plan not in {p.name for p in plans}:
        raise ScenarioError(no_such_plan("--sure-plan", plan, [p.name for p in plans]))
    _check_ranges(scenario, args.uncertain)
    return plan


def _how_sure(args: argparse.Namespace, scenario: Any, comp: Any, plans: list[Any],
              plan: str, con: Console) -> dict[str, Any]:
    """``--uncertain``: the choice among base and variants over sampled inputs x seeds."""
    from ..decide.uncertainty import variants_how_sure
    from ..fmt import format_table
    from .negotiate import _ranges

    ranges = _ranges(args.uncertain)
    progress, close = run_progress("how sure", quiet=con.quiet)

    try:
        hs = variants_how_sure(scenario, list(comp.names), plans, plan, ranges,
                               samples=args.samples, seeds=comp.seeds, progress=progress)
    finally:
        close()
    rows = hs.rows()
    con.table(f"\nHow sure ({hs.n} draws: {args.samples} samples of {', '.join(ranges)} x "
              f"{len(comp.seeds)} seeds), cost per contact under {plan}:")
    con.table(format_table([[r["plan"], f"{r['p_cheapest']:.2f} ({r['p_cheapest_low']:.2f}-"
                                        f"{r['p_cheapest_high']:.2f})",
                             f"{r['p_cheaper_than_current']:.2f}"
                             if "p_cheaper_than_current" in r else "-",
                             r["expected_regret"]] for r in rows],
                           ["choice", "P(cheapest)", "P(< base)", "expected regret"], "lrrr"))
    con.table(f"least expected regret: {hs.best()}")
    return {**hs.to_dict(), "plan": plan, "uncertain": {k: list(v) for k, v in ranges.items()}}
