"""Reading both sides of an audit from files, and writing its results.

The CDRs come through :func:`sim.read_cdrs` (every format and mapping it knows). The
carrier's ``charge`` (and an optional ``currency``) column is not a CDR column: it is
read here from the same file and joined to the accepted rows by their line numbers
(rows read = accepted + rejected, so the accepted lines are the record lines less the
rejected ones; a table that keeps ``source_line`` gives them directly).

Outputs, in a folder: ``audit.json`` (the summary, money as decimal strings),
``disputes.csv`` (one row per carrier row whose charge differs from the contract's,
ready to send; cells that a spreadsheet would run as a formula are neutralised) and
``audit.html`` (the report page's style).
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .core import CAUSES, Audit
from .inputs import Side
from .reading import read_side

__all__ = ["DISPUTE_COLUMNS", "audit_html", "neutralise", "read_side", "summary_text",
           "write_audit", "write_disputes"]

DISPUTE_COLUMNS: tuple[str, ...] = (
    "their_line", "our_line", "destination", "start", "our_billsec", "their_billsec",
    "contract_charge", "their_charge", "difference", "cause")
_SAFE_SIGNED = re.compile(r"[+-][\d ]*")


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula: text starting with ``=``,
    ``@``, a tab or CR, or a sign followed by anything but digits, gets a leading
    apostrophe. Plain numbers such as ``+8613800000000`` or ``-0.12`` stay as they are."""
    if not cell:
        return cell
    if cell[0] in "=@\t\r" or (cell[0] in "+-" and not _SAFE_SIGNED.fullmatch(
            cell.replace(".", "", 1))):
        return "'" + cell
    return cell


def _money(units: np.ndarray, den: int) -> np.ndarray:
    """Decimal strings of ``units / den`` (object array)."""
    from sim.billing.tariff import units_to_decimal

    places = len(str(den)) - 1
    if 10**places != den:
        return np.array([str(units_to_decimal(int(u), den)) for u in units.tolist()],
                        dtype=object)
    u = np.asarray(units, dtype=np.int64)
    whole = (np.abs(u) // den).astype(str)
    sign = np.where(u < 0, "-", "")
    if places == 0:
        return np.char.add(sign, whole).astype(object)
    frac = np.char.zfill((np.abs(u) % den).astype(str), places)
    return np.char.add(np.char.add(np.char.add(sign, whole), "."), frac).astype(object)


def _cause_names(bits: np.ndarray) -> np.ndarray:
    names = np.full(len(bits), "", dtype=object)
    for j, name in enumerate(CAUSES):
        has = (bits >> j) & 1 == 1
        names[has] = np.where(names[has] == "", name, names[has] + "+" + name)
    return names


def _money_text(units: np.ndarray, den: int) -> np.ndarray:
    """Money as CSV text columns (NUL-padded ``uint8`` rows): ``-0.125``."""
    from sim import csvtext

    places = len(str(den)) - 1
    u = np.asarray(units, dtype=np.int64)
    if 10**places != den:  # a per-invoice plan's odd denominator: exact decimal strings
        return csvtext.labels(np.arange(len(u)), [str(x) for x in _money(u, den)])
    a = np.abs(u)
    sign = np.where(u < 0, ord("-"), 0).astype(np.uint8)[:, None]
    whole = csvtext.integers(a // den)
    if places == 0:
        return csvtext.glue([sign, whole])
    frac = np.empty((len(u), places + 1), dtype=np.uint8)
    frac[:, 0] = ord(".")
    rest = a % den
    for j in range(places):
        frac[:, 1 + j] = rest // 10 ** (places - 1 - j) % 10 + 48
    return csvtext.glue([sign, whole, frac])


def _blank(field: np.ndarray, empty: np.ndarray) -> np.ndarray:
    if empty.any():
        field = field.copy()
        field[empty] = 0
    return field


def _dest(t: Side) -> tuple[np.ndarray, tuple[str, ...]]:
    name = "number" if "number" in t.cdrs.columns else "destination"
    return t.cdrs[name], t.cdrs.vocabulary(name)


def write_disputes(result: Audit, path: str | Path) -> int:
    """Write ``disputes.csv`` (columns :data:`DISPUTE_COLUMNS`); returns its rows.

    Built a column at a time (:mod:`sim.csvtext`): a million disputes in seconds.
    """
    from sim import csvtext
    from sim.output import atomic_write

    rows = result.disputed()
    t, o, m = result.theirs, result.ours, result.matching
    our_of = np.full(len(t.cdrs), -1, dtype=np.int64)
    our_of[m.their_row] = m.our_row
    our_rows = our_of[rows]
    none = our_rows < 0
    safe = np.maximum(our_rows, 0)
    codes, vocab = _dest(t)
    start_s = t.cdrs["start"][rows] + float(np.datetime64(t.cdrs.epoch, "s").astype(np.int64))
    finite = np.isfinite(start_s)
    sec = np.floor(np.where(finite, start_s, 0)).astype(np.int64).astype("datetime64[s]")
    start = np.datetime_as_string(sec, unit="s").astype("S19").view(np.uint8)
    start = _blank(start.reshape(len(rows), 19), ~finite)
    empty = np.zeros((len(rows), 1), dtype=np.uint8)
    has_o = len(o.cdrs) > 0
    combos = [str(x) for x in _cause_names(np.arange(1 << len(CAUSES)))]
    fields = [
        csvtext.integers(t.line[rows]),
        _blank(csvtext.integers(o.line[safe]), none) if has_o else empty,
        csvtext.labels(codes[rows], [neutralise(v) for v in vocab]),
        start,
        _blank(csvtext.integers(o.cdrs["billsec"][safe]), none) if has_o else empty,
        csvtext.integers(t.cdrs["billsec"][rows]),
        _blank(_money_text(result.contract_units[rows], result.den), none),
        _money_text(result.their_units[rows], result.den),
        _money_text(result.their_units[rows] - result.contract_units[rows], result.den),
        csvtext.labels(result.row_cause[rows], combos),
    ]
    with atomic_write(path, "wb") as fh:
        fh.write((",".join(DISPUTE_COLUMNS) + "\n").encode())
        if len(rows):
            fh.write(csvtext.join_rows(fields))
    return len(rows)


def summary_text(result: Audit) -> str:
    """The stdout summary: categories, totals, causes, their tariff beside the contract's."""
    from sim.commands._common import format_table

    cur = result.plan.currency
    m = result.matching
    lines = [
        f"contract: {result.plan.name} ({result.plan.tariff_text}, {cur})",
        f"clock: theirs = ours {m.clock_text} (estimated from "
        f"{m.estimated_from:,} candidate pairs), tolerance {m.tolerance_s:g} s"
        + (f", country code {result.country} stripped" if result.country else ""),
        "",
        format_table([
            ["matched", f"{result.matched:,}"],
            ["only ours (not billed)", f"{result.only_ours:,} ({result.only_ours_answered:,} "
                                        "answered)"],
            ["only theirs (not ours)", f"{result.only_theirs:,}"],
            ["duplicates on their side", f"{result.duplicates:,}"]], ["calls", "count"]),
        "",
        f"their total     {result.their_total} {cur}",
        f"contract total  {result.contract_total} {cur} (our matched calls)",
        f"difference      {result.difference} {cur}",
        "",
        format_table([[c.cause + (f" (from {c.since}, their clock)" if c.since else ""),
                       f"{c.calls:,}",
                       str(c.amount)] for c in result.causes],
                     ["cause", "calls", f"amount {cur}"]),
        f"sum of causes = difference exactly ({result.method.split(':')[0]})",
        *[f"  {c.cause}: {c.detail}" for c in result.causes if c.detail and c.amount],
    ]
    inf = result.inferred
    if inf is not None:
        lines += ["", f"their tariff (inferred): {inf.text()}; reproduces "
                  f"{inf.rows_exact:,} of {inf.rows:,} rows exactly ({inf.share_exact:.1%})",
                  f"contract tariff:         {result.plan.tariff_text}, connect "
                  f"{result.plan.connect_fee}, min {result.plan.min_cost}"]
    else:
        lines += ["", "their file has no charge column: their rows priced by the contract"]
    lines += [f"disputed calls: {len(result.disputed()):,}"]
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ['<div class="scroll"><table>', "<tr>" + "".join(
        f'<th{" class=" + chr(34) + "l" + chr(34) if i == 0 else ""}>{_e(h)}</th>'
        for i, h in enumerate(header)) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f'<td{" class=" + chr(34) + "l" + chr(34) if i == 0 else ""}'
                                    f">{_e(v)}</td>" for i, v in enumerate(r)) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


#: Disputed calls shown in the HTML page (all of them are in disputes.csv).
HTML_DISPUTES = 50


def audit_section(data: Mapping[str, Any]) -> str:
    """The audit as an HTML section body, from :meth:`Audit.to_dict` (for a report)."""
    cur = data["currency"]
    parts = [
        _table(["calls", "count"], [["matched", f"{data['matched']:,}"],
                                    ["only ours (not billed)", f"{data['only_ours']:,}"],
                                    ["only theirs (not ours)", f"{data['only_theirs']:,}"],
                                    ["duplicates on their side", f"{data['duplicates']:,}"]]),
        _table(["total", cur], [["their total", data["their_total"]],
                                ["contract total (our matched calls)", data["contract_total"]],
                                ["difference", data["difference"]]]),
        "<h3>Causes of the difference</h3>",
        _table(["cause", "calls", f"amount {cur}", "detail"],
               [[c["cause"] + (f" (from {c['since']})" if c.get("since") else ""),
                 f"{c['calls']:,}", c["amount"], c.get("detail") or ""]
                for c in data["causes"]]),
        f'<p class="note">{_e(data["method"])}</p>',
    ]
    inf = data.get("inferred")
    if inf:
        parts += ["<h3>Their tariff beside the contract's</h3>", _table(
            ["", "increments", "price/min", "connect fee", "min charge", "rows exact"],
            [["inferred from their charges", inf["increments"] or "–", inf["price_per_min"]
              + "".join(f"; {c['price_per_min']} from {c['from']}" for c in inf["changes"]),
              inf["connect_fee"], inf["min_cost"], f"{inf['rows_exact']:.1%}"],
             ["contract", data["contract"]["increments"] or data["contract_tariff"],
              data["contract"]["price_per_min"] or "", data["contract"]["connect_fee"],
              data["contract"]["min_cost"], ""]])]
    return "\n".join(parts)


def audit_html(result: Audit) -> str:
    """A standalone page in the style of ``dialsim report``."""
    from sim import __version__

    data = result.to_dict()
    rows = result.disputed()[:HTML_DISPUTES]
    cur = data["currency"]
    dispute_rows = []
    our_of = np.full(len(result.theirs.cdrs), -1, dtype=np.int64)
    our_of[result.matching.their_row] = result.matching.our_row
    names = _cause_names(result.row_cause[rows])
    codes, vocab = _dest(result.theirs)
    for k, i in enumerate(rows.tolist()):
        j = int(our_of[i])
        diff = int(result.their_units[i]) - (int(result.contract_units[i]) if j >= 0 else 0)
        dispute_rows.append([int(result.theirs.line[i]),
                             int(result.ours.line[j]) if j >= 0 else "",
                             vocab[codes[i]],
                             int(result.theirs.cdrs["billsec"][i]),
                             int(result.ours.cdrs["billsec"][j]) if j >= 0 else "",
                             str(_money(np.array([diff]), result.den)[0]), names[k]])
    body = audit_section(data)
    if dispute_rows:
        body += (f"\n<h3>First {len(dispute_rows)} disputed calls (all "
                 f"{data['disputes']:,} in disputes.csv)</h3>\n" + _table(
                     ["their line", "our line", "destination", "their billsec",
                      "our billsec", f"difference {cur}", "cause"], dispute_rows))
    template = resources.files("sim").joinpath("report_template.html").read_text("utf-8")
    section = f'<section id="audit">\n<h2>Audit of the carrier\'s bill</h2>\n{body}\n</section>'
    return string.Template(template).substitute(
        version=_e(__version__), title=_e("dialsim audit"),
        subtitle=_e(f"{data['theirs']['source']} against {data['ours']['source']} under "
                    f"{data['contract_plan']}"),
        footer=f"dialsim {_e(__version__)} · audit", body=section,
        nav='<a href="#audit">Audit</a>')


def write_audit(result: Audit, folder: str | Path,
                extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write audit.json (with ``extra`` keys, e.g. the import reports), disputes.csv and
    audit.html into ``folder``; return the JSON's dict."""
    from sim.commands._common import write_json
    from sim.output import atomic_write_text

    folder = Path(folder)
    data = {**result.to_dict(), **(extra or {})}
    write_json(folder / "audit.json", data)
    write_disputes(result, folder / "disputes.csv")
    atomic_write_text(folder / "audit.html", audit_html(result))
    return data
