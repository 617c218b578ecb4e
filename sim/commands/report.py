"""``dialsim report RUN_DIR``: the HTML report of a run (or compare) folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report", help="write the HTML report of a run folder",
        description="Write RUN_DIR/report.html: KPIs, plan comparison, rounding analysis, "
                    "break-even, variants (from a compare folder), compliance and "
                    "operations, plots embedded (also saved beside it as report-*.png).")
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path,
                   help="folder written by `dialsim run`, `dialsim compare` or "
                        "`dialsim rate --out`")
    p.add_argument("--force", action="store_true", help="overwrite an existing report")
    p.add_argument("--current", metavar="PLAN",
                   help="the plan the campaign pays today: the decision box gives the "
                        "saving against it (default: the plain 60/60 plan)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import write_report
    from ..report_rate import is_rate_folder, write_rate_report

    if is_rate_folder(args.run_dir):
        path = write_rate_report(args.run_dir, force=args.force, current=args.current)
    else:
        path = write_report(args.run_dir, force=args.force, current=args.current)
    print(f"wrote {path}", file=sys.stderr)
    return 0
