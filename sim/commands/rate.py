"""``dialsim rate``: price a real CDR export under every plan of one or more plan files.

A business brings its own PBX or carrier export and asks what the same traffic would
cost under each offer. Only the legs a carrier bills are priced by default: outbound
legs, to a trunk (``--direction`` and ``--where`` select others). The import must
account for every row (rows read = accepted + rejected + excluded, each rejection with
its line and reason, each excluded group with its reason); the comparison then shows
the cheapest plan and the gap to the runner-up. Plan-level fees need the campaign's seats,
channels, numbers and days: by default they are estimated from the CDRs (and said so),
or given with ``--seats`` etc.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sim.errors import SimError
from sim.output import atomic_write, atomic_write_text, check_writable, output_dir
from sim.validate import DECIMAL_MAX

from ._common import Console, add_cdr_args, add_output_args, no_rows_accepted, parse_mapping

__all__ = ["add_parser", "run"]

#: Rejections printed on the terminal (all of them go to rejections.csv with --out).
SHOW_REJECTIONS = 10


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "rate", help="rate a CDR export (Asterisk, FreeSWITCH, native, mapped CSV) under plans",
        description="Read a CDR file, rate every call under each plan and compare the plans.")
    p.add_argument("cdrfile", metavar="CDRFILE", type=Path, help="CDR export to rate")
    p.add_argument("--plans", metavar="FILE", type=Path, action="append", required=True,
                   help="plan file (TOML); repeat to compare plans of several files")
    add_cdr_args(p, legs="legs to price")
    p.add_argument("--strict", action="store_true", help="any rejected row is an error")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="write costs.csv, charges.csv (with each row's source line and "
                        "call id), rejections.csv, import.json, comparison.txt, and what "
                        "`dialsim report DIR` needs: rate.json, cdrs.csv (the rows "
                        "priced), plans/")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    p.add_argument("--report", action="store_true",
                   help="also write --out/report.html: the decision, plans, rounding, "
                        "break-even, short calls, calls by hour, the import account")
    p.add_argument("--chunked", action="store_true",
                   help="rate chunk by chunk in bounded memory (a Parquet file, or a native "
                        "CSV with its sidecar; other CSVs are read whole first): the same "
                        "costs; --out gets costs.csv, charges.csv, comparison.txt and "
                        "import.json only")
    p.add_argument("--current", metavar="PLAN",
                   help="the plan paid today: the comparison says what switching saves")
    g = p.add_argument_group("campaign (for plan-level fees; default: estimated from the CDRs)")
    g.add_argument("--seats", type=int, metavar="N", help="agent seats rented")
    g.add_argument("--channels", type=int, metavar="N", help="concurrent channels rented")
    g.add_argument("--numbers", type=int, metavar="N", help="caller-ID numbers rented")
    g.add_argument("--days", metavar="D", help="campaign length in days")
    g.add_argument("--labour", metavar="AMOUNT", help="labour cost, in the plans' currency")
    add_output_args(p)
    p.set_defaults(func=run)


#: Sane upper limits of the campaign facts given on the command line.
MAX_DAYS = Decimal(36_600)  # a century
MAX_COUNT = 10**9  # seats, channels, numbers


def _amount(option: str, text: str | None, hi: Decimal = DECIMAL_MAX) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text) if text.isascii() else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise SimError(f"{option}: must be a number >= 0 (got {text!r})")
    if value > hi:
        raise SimError(f"{option}: must be a number <= {hi:,f} (got {text!r})")
    return value


def _campaign(args: argparse.Namespace, cdrs: Any) -> Any:
    from sim.billing import CampaignInfo

    given: dict[str, Any] = {}
    for name in ("seats", "channels", "numbers"):
        value = getattr(args, name)
        if value is not None:
            if value < 0:
                raise SimError(f"--{name}: must be an integer >= 0 (got {value})")
            if value > MAX_COUNT:
                raise SimError(f"--{name}: must be an integer <= {MAX_COUNT:,} (got {value})")
            given[name] = value
    days, labour = _amount("--days", args.days, MAX_DAYS), _amount("--labour", args.labour)
    if days is not None:
        given["days"] = days
    if labour is not None:
        given["labour"] = labour
    full = {"seats", "channels", "numbers", "days"} <= given.keys()
    base = CampaignInfo() if full else CampaignInfo.from_cdrs(cdrs)
    return dataclasses.replace(base, **given, estimated=not full)


def run(args: argparse.Namespace) -> int:
    from sim.billing import format_comparison, load_plans, rate, write_costs
    from sim.cdrio import read_cdrs
    from sim.commands._common import write_json

    con = Console(args)

    def say(text: str = "") -> None:
        """The import account and the table are the result; with --json they go to
        stderr (the JSON summary alone is on stdout), where -q silences them."""
        (con.note if con.json else con.table)(text)

    if args.out is not None:
        check_writable(args.out, args.force)  # fail before the work, not after it
    elif args.report:
        raise SimError("--report needs --out DIR (the report is written into it)")
    plans = tuple(p for f in args.plans for p in load_plans(f))
    names = [p.name for p in plans]
    if args.current is not None and args.current not in names:
        from sim.validate import no_such_plan

        raise SimError(no_such_plan("--current", args.current, names,
                                    ", ".join(map(str, args.plans))))
    mapping = parse_mapping(args.map)
    if getattr(args, "chunked", False):
        from sim.commands._rate_chunked import run_chunked

        return run_chunked(args, plans, mapping, saving_line)
    imported = read_cdrs(args.cdrfile, format=args.format, mapping=mapping, strict=args.strict,
                         tz=args.tz, direction=args.direction, where=args.where)
    report, cdrs = imported.report, imported.cdrs
    rejected = list(report.rejected)
    say(f"{args.cdrfile}: {report.format} CDRs: {report.counts_line()}")
    if report.directions:
        say("  legs by direction: " + ", ".join(f"{n:,} {d}" for d, n in report.directions)
              + f"; priced: {args.direction}"
              + (" and unknown" if args.direction == "outbound"
                 and dict(report.directions).get("unknown") else ""))
    for reason, n in report.excluded:
        say(f"  excluded {n:,} rows: {reason}")
    for warning in report.warnings:
        say(f"  WARNING: {warning}")
    for rej in rejected[:SHOW_REJECTIONS]:
        say(f"  rejected line {rej.line}: {rej.reason}")
    if len(rejected) > SHOW_REJECTIONS:
        more = f"  ... and {len(rejected) - SHOW_REJECTIONS:,} more"
        say(more + (" (all in rejections.csv)" if args.out else " (use --out to list all)"))
    for note in report.notes:
        say(f"  note: {note}")
    if len(cdrs) == 0 and report.n_excluded:
        con.emit({"import": report.to_dict(), "plans": [], "cheapest": None})
        say(f"\nnothing to price: no {args.direction} legs left after the exclusions "
              "above (a carrier bills no leg of this file as an outbound call); "
              "--direction all prices every leg" + (", nothing written to --out"
                                                    if args.out else ""))
        return 0
    if len(cdrs) == 0:  # nothing accepted and nothing left out on purpose: bad input
        raise no_rows_accepted(args.cdrfile, report.counts_line(), rejected)
    campaign = _campaign(args, cdrs)
    if args.seats is None and campaign.seats == 0 and any(p.seat_per_month for p in plans):
        say("  note: the CDRs name no agents, so seat fees are 0: give --seats N")
    rating = dataclasses.replace(rate(cdrs, plans, campaign=campaign),
                                 source_line=imported.source_line,
                                 source_id=imported.source_id)
    table = format_comparison(rating)
    saving = saving_line(rating, args.current)
    if saving:
        table += "\n" + saving
    # traffic terms and period terms (minimum spend, tiers) per window / period
    terms = bool(rating.traffic()) or any(p.contract.tiers or p.contract.min_monthly
                                          for p in plans)
    say()
    say(table)
    if args.out is not None:
        with output_dir(args.out, force=args.force) as folder:
            write_costs(rating, folder)
            atomic_write_text(folder / "comparison.txt", table + "\n")
            _write_inputs(folder, args, cdrs, campaign, report)
            if terms:
                from ._common import write_json

                write_json(folder / "terms.json", {"traffic_terms": rating.traffic(),
                                                   "periods": rating.periods()})
            with atomic_write(folder / "rejections.csv") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(["line", "reason"])
                w.writerows([r.line, r.reason] for r in rejected)
            write_json(folder / "import.json", report.to_dict())
        extra = ", terms.json" if terms else ""
        say(f"\nwrote {args.out}/costs.csv, charges.csv, rejections.csv, import.json, "
              f"comparison.txt{extra}, rate.json, cdrs.csv, plans/")
        if args.report:
            from sim.report_rate import write_rate_report

            say(f"wrote {write_rate_report(args.out, force=True)}")
    con.emit({"import": report.to_dict(), "plans": rating.rows(),
              "cheapest": rating.ranked()[0].plan if rating.summaries else None,
              "current": args.current, "traffic_terms": rating.traffic(),
              "out": str(args.out) if args.out is not None else None})
    return 0


def saving_line(rating: Any, current: str | None) -> str:
    """``current plan X: CUR total; the cheapest, Y, saves CUR d (p %)``, or ''."""
    if current is None:
        return ""
    now = rating.summary(current)
    same = [s for s in rating.ranked() if s.currency == now.currency]
    best = same[0]
    if best.plan == current:
        return (f"current plan {current} is the cheapest ({now.currency} {now.total:,}); "
                + (f"the runner-up {same[1].plan} would cost {now.currency} "
                   f"{same[1].total - now.total:,} more" if len(same) > 1 else "no other plan"))
    gap = now.total - best.total
    rel = f" ({100 * gap / now.total:.1f} %)" if now.total else ""
    return (f"current plan {current}: {now.currency} {now.total:,}; switching to {best.plan} "
            f"saves {now.currency} {gap:,}{rel}")


def _write_inputs(folder: Path, args: argparse.Namespace, cdrs: Any, campaign: Any,
                  report: Any) -> None:
    """What `dialsim report` re-rates from: the rows priced, the plans, the options."""
    import shutil

    from sim.cdrio import write_cdrs
    from sim.commands._common import write_json

    write_cdrs(cdrs, folder / "cdrs.csv")
    (folder / "plans").mkdir(exist_ok=True)
    copies = []
    for i, p in enumerate(args.plans):
        name = f"plans/{i:02d}-{Path(p).name}"
        shutil.copyfile(p, folder / name)
        copies.append(name)
    write_json(folder / "rate.json", {
        "kind": "dialsim rate", "source": str(args.cdrfile), "format": report.format,
        "direction": args.direction, "where": list(args.where), "map": list(args.map),
        "tz": args.tz, "current": args.current, "plans_files": [str(p) for p in args.plans],
        "plans_copies": copies,
        "campaign": {"seats": campaign.seats, "channels": campaign.channels,
                     "numbers": campaign.numbers, "days": str(campaign.days),
                     "labour": str(campaign.labour), "estimated": campaign.estimated},
        "import": report.to_dict(max_rejections=1000),
    })
