"""The building blocks of dialsim's HTML report pages (``dialsim report`` on a run,
compare or rate folder): escaping, tables, notes, numbers and estimates for the page,
the figures embedded as base64 PNGs, and the page itself (sim/report_template.html)
with its PNGs written beside it.

Every value put into a page goes through :func:`_e` (:func:`html.escape`); numbers and
money are written by :mod:`sim.fmt`. The names keep their leading underscore: they are
shared by the report modules (sim.report*), not part of dialsim's API.
"""

from __future__ import annotations

import base64
import html
import io
import math
import string
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from . import __version__
from .errors import OutputExistsError, SimError
from .fmt import ci, number
from .output import atomic_write, atomic_write_text

REPORT_NAME = "report.html"
_DPI = 90


class _CI(NamedTuple):
    """A mean and its interval read back from JSON (what the plots need of an Estimate;
    sim.analysis.stats is not imported here: scipy.stats takes seconds to load)."""

    mean: float
    low: float
    high: float
    n: int


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 1,
           best: Callable[[int], bool] | None = None, raw: bool = False,
           wrap: Sequence[int] = ()) -> str:
    """An HTML table; the first ``left`` columns left-aligned, columns ``wrap`` wrapped;
    cells escaped unless ``raw``; header cells (variant and plan names) always escaped."""
    def cell(tag: str, i: int, v: Any, raw: bool = raw) -> str:
        cls = ' class="w"' if tag == "td" and i in wrap else ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{v if raw else _e(v)}</{tag}>"

    out = ["<div class=\"scroll\"><table>",
           "<tr>" + "".join(cell("th", i, h, False) for i, h in enumerate(header)) + "</tr>"]
    for j, r in enumerate(rows):
        cls = ' class="best"' if best is not None and best(j) else ""
        out.append(f"<tr{cls}>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _num(x: Any, fmt: str | None = None) -> str:
    """A number for the page: ``fmt`` if given, else 4 significant digits, fixed-point."""
    if x is None:
        return "–"
    if isinstance(x, Decimal):
        return f"{x:,}"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return "n/a"
    return fmt.format(f) if fmt is not None else number(f, 4)


def _est(mean: float | None, low: float | None, high: float | None,
         fmt: str | None = None, *, currency: str | None = None, money_: bool = False,
         sign: bool = False) -> str:
    """``mean ± half``: half-widths to 2 significant digits (:func:`sim.fmt.ci`)."""
    if mean is None or not math.isfinite(mean):
        return "n/a"
    half = None
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
        half = (high - low) / 2
    if fmt is not None and "%" in fmt:
        if half is None:
            return fmt.format(mean)
        text = ci(100 * mean, 100 * half, is_money=False, places=max(1, _places(fmt)),
                  sign=sign)
        return text.replace(" ± ", "% ± ") + "%"
    if fmt is not None and half is None:
        return fmt.format(mean)
    return ci(mean, half, currency, is_money=money_, sign=sign)


def _places(fmt: str) -> int:
    """Places after the point of a format like ``{:.2%}``."""
    head, dot, rest = fmt.partition(".")
    digits = "".join(c for c in rest if c.isdigit())
    return int(digits) if dot and digits else 0


class _Figures:
    """Renders Axes to PNG once: embedded in the page and kept for files beside it."""

    def __init__(self) -> None:
        self.png: dict[str, bytes] = {}

    def add(self, name: str, ax: Any, caption: str) -> str:
        buf = io.BytesIO()
        ax.figure.savefig(buf, format="png", dpi=_DPI)
        data = buf.getvalue()
        self.png[name] = data
        b64 = base64.b64encode(data).decode("ascii")
        return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{b64}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>")


def _f(x: Any) -> float:
    return math.nan if x is None else float(x)


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").lower() or "plan"


# -- the page -------------------------------------------------------------------------


def _render_page(headings: Mapping[str, str], body: Mapping[str, str], *, title: str,
                 subtitle: str, footer: str) -> str:
    """The page: one ``<section>`` per entry of ``headings`` (id -> heading, in page
    order) with its HTML from ``body``, and a link to each in the navigation bar.
    ``title`` and ``subtitle`` are text (escaped here); ``footer`` is HTML."""
    sections = "\n".join(f'<section id="{sid}">\n<h2>{_e(h)}</h2>\n{body[sid]}\n'
                         "</section>" for sid, h in headings.items())
    template = resources.files("sim").joinpath("report_template.html").read_text("utf-8")
    return string.Template(template).substitute(
        version=_e(__version__), title=_e(title), subtitle=_e(subtitle), footer=footer,
        body=sections, nav="".join(f'<a href="#{sid}">{_e(h)}</a>'
                                   for sid, h in headings.items()))


def _check_current(current: str | None, plans: list[str], where: Path) -> None:
    """Raise :class:`~sim.errors.SimError` unless ``current`` (the plan paid today, for
    ``--current``) is None or one of ``plans`` (the folder ``where``'s plans)."""
    if current is not None and current not in plans:
        from .validate import no_such_plan

        raise SimError(no_such_plan("--current", current, plans, where))


def _refuse_existing(target: Path, force: bool) -> None:
    """Raise :class:`~sim.errors.OutputExistsError` if a report is at ``target`` and
    ``force`` is false."""
    if target.exists() and not force:
        raise OutputExistsError(f"{target}: a report already exists; use --force to "
                                "overwrite it")


def _write_page(target: Path, page: str, pngs: Mapping[str, bytes]) -> Path:
    """Write ``page`` to ``target`` and each PNG beside it as ``report-<name>.png``
    (atomically, the page last); return ``target``."""
    for name, data in pngs.items():
        with atomic_write(target.parent / f"report-{name}.png", "wb") as fh:
            fh.write(data)
    atomic_write_text(target, page)
    return target
