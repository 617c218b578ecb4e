"""Shared machinery of the input loaders (scenarios, plans, sweep grids).

Each loader walks a raw ``dict`` read from TOML and records every problem it finds in
one :class:`Problems` collector, each as ``file: dotted.key: must be X (got Y)``; at
the end the collector raises one error listing them all. Unknown keys get a
"did you mean" suggestion. Nothing here knows about dialer or billing concepts.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from .errors import SimError

__all__ = [
    "MISSING",
    "Problems",
    "Section",
    "describe",
    "DECIMAL_MAX",
    "DECIMAL_PLACES",
    "INT_LIMIT",
    "MAX_DEPTH",
    "check_depth",
    "did_you_mean",
    "no_such_plan",
    "loads_toml",
    "read_toml",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


#: Deepest nesting of tables and lists accepted in an input file (a scenario needs 5).
MAX_DEPTH = 32
#: Integers in input files must lie strictly between -2^63 and 2^63 (int64 arrays).
INT_LIMIT = 2**63
#: Largest decimal amount accepted (a price, fee, cap or cost), and finest step.
DECIMAL_MAX = Decimal("1e12")
DECIMAL_PLACES = 18  # an atto-unit: prices quoted to 18 places still rate exactly


def describe(value: Any) -> str:
    """Short description of a value for an error message: ``'abc'`` or ``-3``."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:60]) + f"... ({len(value)} chars)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        digits = len(str(abs(value))) if value.bit_length() < 14_000 else None
        size = f"{digits} digits" if digits else f"{value.bit_length()} bits"
        return f"an integer of {size}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list" if len(value) > 6 else repr(value)
    return repr(value)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``''``."""
    import difflib  # only when something is misspelt: not at start-up

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def no_such_plan(what: str, name: str, plans: Iterable[str], where: object = None) -> str:
    """The message for a plan name (``--current``, ``--sure-plan``, ``FILE:NAME``, ...)
    that is not among ``plans``: ``what 'name': no such plan in WHERE (did you mean
    'x'?); its plans: a, b``."""
    plans = list(plans)
    return (f"{what} {name!r}: no such plan" + (f" in {where}" if where is not None else "")
            + did_you_mean(name, plans) + f"; its plans: {', '.join(plans)}")


def read_toml(path: Path, error: type[SimError]) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into ``error`` naming the file and line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected a TOML file") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    return loads_toml(text, str(path), error)


def loads_toml(text: str, where: str, error: type[SimError]) -> dict[str, Any]:
    """Parse TOML ``text``; every failure becomes ``error`` naming ``where``.

    Besides syntax errors this catches what tomllib lets escape: nesting deeper than
    :data:`MAX_DEPTH` (tomllib recurses, so 1,000 levels end in RecursionError) and
    integers of more than 4,300 digits (Python refuses to convert them).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: invalid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{where}: tables or lists nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # int("1" * 5000): the integer string conversion limit
        raise error(f"{where}: an integer has more than 4300 digits "
                    f"(integers must be below 2^63)") from None
    check_depth(data, where, error)
    return data


def check_depth(value: Any, where: str, error: type[SimError], limit: int = MAX_DEPTH) -> None:
    """Raise ``error`` if tables/lists in ``value`` nest deeper than ``limit`` levels.

    Iterative, so it never recurses itself; it runs before anything (``copy.deepcopy``,
    the validators) that would recurse into a hostile nesting.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth >= limit:
            raise error(f"{where}: tables or lists nested deeper than {limit} levels")
        stack.extend((c, depth + 1) for c in children)


class Problems:
    """Collects problems as ``source: key: message`` lines and raises them together."""

    def __init__(self, source: str, error: type[SimError]) -> None:
        self.source = source
        self.error = error
        self.lines: list[str] = []

    def add(self, key: str, message: str) -> None:
        prefix = f"{self.source}: " if self.source else ""
        self.lines.append(f"{prefix}{key}: {message}" if key else f"{prefix}{message}")

    def must(self, key: str, what: str, got: Any) -> None:
        self.add(key, f"must be {what} (got {describe(got)})")

    def __bool__(self) -> bool:
        return bool(self.lines)

    def raise_if_any(self) -> None:
        if self.lines:
            self.fail()

    def fail(self) -> NoReturn:
        if not self.lines:  # a section came back empty without saying why: still say where
            self.add("", "is not valid (no detail recorded)")
        n = len(self.lines)
        head = f"{n} problem{'s' if n > 1 else ''} found:\n" if n > 1 else ""
        raise self.error(head + "\n".join(self.lines), self.lines)


class Section:
    """A view of one TOML table at a dotted key, with typed getters that record problems.

    Every getter returns a usable default when the value is bad, so validation goes on
    and reports every problem at once. Call :meth:`finish` to flag unknown keys.
    """

    def __init__(self, raw: Any, key: str, problems: Problems) -> None:
        self.key = key
        self.problems = problems
        if raw is MISSING or raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            problems.must(key, "a table", raw)
            raw = {}
        self.raw: Mapping[str, Any] = raw
        self.seen: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def has(self, name: str) -> bool:
        return name in self.raw

    def raw_get(self, name: str, default: Any = MISSING) -> Any:
        self.seen.add(name)
        return self.raw.get(name, default)

    def sub(self, name: str) -> Section:
        return Section(self.raw_get(name), self.path(name), self.problems)

    def items(self, name: str) -> list[Section]:
        """An array of tables ``[[name]]`` as sections keyed ``name[i]``."""
        raw = self.raw_get(name, [])
        if isinstance(raw, Mapping):
            raw = [raw]
        if not isinstance(raw, list):
            self.problems.must(self.path(name), "an array of tables", raw)
            return []
        return [Section(r, f"{self.path(name)}[{i}]", self.problems) for i, r in enumerate(raw)]

    def finish(self, extra_allowed: Iterable[str] = ()) -> None:
        allowed = set(self.seen) | set(extra_allowed)
        for name in self.raw:
            if name not in allowed:
                self.problems.add(self.path(name), "unknown key" + did_you_mean(name, allowed))

    # -- typed getters --------------------------------------------------------------
    def _get(self, name: str, default: Any) -> Any:
        value = self.raw_get(name)
        if value is MISSING:
            if default is MISSING:
                self.problems.add(self.path(name), "is required")
            return default
        return value

    def number(
        self,
        name: str,
        default: Any = MISSING,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
        integer: bool = False,
        allow_inf: bool = False,
        cap: float | None = None,
    ) -> Any:
        """A number (int or float) within bounds; ``integer`` demands a whole number.

        ``lo``/``hi`` are the key's domain (``p`` in [0, 1]); ``cap`` is its sane upper
        limit (README "Input limits"), reported on its own — "must be a number <= 600
        (a sane upper limit; got 1e12)" — so a new key states it in one word.
        """
        value = self._get(name, default)
        if value is default:
            return value
        return self.check_number(self.path(name), value, default, lo=lo, hi=hi, lo_open=lo_open,
                                 hi_open=hi_open, integer=integer, allow_inf=allow_inf, cap=cap)

    def check_number(self, key: str, value: Any, default: Any, *, lo: float | None = None,
                     hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
                     integer: bool = False, allow_inf: bool = False,
                     cap: float | None = None) -> Any:
        what = "an integer" if integer else "a number"
        if isinstance(value, str) and allow_inf and value.strip().lower() in ("inf", "infinity"):
            value = math.inf
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.must(key, what + _bounds(lo, hi, lo_open, hi_open), value)
            return default
        if isinstance(value, int) and not -INT_LIMIT < value < INT_LIMIT:
            note = "" if lo is not None and hi is not None else " (integers must be below 2^63)"
            if cap is not None and hi is None and value > 0:
                sep = " and" if lo is not None else ""
                note = f"{sep} <= {_num(cap)} (a sane upper limit)"
            self.problems.must(key, what + _bounds(lo, hi, lo_open, hi_open) + note, value)
            return default
        if integer and not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self.problems.must(key, "an integer" + _bounds(lo, hi, lo_open, hi_open), value)
                return default
        if isinstance(value, float) and (
                math.isnan(value) or (math.isinf(value) and not allow_inf)):
            self.problems.must(key, "a finite number", value)
            return default
        bad = (
            (lo is not None and (value <= lo if lo_open else value < lo))
            or (hi is not None and (value >= hi if hi_open else value > hi))
        )
        if bad:
            self.problems.must(key, what + _bounds(lo, hi, lo_open, hi_open), value)
            return default
        if cap is not None and value > cap and not (allow_inf and value == math.inf):
            self.problems.add(key, f"must be {what} <= {_num(cap)} (a sane upper limit; "
                                   f"got {describe(value)})")
            return default
        return value

    def integer(self, name: str, default: Any = MISSING, *, lo: int | None = None,
                hi: int | None = None, cap: int | None = None) -> Any:
        return self.number(name, default, lo=lo, hi=hi, integer=True, cap=cap)

    def probability(self, name: str, default: Any = MISSING) -> Any:
        return self.number(name, default, lo=0.0, hi=1.0)

    def boolean(self, name: str, default: Any = MISSING) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if not isinstance(value, bool):
            self.problems.must(self.path(name), "true or false", value)
            return default
        return value

    def string(self, name: str, default: Any = MISSING, *, choices: Iterable[str] | None = None,
               check: Callable[[str], str | None] | None = None) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if not isinstance(value, str):
            self.problems.must(self.path(name), "a string", value)
            return default
        if choices is not None:
            choices = list(choices)
            if value not in choices:
                self.problems.must(self.path(name), "one of " + ", ".join(map(repr, choices)),
                                   value)
                self.problems.lines[-1] += did_you_mean(value, choices)
                return default
        if check is not None:
            msg = check(value)
            if msg:
                self.problems.must(self.path(name), msg, value)
                return default
        return value

    def decimal(self, name: str, default: Any = MISSING, *, lo: Decimal | None = Decimal(0),
                hi: Decimal | None = DECIMAL_MAX) -> Any:
        """An exact amount: a decimal string (``"0.08"``) or a TOML number read exactly.

        Within [``lo``, ``hi``] (default 0 to 10^12) with at most
        :data:`DECIMAL_PLACES` decimal places, so exact sums and products of amounts
        stay within the rater's decimal context.
        """
        value = self._get(name, default)
        if value is default:
            return value
        return self.check_decimal(self.path(name), value, default, lo=lo, hi=hi)

    def check_decimal(self, key: str, value: Any, default: Any,
                      lo: Decimal | None = Decimal(0), hi: Decimal | None = DECIMAL_MAX) -> Any:
        what = "a decimal amount (a string like \"0.08\" or a number)"
        if lo is not None:
            what += f" >= {lo}"
        if hi is not None:
            what += f" and <= {hi:,f}" if lo is not None else f" <= {hi:,f}"
        if isinstance(value, bool):
            self.problems.must(key, what, value)
            return default
        try:
            if isinstance(value, float):
                # TOML floats are written in decimal; repr() recovers the written digits.
                d = Decimal(repr(value))
            elif isinstance(value, str) and not value.isascii():
                raise InvalidOperation  # Decimal reads "١٢" as 12: ASCII digits only
            elif isinstance(value, int | str):
                d = Decimal(str(value).strip())
            else:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            self.problems.must(key, what, value)
            return default
        if not d.is_finite() or (lo is not None and d < lo) or (hi is not None and d > hi):
            self.problems.must(key, what, value)
            return default
        step = Decimal(1).scaleb(-DECIMAL_PLACES)
        if d.as_tuple().exponent < -DECIMAL_PLACES and d != d.quantize(step):  # type: ignore[operator]
            self.problems.must(key, f"an amount with at most {DECIMAL_PLACES} decimal places",
                               value)
            return default
        return d


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _bounds(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {_num(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {_num(hi)}")
    return (" " + " and ".join(parts)) if parts else ""
