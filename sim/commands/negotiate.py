"""``dialsim negotiate``: the price at which every other offer costs what we pay now.

On a CDR export (or a ``dialsim run`` folder), or on a simulated campaign after a
change (``--scenario S --variant V``, with CIs over replications), every other plan's
free price — minute price, connection or per-dial fee, bundle price — is solved for the
current plan's total; bundle plans are also sized for uncertain volume (critical
fractile). With ``--uncertain KEY=LO:HI`` the scenario's inputs are sampled too, and the
output says how sure the cheapest choice is.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from sim.errors import SimError

from ._common import (
    Console,
    add_cdr_args,
    add_output_args,
    check_count,
    format_table,
    load_from_args,
    no_rows_accepted,
    parse_mapping,
    run_progress,
    seed_arg,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "negotiate", help="indifference prices of every offer against the current plan",
        description="For every other plan, the price at which it costs the same as the "
                    "current plan on these calls, and the saving at its listed price.")
    p.add_argument("source", metavar="CDRS_OR_RUN", nargs="?", type=Path,
                   help="a CDR export or a dialsim run folder (not with --scenario)")
    p.add_argument("--plans", metavar="FILE", type=Path, action="append", required=True,
                   help="plan file (TOML); repeatable")
    p.add_argument("--current", metavar="NAME", required=True, help="the plan in force")
    p.add_argument("--template", metavar="X/Y", action="append", default=[],
                   help="also ask for an X/Y per-minute offer (e.g. 6/6); repeatable")
    p.add_argument("--free", metavar="KEY",
                   help="the price left free in every plan: price_per_min, connect_fee, "
                        "per_attempt_fee, min_cost, bundle_price, overage_per_min "
                        "(default: what each plan bills most by)")
    p.add_argument("--places", type=int, default=6, metavar="N",
                   help="decimal places of the price grid (default 6)")
    p.add_argument("--volume", type=float, default=20.0, metavar="PCT",
                   help="volume uncertainty ±PCT %% for bundle sizing on a CDR file "
                        "(default 20; with --scenario the replications give it)")
    add_cdr_args(p.add_argument_group("CDR file"), legs="legs to price")
    s = p.add_argument_group("simulated campaign")
    s.add_argument("--scenario", metavar="FILE", type=Path,
                   help="simulate this scenario instead of reading calls")
    s.add_argument("--variant", metavar="NAME", help="after this variant of the scenario")
    s.add_argument("--reps", type=int, default=10, metavar="R",
                   help="replications (default 10)")
    s.add_argument("--seed", type=seed_arg, default=1,
                   help="root seed, an integer >= 0 (default 1)")
    s.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a scenario value (repeatable)")
    s.add_argument("--quick", action="store_true", help="scaled-down scenario")
    s.add_argument("--uncertain", metavar="KEY=LO:HI", action="append", default=[],
                   help="an uncertain scenario input, sampled uniformly; repeatable")
    s.add_argument("--samples", type=int, default=20, metavar="N",
                   help="samples of the uncertain inputs (default 20)")
    s.add_argument("--fit", metavar="FIT_JSON", type=Path,
                   help="the fit.json of `dialsim fit` that made the scenario: its 95 %% CIs "
                        "are the uncertain inputs, and the answer says how many more days "
                        "of data would make the choice safe at 95 %%")
    add_output_args(p)
    p.set_defaults(func=run)


def _plans(files: list[Path]) -> tuple[Any, ...]:
    from sim.costing import load_plan_files

    return tuple(load_plan_files(files))


def _read_source(args: argparse.Namespace, con: Console) -> tuple[Any, Any]:
    """CDRs and campaign facts of a CDR file or a run folder."""
    from sim.billing import CampaignInfo
    from sim.cdrio import read_cdrs

    src: Path = args.source
    campaign = None
    if src.is_dir():
        from sim.report_folder import run_cdr_file

        cdr_file = run_cdr_file(src)
        if cdr_file is None:
            raise SimError(f"{src}: not a dialsim run folder (no cdrs.csv or cdrs.parquet) "
                           "and not a file")
        summary = src / "summary.json"
        if summary.is_file():
            try:
                facts = json.loads(summary.read_text()).get("campaign") or {}
                campaign = CampaignInfo(seats=int(facts["seats"]),
                                        channels=int(facts["channels"]),
                                        numbers=int(facts["numbers"]),
                                        days=Decimal(str(facts["days"])),
                                        labour=Decimal(str(facts.get("labour", "0"))))
            except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                raise SimError(f"{summary}: campaign: must hold seats, channels, numbers "
                               f"and days ({exc})") from exc
        src = cdr_file
    elif not src.is_file():
        raise SimError(f"{src}: no such file or folder")
    imported = read_cdrs(src, format=args.format, mapping=parse_mapping(args.map), tz=args.tz,
                         direction=args.direction, where=args.where)
    rep = imported.report
    con.note(rep.summary() if hasattr(rep, "summary") else
             f"{src}: {rep.rows_read:,} rows read = {rep.accepted:,} accepted + "
             f"{len(rep.rejected):,} rejected")
    cdrs = imported.cdrs
    if len(cdrs) == 0 and hasattr(rep, "counts_line") and not rep.n_excluded:
        raise no_rows_accepted(src, rep.counts_line(), rep.rejected)
    if len(cdrs) == 0:
        raise SimError(f"{src}: no calls to price")
    return cdrs, campaign or CampaignInfo.from_cdrs(cdrs)


def _check(args: argparse.Namespace) -> None:
    from sim.decide.negotiate import FREE_KEYS

    if args.free is not None and args.free not in FREE_KEYS:
        raise SimError(f"--free: must be one of {', '.join(FREE_KEYS)} (got {args.free!r})")
    if args.places < 0 or args.places > 12:
        raise SimError(f"--places: must be an integer from 0 to 12 (got {args.places})")
    if not 0 <= args.volume < 100:
        raise SimError(f"--volume: must be a percentage from 0 to below 100 (got {args.volume})")
    if args.scenario is None:
        if args.source is None:
            raise SimError("give a CDR file or run folder, or --scenario FILE")
        for opt in ("variant", "uncertain", "fit"):
            if getattr(args, opt):
                raise SimError(f"--{opt}: needs --scenario")
    elif args.source is not None:
        raise SimError("give either a CDR file / run folder or --scenario, not both")
    check_count("--reps", args.reps)
    check_count("--samples", args.samples)


def run(args: argparse.Namespace) -> int:
    _check(args)
    con = Console(args)
    plans = _plans(args.plans)
    if args.scenario is not None:
        return _run_simulated(args, plans, con)
    from sim.decide.negotiate import Demand, monthly_minutes, negotiate, size_bundle

    cdrs, campaign = _read_source(args, con)
    result = negotiate(cdrs, plans, args.current, templates=args.template, free=args.free,
                       campaign=campaign, places=args.places)
    bundles = []
    for plan in plans:
        if plan.bundle is not None and plan.currency == result.currency:
            from sim.decide.negotiate import billed_seconds

            minutes = monthly_minutes(billed_seconds(cdrs, plan, campaign), campaign.days)
            demand = Demand.plus_minus(minutes, Fraction(str(args.volume)) / 100)
            bundles.append(size_bundle(plan.bundle, demand, plan=plan.name))
    data = result.to_dict()
    data["bundles"] = [b.to_dict() for b in bundles]
    con.emit(data)
    con.table(_format(result.current, result.currency, str(result.current_total),
                      [p.to_dict() for p in result.plans]))
    for line in result.skipped:
        con.note(f"  skipped {line}")
    if bundles:
        con.table()
        con.table(_format_bundles([b.to_dict() for b in bundles], result.currency,
                                  f"±{args.volume:g} % volume"))
    return 0


def _format(current: str, currency: str, total: str, rows: list[dict[str, Any]],
            ci: dict[str, Any] | None = None) -> str:
    from sim.fmt import money, money_column

    head = [f"Current plan {current}: {money(Decimal(total), currency, code=True)} on "
            "these calls.",
            "Indifference price: the largest price at which the offer costs no more.", ""]
    savings = money_column([None if r["saving_at_listed"] is None else
                            Decimal(r["saving_at_listed"]) for r in rows], currency)
    table = []
    for r, saving in zip(rows, savings, strict=True):
        ind = r["indifference"] if r["indifference"] is not None else "-"
        if ci and r["plan"] in ci and ci[r["plan"]] is not None:
            c = ci[r["plan"]]
            ind = f"{ind} ({c['low']} to {c['high']})"
        table.append([r["plan"], r["free"], r["listed"] or "-", ind, saving, r["note"]])
    return "\n".join(head) + format_table(
        table, ["plan", "free price", "listed", "indifference", "saving at listed", "note"],
        "llrrrl")


def _format_bundles(rows: list[dict[str, Any]], currency: str, basis: str) -> str:
    from sim.fmt import money

    table = [[r["plan"], f"{r['current_minutes']:,}",
              money(Decimal(r["current_expected_cost"]), currency),
              f"{r['best_minutes']:,}", money(Decimal(r["best_expected_cost"]), currency),
              f"{r['critical_fractile']:.3f}"] for r in rows]
    return (f"Bundle sizing (per month, {basis}; unused minutes expire):\n"
            + format_table(table, ["plan", "bundle min", "expected cost", "best min",
                                   "expected cost", "fractile"], "lrrrrr"))


def _run_simulated(args: argparse.Namespace, plans: tuple[Any, ...], con: Console) -> int:
    from sim.decide.simulated import negotiate_simulated
    scenario = load_from_args(args)  # a bad --set is blamed on the --set
    if args.variant:
        scenario = scenario.variant(args.variant)
    ranges = _check_ranges(scenario, args.uncertain)
    fitted = None
    if args.fit is not None:
        fitted, from_fit = _fit_inputs(args.fit, scenario)
        ranges = {**from_fit, **ranges}
        con.note(f"{args.fit}: {len(from_fit)} fitted values with CIs are uncertain inputs: "
                 + ", ".join(from_fit))
    progress, close = run_progress("negotiate", quiet=con.quiet)

    try:
        out = negotiate_simulated(scenario, plans, args.current, reps=args.reps,
                                  seed=args.seed, templates=args.template, free=args.free,
                                  places=args.places, uncertain=ranges,
                                  samples=args.samples, fitted=fitted, progress=progress)
    finally:
        close()
    con.emit(out)
    con.table(f"{scenario.name}{' after ' + args.variant if args.variant else ''}: "
              f"{args.reps} replications (seeds {args.seed}..{args.seed + args.reps - 1})")
    con.table(_format(out["current"], out["currency"], out["current_total"], out["plans"],
                      {p["plan"]: p.get("indifference_ci") for p in out["plans"]}))
    if out["bundles"]:
        con.table()
        con.table(_format_bundles(out["bundles"], out["currency"],
                                  "demand over the replications"))
    if out.get("how_sure"):
        hs = out["how_sure"]
        con.table()
        con.table(f"How sure ({hs['draws']} draws: {args.samples} samples of "
                  f"{', '.join(ranges)} × {args.reps} seeds):")
        table = [[r["plan"], f"{r['p_cheapest']:.2f} ({r['p_cheapest_low']:.2f}-"
                  f"{r['p_cheapest_high']:.2f})",
                  f"{r['p_cheaper_than_current']:.2f}" if "p_cheaper_than_current" in r
                  else "-", r["expected_regret"]] for r in hs["plans"]]
        con.table(format_table(table, ["plan", "P(cheapest)", "P(< current)",
                                       "expected regret"], "lrrr"))
        con.table(f"least expected regret: {hs['best']}")
        more = hs.get("more_days")
        if more is not None:
            if more["more_days"] is None:
                con.table(f"even {more['steps'][-1]['days']:g} days of data would not make "
                          f"{more['choice']} the cheapest in 95 % of draws "
                          f"(P = {more['p_best']:.2f})")
            elif more["more_days"] == 0:
                con.table(f"the data already make {more['choice']} safe at 95 % "
                          f"(P(cheapest) = {more['p_best']:.2f})")
            else:
                con.table(f"about {more['more_days']:g} more days of data would make "
                          f"{more['choice']} safe at 95 % (P(cheapest) = {more['p_best']:.2f} "
                          f"with {more['multiple']}x the data)")
    return 0


def _fit_inputs(path: Path, scenario: Any) -> tuple[dict[str, float], dict[str, Any]]:
    from sim.decide.uncertainty import fit_ranges

    try:
        estimates = json.loads(path.read_text(encoding="utf-8"))["estimates"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        found = (exc.strerror if isinstance(exc, OSError) else
                 "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else
                 f"invalid JSON ({exc})" if isinstance(exc, ValueError) else
                 "no 'estimates' list")
        raise SimError(f"{path}: --fit: expected the fit.json of `dialsim fit`, found: "
                       f"{found}") from None
    ranges = fit_ranges(estimates, scenario)
    if not ranges:
        raise SimError(f"{path}: no fitted value with a confidence interval applies to "
                       f"{scenario.source}")
    centre = {e["name"]: float(e["value"]) for e in estimates if e.get("name") in ranges}
    return centre, ranges


def _ranges(items: list[str]) -> dict[str, tuple[float, float]]:
    from sim.errors import SweepError
    from sim.sweeps.points import parse_range

    out: dict[str, tuple[float, float]] = {}
    for item in items:
        try:
            key, bounds = parse_range(item)
        except SweepError as exc:
            raise SimError(str(exc).replace("--range", "--uncertain")) from exc
        out[key] = bounds
    return out


def _check_ranges(scenario: Any, items: list[str]) -> dict[str, tuple[float, float]]:
    """``--uncertain`` ranges parsed and applied to ``scenario`` at both ends, before
    any run: an unknown key or an end out of bounds is blamed on ``--uncertain``."""
    from sim.errors import ScenarioError

    ranges = _ranges(items)
    for end in (0, 1):
        try:
            scenario.with_overrides({k: v[end] for k, v in ranges.items()})
        except ScenarioError as exc:
            raise ScenarioError(f"--uncertain {' '.join(items)}: "
                                f"{str(exc).removeprefix(f'{scenario.source}: ')}") from None
    return ranges
