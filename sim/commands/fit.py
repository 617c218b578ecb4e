"""``dialsim fit``: calibrate a scenario from a CDR export of your own campaign.

Reads the export (any format ``dialsim rate`` reads; outbound legs by default), fits
the customer model with censoring taken into account, writes ``scenario.toml`` (every
value commented with its source, sample size and CI, or marked NOT IDENTIFIED),
``fit.json``, ``fit.html`` and — after re-simulating the fitted scenario — ``check.json``
and the printed twin table. Estimates that the export cannot support are written with
a warning, and the command still succeeds (exit 0); an unreadable file exits 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.errors import SimError
from sim.output import check_writable

from ._common import add_cdr_args, check_count, no_rows_accepted, parse_mapping, seed_arg

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fit", help="fit a scenario of your campaign from its CDR export (calibration)",
        description="Estimate the customer model from a CDR export (censored pick-up and "
                    "ring law, talk mixture, retries, calendar, agents), write a commented "
                    "scenario and check it by re-simulation.")
    p.add_argument("cdrfile", metavar="CDRFILE", type=Path, help="CDR export to fit")
    add_cdr_args(p, legs="legs to fit")
    p.add_argument("--ring-timeout", dest="ring_timeout", type=float, metavar="S",
                   help="the dialer's ring timeout, s (default: inferred from no-answer calls)")
    p.add_argument("--lead-column", metavar="C",
                   help="CDR column that identifies a lead (default: lead id, else the "
                        "dialled number)")
    p.add_argument("--agents", type=int, metavar="N",
                   help="number of agents (default: agent ids, else concurrency)")
    p.add_argument("--talk", choices=("stages", "law"), default="stages",
                   help="talk time as script stages (default: levers kept) or as the "
                        "fitted law script.talk")
    p.add_argument("--reps", type=int, default=5, metavar="R",
                   help="replications of the twin check (default 5; 0 skips it)")
    p.add_argument("--seed", type=seed_arg, default=1,
                   help="root seed of the check, an integer >= 0 (default 1)")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="write scenario.toml, fit.json, check.json, fit.html here")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sim.cdrio import read_cdrs
    from sim.fit import fit

    if args.out is not None:
        check_writable(args.out, args.force)
    check_count("--reps", args.reps, least=0, why=" (no twin check)")
    if args.agents is not None and args.agents < 1:
        raise SimError(f"--agents: must be an integer >= 1 (got {args.agents})")
    if args.ring_timeout is not None and not args.ring_timeout > 0:
        raise SimError(f"--ring-timeout: must be a number of seconds > 0 "
                       f"(got {args.ring_timeout})")
    imported = read_cdrs(args.cdrfile, format=args.format, mapping=parse_mapping(args.map),
                         tz=args.tz, direction=args.direction, where=args.where)
    report, cdrs = imported.report, imported.cdrs
    print(report.summary())
    if len(cdrs) == 0 and not report.n_excluded:
        raise no_rows_accepted(args.cdrfile, report.counts_line(), report.rejected, "fit")
    if len(cdrs) == 0:
        print(f"\nwarning: nothing to fit: no {args.direction} legs left after the "
              "exclusions (try --direction all or --where)")
        return 0
    f = fit(cdrs, lead_column=args.lead_column, ring_timeout_s=args.ring_timeout,
            agents=args.agents, talk=args.talk, name=args.cdrfile.stem)
    for w in f.warnings:
        print(f"warning: {w}")
    print()
    print(_summary(f))
    check = None
    if args.reps > 0:
        check = f.check(reps=args.reps, seed=args.seed)
        print()
        print(f"twin check: the fitted scenario re-simulated {args.reps} times"
              + (f" at {check.scale:.0%} scale" if check.scale < 1 else ""))
        print(check.table())
    if args.out is not None:
        f.write(args.out, force=args.force, check=check)
        print(f"\nwrote {args.out}/scenario.toml, fit.json"
              + (", check.json" if check else "") + ", fit.html")
    else:
        print("\n(use --out DIR to write scenario.toml, fit.json, check.json and fit.html)")
    return 0


def _summary(f: Any) -> str:
    from sim.commands._common import format_table

    rows = []
    for key in ("share.answered", "customers.p_pickup", "naive.p_pickup", "ring.median_s",
                "naive.ring_median_s", "dialer.ring_timeout_s", "talk.median_s",
                "talk.short_share", "customers.p_machine", "machine.ring_median_s",
                "machine.p_value", "attempts_per_lead", "agents.count", "customers.billsec"):
        e = f.estimates.get(key)
        if e is None:
            continue
        v = e.value
        val = f"{v:.4g}" if isinstance(v, float) else str(v)
        ci = f"{e.low:.4g}..{e.high:.4g}" if e.low == e.low and e.high == e.high else ""
        rows.append([key, val, ci, f"{e.n:,}", "" if e.identified else "NOT IDENTIFIED"])
    return format_table(rows, ["estimate", "value", "95% CI", "n", ""], align="lrrrl")
