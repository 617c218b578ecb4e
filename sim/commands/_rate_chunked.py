"""``dialsim rate --chunked``: price a large CDR file chunk by chunk in bounded memory.

The calls are read a chunk at a time (:func:`sim.cdrio.iter_cdrs`: bounded for Parquet
and native CSVs with their sidecar; other CSVs are still read whole first) and rated
by :func:`sim.billing.rate_chunks`: the same comparison as ``dialsim rate``, to the
last digit. With ``--out``: ``costs.csv``, ``charges.csv`` (written block by block as
the charges are computed, the same columns as the whole-table path's, without
``source_line``/``source_id``), ``comparison.txt`` and ``import.json`` (the account of
the rows). Not written: ``cdrs.csv``, ``rate.json`` and ``--report`` (they need the
whole table).
"""

from __future__ import annotations

import argparse
import csv
import io
from typing import Any

from sim.errors import SimError
from sim.output import atomic_write, atomic_write_text, output_dir, safe_cell

__all__ = ["run_chunked"]

_CAMPAIGN = ("seats", "channels", "numbers", "days")


def _campaign(args: argparse.Namespace) -> Any:
    """The campaign stated in full, or None (estimated from the calls as they pass)."""
    import dataclasses
    from decimal import Decimal

    from sim.billing import CampaignInfo

    given = {k: getattr(args, k) for k in _CAMPAIGN if getattr(args, k) is not None}
    if not given:
        if args.labour is not None:
            raise SimError("--chunked --labour needs --seats, --channels, --numbers and "
                           "--days too (or none of the four: all estimated)")
        return None
    if set(given) != set(_CAMPAIGN):
        missing = ", ".join(f"--{k}" for k in _CAMPAIGN if k not in given)
        raise SimError(f"--chunked: give all of --seats, --channels, --numbers, --days or "
                       f"none (estimated from the calls); missing {missing}")
    base = CampaignInfo(seats=given["seats"], channels=given["channels"],
                        numbers=given["numbers"], days=Decimal(str(given["days"])))
    if args.labour is not None:
        base = dataclasses.replace(base, labour=Decimal(args.labour))
    return base


class _Charges:
    """charges.csv written block by block (the layout of :func:`write_costs`)."""

    def __init__(self, fh: Any, plans: Any) -> None:
        self.fh, self.plans = fh, plans
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(
            ["call_id", *(safe_cell(f"{p.name}:{k}") for p in plans
                          for k in ("billed_s", "charge"))])
        fh.write(head.getvalue().encode("utf-8"))

    def __call__(self, block: Any, rating: Any) -> None:
        from sim.billing.costs import _ascii, _csv_bytes, _split

        fields = [_ascii(block["call_id"])]
        for p in self.plans:
            pc = rating.per_call(p.name)
            fields += [_ascii(pc.billed_s), _ascii(*_split(pc.units, pc.den))]
        self.fh.write(_csv_bytes(fields))


def run_chunked(args: argparse.Namespace, plans: Any, mapping: dict[str, str] | None,
                saving_line: Any) -> int:
    """Rate ``args.cdrfile`` chunk by chunk under ``plans`` (``mapping`` from ``--map``,
    ``saving_line`` the comparison's last line, both from :mod:`.rate`)."""
    from sim.billing import format_comparison, rate_chunks
    from sim.billing.costs import _cell
    from sim.cdrio import iter_cdrs
    from sim.commands._common import write_json

    if args.report:
        raise SimError("--report needs the whole table: leave out --chunked")
    campaign = _campaign(args)
    account: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if args.format != "auto":
        options["format"] = args.format
    if mapping:
        options["mapping"] = mapping
    if args.where:
        options["where"] = args.where
    if args.strict:
        options["strict"] = True
    if args.tz:
        options["tz"] = args.tz
    chunks = iter_cdrs(args.cdrfile, direction=args.direction, account=account, **options)

    def rate_into(on_block: Any) -> Any:
        return rate_chunks(chunks, plans, campaign=campaign, on_block=on_block)

    if args.out is None:
        _comparison(args, rate_into(None), account, format_comparison, saving_line)
        return 0
    with output_dir(args.out, force=args.force) as folder:
        with atomic_write(folder / "charges.csv", "wb") as fh:
            rating = rate_into(_Charges(fh, plans))
        rows = rating.rows()
        with atomic_write(folder / "costs.csv") as fh:
            w = csv.writer(fh, lineterminator="\n")
            if rows:
                w.writerow([safe_cell(k) for k in rows[0]])
                w.writerows([_cell(v) for v in r.values()] for r in rows)
        table = _comparison(args, rating, account, format_comparison, saving_line)
        atomic_write_text(folder / "comparison.txt", table + "\n")
        write_json(folder / "import.json", {
            "path": str(args.cdrfile), "chunked": True, "blocks": rating.blocks,
            **{k: v for k, v in account.items() if k not in ("rejections", "notes")},
            "notes": list(account.get("notes", ())),
            "rejections": [{"line": r.line, "reason": r.reason}
                           for r in account.get("rejections", [])]})
    print(f"\nwrote {args.out}/costs.csv, charges.csv, comparison.txt, import.json")
    return 0


def _comparison(args: argparse.Namespace, rating: Any, account: dict[str, Any],
                format_comparison: Any, saving_line: Any) -> str:
    excluded = sum(account.get("excluded", {}).values())
    print(f"{args.cdrfile}: rated chunk by chunk ({rating.blocks:,} blocks): "
          f"{account.get('rows_read', 0):,} rows read = {account.get('accepted', 0):,} "
          f"accepted + {account.get('rejected', 0):,} rejected + {excluded:,} excluded")
    for reason, n in account.get("excluded", {}).items():
        print(f"  excluded {n:,} rows: {reason}")
    rejections = account.get("rejections", [])
    for rej in rejections[:10]:
        print(f"  rejected line {rej.line}: {rej.reason}")
    if len(rejections) > 10:
        print(f"  ... and {len(rejections) - 10:,} more rejected rows")
    if not account.get("accepted", 0) and not excluded:  # a header alone, all rejected
        from ._common import no_rows_accepted

        counts = (f"{account.get('rows_read', 0):,} rows read = 0 accepted + "
                  f"{account.get('rejected', 0):,} rejected + 0 excluded")
        raise no_rows_accepted(args.cdrfile, counts, rejections)
    table = format_comparison(rating)
    saving = saving_line(rating, args.current)
    if saving:
        table += "\n" + saving
    print()
    print(table)
    return table
