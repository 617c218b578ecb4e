"""``dialsim optimize``: the best setting under a plan and the abandonment cap.

A space-filling first stage over ``--vary`` ranges (and lists), ranking and selection
on common random numbers (OCBA), and a validation of the choice and the runner-up on
fresh seeds (:mod:`sim.decide.optimize`). Resumable with ``--out`` like a sweep.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.errors import SimError, SweepError

from ._common import (
    MAX_RUNS,
    Console,
    add_scenario_args,
    check_count,
    format_table,
    load_from_args,
    run_progress,
    write_json,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "optimize", help="the best dialer/script setting under a plan and constraints",
        description="Minimise (or maximise) a KPI or plan figure over scenario keys, "
                    "subject to constraints, with ranking and selection on common random "
                    "numbers and a validation on fresh seeds.")
    add_scenario_args(p)
    p.add_argument("--objective", required=True, metavar="METRIC[:PLAN]",
                   help="what to optimise, e.g. per_contact:cn-60/60 or "
                        "contacts_per_agent_hour")
    p.add_argument("--maximize", action="store_true", help="maximise instead of minimise")
    p.add_argument("--vary", action="append", required=True, default=[],
                   metavar="KEY=LO:HI|KEY=a,b,c",
                   help="a range to sample, or a list of values; repeatable")
    p.add_argument("--constraint", action="append", default=[], metavar="METRIC<=LIMIT",
                   help="e.g. abandonment_rate<=0.03; repeatable")
    p.add_argument("--budget", type=int, metavar="N",
                   help="runs for the search (default: 3 × the first stage)")
    p.add_argument("--reps", type=int, default=5, metavar="R",
                   help="first-stage replications per candidate (default 5)")
    p.add_argument("--candidates", type=int, default=12, metavar="N",
                   help="Latin-hypercube samples of the ranges (default 12)")
    p.add_argument("--keep", type=int, default=5, metavar="K",
                   help="contenders in ranking and selection (default 5)")
    p.add_argument("--validate-reps", type=int, metavar="R",
                   help="fresh seeds for the validation (default 2 × --reps)")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes")
    p.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="folder that makes the search resumable; optimum.json and "
                        "candidates.csv are written there")
    p.add_argument("--force", action="store_true", help="replace --out if it holds another")
    p.set_defaults(func=run)


def _vary(items: list[str]) -> dict[str, Any]:
    """``KEY=LO:HI`` (a range to sample) or ``KEY=a,b,c`` / ``KEY=start:stop:step``."""
    from sim.sweeps.points import _RANGE2, parse_range, parse_vary

    out: dict[str, Any] = {}
    for item in items:
        value = item.partition("=")[2]
        try:
            key, spec = (parse_range(item) if _RANGE2.match(value) else parse_vary(item))
        except SweepError as exc:
            raise SweepError(str(exc).replace("--range", "--vary")) from exc
        if key in out:
            raise SweepError(f"--vary {key}: given twice")
        out[key] = tuple(spec) if isinstance(spec, tuple) else list(spec)
    return out


def _check_counts(args: argparse.Namespace) -> None:
    """The replication, candidate and run counts, before anything is read."""
    check_count("--reps", args.reps, least=2, why=" (for ranking and selection)")
    if args.validate_reps is not None:
        check_count("--validate-reps", args.validate_reps)
    check_count("--candidates", args.candidates)
    check_count("--keep", args.keep, least=2)
    if args.budget is not None:
        check_count("--budget", args.budget, most=MAX_RUNS)


def run(args: argparse.Namespace) -> int:
    from sim.decide.optimize import optimize, parse_constraint, parse_objective
    from sim.sweeps import _plans

    from ._metrics import check_metric

    if args.seed < 0:
        raise SimError(f"--seed: must be >= 0 (got {args.seed})")
    _check_counts(args)
    objective = parse_objective(args.objective)
    constraints = [parse_constraint(c) for c in args.constraint]
    vary = _vary(args.vary)
    scenario = load_from_args(args)
    plans = _plans(scenario, None)
    # names fail here, not after the first stage's runs
    check_metric(f"--objective {args.objective}", objective.column, plans, "the scenario")
    for text, c in zip(args.constraint, constraints, strict=True):
        check_metric(f"--constraint {text}", c.metric, plans, "the scenario")
    executor = None
    client = None
    if args.dask:
        if args.workers is not None:
            raise SimError("give --workers or --dask, not both")
        try:
            from distributed import Client
        except ImportError as exc:
            raise SimError("--dask: needs the dask extra: pip install 'dialsim[dask]'") from exc
        client = Client(args.dask)
        executor = client.get_executor()
    con = Console(args)
    progress, close = run_progress("optimize", quiet=con.quiet)

    try:
        res = optimize(scenario, objective, vary, constraints=constraints, plans=plans,
                       maximize=args.maximize, budget=args.budget, reps=args.reps,
                       candidates=args.candidates,
                       keep=args.keep, validate_reps=args.validate_reps, seed=args.seed,
                       workers=args.workers, executor=executor, out=args.out,
                       force=args.force, progress=progress)
    finally:
        close()
        if client is not None:
            client.close()
    data = res.to_dict()
    if args.out is not None:
        write_json(args.out / "optimum.json", data)
        _write_candidates(args.out / "candidates.csv", res.table)
    con.emit(data)
    con.table(_format(data))
    return 0


def _write_candidates(path: Path, table: list[dict[str, Any]]) -> None:
    import csv
    import io

    from sim.output import atomic_write_text

    buf = io.StringIO()
    keys = list(dict.fromkeys(k for row in table for k in row))
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    w.writerows(table)
    atomic_write_text(path, buf.getvalue())


def _format(data: dict[str, Any]) -> str:
    from sim.fmt import plain

    def line(label: str, v: dict[str, Any] | None) -> list[list[str]]:
        if v is None:
            return []
        settings = ", ".join(f"{k}={x}" for k, x in v["settings"].items())
        o = v["objective"]
        rows = [[label, settings, f"{plain(o['mean'])} ({plain(o['low'])} to "
                                  f"{plain(o['high'])})", ""]]
        for name, c in v["constraints"].items():
            rows.append(["", f"  {name}", f"{plain(c['mean'], 4)} ({plain(c['low'], 4)} to "
                                          f"{plain(c['high'], 4)})",
                         "ok" if c["ok"] else "BROKEN"])
        return rows

    head = (f"{data['direction']} {data['objective']}"
            + (f" subject to {', '.join(data['constraints'])}" if data["constraints"] else "")
            + f": {data['candidates']} candidates ({data['feasible']} feasible in the first "
              f"stage), {data['evaluations']} runs")
    table = line("best", data["best"]) + line("runner-up", data["runner_up"])
    body = format_table(table, ["", "setting", "on fresh seeds (95 % CI)", "constraint"],
                        "llll")
    p = data["p_correct"]
    sure = "n/a" if p != p else f"{p:.3f}"
    return (f"{head}\n\n{body}\n\nP(the choice is the best of the candidates evaluated) = "
            f"{sure} (from the paired differences on the selection's common seeds: common "
            "random numbers make a difference far surer than the two intervals above)")
