"""``dialsim audit``: reconcile the carrier's CDRs (or charge list) with ours.

``dialsim audit OURS THEIRS --plan PLANFILE[:NAME]`` matches the carrier's rows to our
calls, re-rates them under the contract and splits the money difference into causes
that sum to it exactly (:mod:`sim.audit`). ``dialsim audit --infer THEIRS --plans FILE``
infers the tariff from a charge list alone and prices the same calls under every plan.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.errors import SimError

from ._common import parse_mapping

__all__ = ["add_parser", "run"]


def _country(text: str) -> str:
    """``--country``: a country calling code, 1 to 3 digits (``+`` allowed)."""
    code = text.strip().removeprefix("+")
    if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 3):
        raise argparse.ArgumentTypeError(f"must be a country calling code of 1 to 3 digits "
                                         f"such as 86 or 44 (got {text!r})")
    return code


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "audit", help="audit a carrier's bill against your own CDRs and the contract",
        description="Match the carrier's CDRs with yours, re-rate them under the contract "
        "plan, infer the carrier's tariff and split the difference into causes.")
    p.add_argument("files", metavar="FILE", type=Path, nargs="+",
                   help="OURS THEIRS (or THEIRS alone with --infer)")
    p.add_argument("--plan", metavar="PLANFILE[:NAME]",
                   help="the contract's plan (NAME needed when the file holds several)")
    p.add_argument("--infer", action="store_true",
                   help="THEIRS only: infer the tariff from its charges and price the "
                   "calls under every plan of --plans. Plans are compared on call charges "
                   "only: plan-level fees (rent, seats, a bundle's fee, minimum spend), "
                   "traffic fees and tax are left out, so a bundle whose minutes cover the "
                   "calls shows 0")
    p.add_argument("--plans", metavar="FILE", type=Path, action="append", default=[],
                   help="with --infer: plan files to price the calls under; repeat")
    for side in ("ours", "theirs"):
        g = p.add_argument_group(f"{side} side")
        g.add_argument(f"--{side}-format", default="auto",
                       choices=("auto", "native", "asterisk", "freeswitch", "mapped"),
                       help="CDR format (default: detect)")
        g.add_argument(f"--{side}-map", metavar="COLUMN=HEADER", action="append", default=[],
                       help="read COLUMN from the file's HEADER column; repeat"
                       + ("; also charge=HEADER and currency=HEADER" if side == "theirs"
                          else ""))
        g.add_argument(f"--{side}-where", metavar="COLUMN=VALUE", action="append", default=[],
                       help="keep rows with COLUMN=VALUE (or COLUMN!=VALUE); repeat")
    p.add_argument("--tolerance-s", type=float, default=2.0, metavar="S",
                   help="largest start difference of a pair after the clock correction "
                   "(default 2)")
    p.add_argument("--country", metavar="CODE", type=_country,
                   help="country calling code to strip from numbers, 1-3 digits such as 86 "
                        "(default: inferred)")
    p.add_argument("--tz", metavar="ZONE", help="IANA zone of wall-clock times in the files")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="write audit.json, disputes.csv and audit.html")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    p.add_argument("--json", action="store_true", help="print audit.json instead of the summary")
    p.set_defaults(func=run)


def _counts(report: Any) -> str:
    return (report.counts_line() if hasattr(report, "counts_line") else
            f"{report.rows_read:,} rows read = {report.accepted:,} accepted + "
            f"{len(report.rejected):,} rejected")


def _print_import(label: str, path: Path, report: Any) -> None:
    print(f"{label}: {path}: {report.format} CDRs: {_counts(report)}")
    for warning in getattr(report, "warnings", ()):
        print(f"  WARNING: {warning}")
    for reason, rows in getattr(report, "excluded", ()):
        print(f"  excluded {rows:,} rows: {reason}")
    for rej in report.rejected[:5]:
        print(f"  rejected line {rej.line}: {rej.reason}")
    if len(report.rejected) > 5:
        print(f"  ... and {len(report.rejected) - 5:,} more")


def _run_infer(args: argparse.Namespace) -> int:
    from sim.audit.infer_only import infer_file

    if len(args.files) != 1:
        raise SimError("audit --infer: give one file, the carrier's (got "
                       f"{len(args.files)})")
    if args.out is not None:
        from sim.output import check_writable
        check_writable(args.out, args.force)
    result = infer_file(args.files[0], plans=args.plans, format=args.theirs_format,
                        mapping=parse_mapping(args.theirs_map, "--theirs-map"),
                        where=args.theirs_where, tz=args.tz, side="theirs")
    text = result.text()
    if args.json:
        import json

        from sim.commands._common import json_default
        print(json.dumps(result.to_dict(), indent=2, default=json_default))
    else:
        print(text)
    if args.out is not None:
        from sim.commands._common import write_json
        from sim.output import atomic_write_text, output_dir
        with output_dir(args.out, force=args.force) as folder:
            write_json(folder / "infer.json", result.to_dict())
            atomic_write_text(folder / "infer.txt", text + "\n")
        if not args.json:
            print(f"\nwrote {args.out}/infer.json, infer.txt")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.infer:
        return _run_infer(args)
    from sim.audit import audit
    from sim.audit.files import read_side, summary_text, write_audit
    from sim.audit.inputs import load_contract

    if len(args.files) != 2:
        raise SimError(f"audit: give two files, OURS and THEIRS (got {len(args.files)}); "
                       "or --infer THEIRS")
    if args.plan is None:
        raise SimError("audit: --plan PLANFILE[:NAME] is required (the contract's plan)")
    if args.out is not None:
        from sim.output import check_writable
        check_writable(args.out, args.force)
    contract = load_contract(args.plan)
    ours_path, theirs_path = args.files
    ours, ours_report = read_side(ours_path, format=args.ours_format,
                                  mapping=parse_mapping(args.ours_map, "--ours-map"),
                                  where=args.ours_where, tz=args.tz, charges=False,
                                  side="ours")
    theirs, theirs_report = read_side(theirs_path, format=args.theirs_format,
                                      mapping=parse_mapping(args.theirs_map, "--theirs-map"),
                                      where=args.theirs_where, tz=args.tz, side="theirs")
    for path, report in ((ours_path, ours_report), (theirs_path, theirs_report)):
        if not report.accepted and not getattr(report, "n_excluded", 0):
            from sim.commands._common import no_rows_accepted

            raise no_rows_accepted(path, _counts(report), report.rejected, "match")
    result = audit(ours, theirs, contract, tolerance_s=args.tolerance_s, country=args.country)
    if args.json:
        import json

        from sim.commands._common import json_default
        print(json.dumps(result.to_dict(), indent=2, default=json_default))
    else:
        _print_import("ours", ours_path, ours_report)
        _print_import("theirs", theirs_path, theirs_report)
        print()
        print(summary_text(result))
    if args.out is not None:
        from sim.output import output_dir
        imports = {side: report.to_dict(max_rejections=100) if hasattr(report, "to_dict")
                   else {"path": report.path, "rows_read": report.rows_read,
                         "accepted": report.accepted, "rejected": len(report.rejected)}
                   for side, report in (("ours", ours_report), ("theirs", theirs_report))}
        with output_dir(args.out, force=args.force) as folder:
            write_audit(result, folder, {"imports": imports})
        if not args.json:
            print(f"\nwrote {args.out}/audit.json, disputes.csv, audit.html")
    return 0
