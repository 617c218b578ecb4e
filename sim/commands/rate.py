"""``dialsim rate``: price a real CDR export under every plan of one or more plan files.

A business brings its own PBX or carrier export and asks what the same traffic would
cost under each offer. The import must account for every row (rows read = accepted +
rejected, each rejection with its line and reason); the comparison then shows the
cheapest plan and the gap to the runner-up. Plan-level fees need the campaign's seats,
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

from sim.errors import CDRFormatError, SimError
from sim.output import atomic_write, atomic_write_text, check_writable, output_dir
from sim.validate import DECIMAL_MAX

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
    p.add_argument("--format", default="auto",
                   choices=("auto", "native", "asterisk", "freeswitch", "mapped"),
                   help="CDR format (default: detect; --map implies mapped)")
    p.add_argument("--map", metavar="COLUMN=HEADER", action="append", default=[],
                   help="read our COLUMN from the file's HEADER column (header CSVs); repeat")
    p.add_argument("--strict", action="store_true", help="any rejected row is an error")
    p.add_argument("--tz", metavar="ZONE",
                   help="IANA time zone of the file's wall-clock times (bands use local time)")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="write costs.csv, charges.csv, rejections.csv and comparison.txt")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    g = p.add_argument_group("campaign (for plan-level fees; default: estimated from the CDRs)")
    g.add_argument("--seats", type=int, metavar="N", help="agent seats rented")
    g.add_argument("--channels", type=int, metavar="N", help="concurrent channels rented")
    g.add_argument("--numbers", type=int, metavar="N", help="caller-ID numbers rented")
    g.add_argument("--days", metavar="D", help="campaign length in days")
    g.add_argument("--labour", metavar="AMOUNT", help="labour cost, in the plans' currency")
    p.set_defaults(func=run)


def _mapping(items: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for item in items:
        column, sep, header = item.partition("=")
        if not sep or not column.strip() or not header.strip():
            raise CDRFormatError(f"--map {item!r}: must be COLUMN=HEADER, like "
                                 "billsec=\"Talk Time\"")
        out[column.strip()] = header.strip()
    return out or None


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

    if args.out is not None:
        check_writable(args.out, args.force)  # fail before the work, not after it
    plans = tuple(p for f in args.plans for p in load_plans(f))
    mapping = _mapping(args.map)
    imported = read_cdrs(args.cdrfile, format=args.format, mapping=mapping, strict=args.strict,
                         tz=args.tz)
    report, cdrs = imported.report, imported.cdrs
    rejected = list(report.rejected)
    print(f"{args.cdrfile}: {report.format} CDRs: {report.rows_read:,} rows read = "
          f"{report.accepted:,} accepted + {len(rejected):,} rejected")
    for rej in rejected[:SHOW_REJECTIONS]:
        print(f"  rejected line {rej.line}: {rej.reason}")
    if len(rejected) > SHOW_REJECTIONS:
        more = f"  ... and {len(rejected) - SHOW_REJECTIONS:,} more"
        print(more + (" (all in rejections.csv)" if args.out else " (use --out to list all)"))
    for note in report.notes:
        print(f"  note: {note}")
    campaign = _campaign(args, cdrs)
    if args.seats is None and campaign.seats == 0 and any(p.seat_per_month for p in plans):
        print("  note: the CDRs name no agents, so seat fees are 0: give --seats N")
    rating = rate(cdrs, plans, campaign=campaign)
    table = format_comparison(rating)
    print()
    print(table)
    if args.out is not None:
        with output_dir(args.out, force=args.force) as folder:
            write_costs(rating, folder)
            atomic_write_text(folder / "comparison.txt", table + "\n")
            with atomic_write(folder / "rejections.csv") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(["line", "reason"])
                w.writerows([r.line, r.reason] for r in rejected)
        print(f"\nwrote {args.out}/costs.csv, charges.csv, rejections.csv, comparison.txt")
    return 0
