"""Billing plans: a provider's whole offer, as written in a plan file.

A plan is what an outbound-calling business signs with a carrier or a cloud call
platform: a call tariff (per-second, "every started minute", 6/6, 30/6, segmented
rates), per-call terms (connection fee, per-attempt fee, free short calls, minimum and
maximum charge, both legs of a callback), time-of-day bands, per-destination prices,
and plan-level terms (seat, channel and number rent, minute bundles).

The call tariff follows the CGRateS rate-group model: a list of steps
``{from_s, price, unit_s, increment_s}``. From ``from_s`` seconds of talk on, the
price is ``price`` per ``unit_s`` seconds, billed in whole ``increment_s`` blocks.
Increments are laid end to end from the answer; each one is charged at the step in
force where it starts (see :mod:`sim.billing.tariff`). The shorthand
``price_per_min`` + ``increments = "X/Y"`` is a first block of X seconds, then
Y-second blocks counted from the end of the first one.

Keys of a ``[[plan]]`` table (amounts in ``currency``; ``*`` = required)::

    name*, currency*, description
    price_per_min + increments = "X/Y"      | [[plan.steps]] from_s, price, unit_s, increment_s
    connect_fee, per_attempt_fee, no_charge_under_s, included_s, min_cost, max_cost, legs
    rounding = {decimals = 4, method = "half_up" | "up" | "down", per = "call" | "invoice"}
    [[plan.bands]] name, days = ["mon", ...], start = "18:00", end = "08:00" (optional:
        until the next band's start), factor, and optionally the band's own connect_fee,
        price_per_min + increments | [[plan.bands.steps]]
    [[plan.destinations]] prefix | number_type, price_per_min [+ increments] | steps
    seat_per_month, number_per_month, channel_per_month = amount | [{from_channels, price}]
    bundle = {minutes, price, overage_per_min}   (time prices must then be 0 or absent)
    [[plan.traffic_terms]] portfolio surcharges (see :mod:`sim.billing.terms`)
    min_monthly, tiers, tier_mode, tax_rate, tax_on, period_start, bundle.expires /
        rollover: billing-period terms (see :mod:`sim.billing.contract`)

Amounts are :class:`~decimal.Decimal` read exactly from decimal strings or TOML
numbers. :func:`load_plans` reports every problem of a file at once, in the form
``plans.toml: plan[2].steps[0].increment_s: must be an integer >= 1 (got 0)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sim.errors import PlanError
from sim.validate import MISSING, Problems, Section, read_toml

from .contract import Contract, parse_contract
from .terms import TrafficTerm, parse_traffic_terms
from .week import DAY_S, WEEK_S, band_segments

__all__ = [
    "DAYS",
    "Band",
    "Bundle",
    "ChannelTier",
    "Destination",
    "Plan",
    "Rounding",
    "Step",
    "band_segments",
    "load_plans",
    "plans_from_dict",
    "shorthand_steps",
]

#: Weekday names of band ``days``, Monday first (datetime.weekday order).
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

RoundingMethod = Literal["up", "half_up", "down"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One rate group: from ``from_s`` s of talk on, ``price`` per ``unit_s`` s, billed in
    whole ``increment_s`` s blocks."""

    from_s: int
    price: Decimal
    unit_s: int
    increment_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """A weekly time band: a price factor, and optionally its own tariff.

    ``start_s``/``end_s`` are seconds after local midnight of each day in ``days``
    (0 = Monday); ``end_s <= start_s`` runs past midnight into the next day; ``end_s``
    None: in force until the next band's start (the latest start wins).
    ``connect_fee`` and ``steps`` (a whole tariff), when set, replace the plan's own
    while the band is in force; ``factor`` multiplies the band's prices.
    """

    name: str
    days: tuple[int, ...]
    start_s: int
    end_s: int | None
    factor: Decimal
    connect_fee: Decimal | None = None
    steps: tuple[Step, ...] | None = None
    increments: str | None = None
    price_per_min: Decimal | None = None

    @property
    def has_tariff(self) -> bool:
        """Whether the band carries its own connect fee or tariff."""
        return self.connect_fee is not None or self.steps is not None

    def week_intervals(self) -> list[tuple[int, int]]:
        """Covered ``[lo, hi)`` intervals in seconds from Monday 00:00, wrapped to the
        week (bands with an ``end`` only; see :func:`band_segments` for the others)."""
        if self.end_s is None:
            raise ValueError(f"band {self.name!r} has no end: use band_segments()")
        span = (self.end_s - self.start_s) % DAY_S or DAY_S
        out: list[tuple[int, int]] = []
        for day in self.days:
            lo = day * DAY_S + self.start_s
            hi = lo + span
            if hi <= WEEK_S:
                out.append((lo, hi))
            else:  # Sunday night into Monday morning
                out += [(lo, WEEK_S), (0, hi - WEEK_S)]
        return sorted(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Destination:
    """Prices for calls to one prefix or one number type.

    Either ``steps`` (a whole tariff) or ``price_per_min`` (the plan's step structure
    with one flat price per minute) is set.
    """

    prefix: str | None
    number_type: str | None
    steps: tuple[Step, ...] | None
    price_per_min: Decimal | None

    @property
    def key(self) -> str:
        return f"prefix {self.prefix}" if self.prefix is not None else f"type {self.number_type}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rounding:
    """Final rounding: to ``decimals`` places by ``method``, once per call or per invoice."""

    decimals: int = 4
    method: RoundingMethod = "half_up"
    per: Literal["call", "invoice"] = "call"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTier:
    """All-units tier: with ``from_channels`` or more channels, every channel costs
    ``price_per_month``."""

    from_channels: int
    price_per_month: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """A monthly package: ``price`` buys ``minutes`` billed minutes; beyond them,
    ``overage_per_min``. Unused minutes expire at the end of the billing period
    (``expires = "period"``; with ``rollover`` they are usable one more period) or never."""

    minutes: int
    price: Decimal
    overage_per_min: Decimal
    expires: Literal["period", "never"] = "period"
    rollover: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A provider's billing offer.

    Parameters
    ----------
    name, currency
        Unique plan name; 3-letter currency code of every amount.
    steps
        The call tariff (rate groups), sorted by ``from_s``, the first at 0 s.
    increments, price_per_min
        The shorthand as written (``"60/60"``, CNY per minute), or None for ``steps``.
    connect_fee
        Once per answered call with talk > 0 s (currency).
    per_attempt_fee
        Every dial attempt, answered or not (currency).
    no_charge_under_s
        Calls of at most this many talk seconds are free, connect fee included.
    included_s
        Free seconds taken off every call before the tariff applies.
    min_cost, max_cost
        Floor and cap of each leg's charge (currency); ``max_cost`` None = no cap.
    legs
        Legs billed per call (2 for callback / click-to-call).
    rounding
        Final rounding of each call's (or the invoice's) charge.
    bands
        Time-of-day / weekday price factors, by the answer's local wall clock.
    destinations
        Per prefix / number-type tariffs; the longest matching prefix wins, then the
        number type, then the plan's own tariff.
    seat_per_month, channel_tiers, number_per_month
        Rent per agent seat, per concurrent channel (all-units tiers), per number.
    bundle
        Minute package consumed before money, or None.
    contract
        Billing-period terms: minimum spend, volume tiers, tax, the period's anchor
        day (:mod:`sim.billing.contract`).
    traffic_terms
        Portfolio terms on the traffic's shape (short-call share, ASR, ...), each a
        fee, an uplift or a suspension per window (:mod:`sim.billing.terms`).
    """

    name: str
    currency: str
    steps: tuple[Step, ...]
    increments: str | None = None
    price_per_min: Decimal | None = None
    description: str = ""
    connect_fee: Decimal = Decimal(0)
    per_attempt_fee: Decimal = Decimal(0)
    no_charge_under_s: int = 0
    included_s: int = 0
    min_cost: Decimal = Decimal(0)
    max_cost: Decimal | None = None
    legs: int = 1
    rounding: Rounding = Rounding()
    bands: tuple[Band, ...] = ()
    destinations: tuple[Destination, ...] = ()
    seat_per_month: Decimal = Decimal(0)
    channel_tiers: tuple[ChannelTier, ...] = ()
    number_per_month: Decimal = Decimal(0)
    bundle: Bundle | None = None
    traffic_terms: tuple[TrafficTerm, ...] = ()
    contract: Contract = Contract()

    @property
    def tariff_text(self) -> str:
        """The plan's terms in one line, e.g. ``0.10/min 1/1 + 0.05 connect`` or
        ``0.20 per connected call > 3 s`` (see :mod:`sim.billing.describe`)."""
        from .describe import describe_tariff

        return describe_tariff(self)

    @property
    def bills_time(self) -> bool:
        """True when the charge depends on talk time (a minute price, a bundle, or
        per-destination minute prices); False for flat fees per call or per dial."""
        from .describe import bills_time

        return bills_time(self)

    def charge(self, talk_s: float, *, answered: bool = True,
               answer: float | datetime | None = None, epoch: str = "1970-01-01T00:00:00",
               destination: str | None = None, number_type: str | None = None) -> Decimal:
        """The charge of one call (currency), exactly as :func:`sim.billing.rate` gives it.

        Parameters
        ----------
        talk_s
            Talk time, s; billed from ``ceil(talk_s)`` as a carrier does.
        answered
            False: only the per-attempt fee is due.
        answer
            Answer time (s from ``epoch``, or a naive local datetime); needed by banded plans.
        epoch
            Naive local ISO datetime that ``answer`` seconds count from.
        destination, number_type
            Dialled number and its type, for per-destination prices.

        Returns
        -------
        Decimal
            Rounded per the plan (for per-invoice rounding: the exact value, unrounded).
        """
        from .tariff import charge_one  # the kernel imports this module
        return charge_one(self, talk_s, answered=answered, answer=answer, epoch=epoch,
                          destination=destination, number_type=number_type)


# -- loading -------------------------------------------------------------------------


def shorthand_steps(price_per_min: Decimal, x_s: int, y_s: int) -> tuple[Step, ...]:
    """The steps of ``increments = "X/Y"`` at ``price_per_min``: X first, then Y blocks."""
    first = Step(from_s=0, price=price_per_min, unit_s=60, increment_s=x_s)
    if x_s == y_s:
        return (first,)
    return (first, Step(from_s=x_s, price=price_per_min, unit_s=60, increment_s=y_s))


# Sane ranges of plan numbers (README "Input limits"). Amounts (prices, fees, caps) are
# bounded by sim.validate: 0 to 10^12 with at most 18 decimal places. Integers beyond
# these would only ever come from a typo, and 2^63 wraps the rater's int64 arithmetic.
MAX_INCREMENT_S = 86_400  # increment_s, unit_s, no_charge_under_s: at most a day
MAX_CALL_S = 10**9  # from_s, included_s: about 32 years of talk
MAX_COUNT = 10**9  # bundle minutes, channel tier thresholds

_INCREMENTS = re.compile(r"\s*([0-9]{1,6})\s*/\s*([0-9]{1,6})\s*")  # ASCII digits
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_PREFIX = re.compile(r"\+?[0-9]{1,15}")


def _parse_increments(text: str) -> tuple[int, int] | None:
    m = _INCREMENTS.fullmatch(text)
    if not m or not all(1 <= int(g) <= MAX_INCREMENT_S for g in (m[1], m[2])):
        return None
    return int(m[1]), int(m[2])


def _increments_check(text: str) -> str | None:
    return None if _parse_increments(text) else '"X/Y" with whole seconds X, Y >= 1, like "6/6"'


def _clock_s(text: str) -> int | None:
    m = _CLOCK.fullmatch(text.strip())
    if not m:
        return None
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    if mi > 59 or s > 59 or h * 3600 + mi * 60 + s > DAY_S:
        return None
    return h * 3600 + mi * 60 + s


def _clock_check(text: str) -> str | None:
    return None if _clock_s(text) is not None else 'a time "HH:MM" between "00:00" and "24:00"'


def _steps(sec: Section, name: str, *, bundle: bool) -> tuple[Step, ...]:
    items = sec.items(name)
    if not items:
        sec.problems.must(sec.path(name), "at least one step", [])
        return ()
    steps: list[Step] = []
    for i, st in enumerate(items):
        from_s = st.integer("from_s", MISSING if i else 0, lo=0, cap=MAX_CALL_S)
        price = st.decimal("price")
        unit_s = st.integer("unit_s", 60, lo=1, cap=MAX_INCREMENT_S)
        inc_s = st.integer("increment_s", MISSING, lo=1, cap=MAX_INCREMENT_S)
        st.finish()
        if i == 0 and from_s not in (0, MISSING):
            st.problems.must(st.path("from_s"), "0 for the first step", from_s)
        if steps and from_s is not MISSING and from_s <= steps[-1].from_s:
            st.problems.must(st.path("from_s"), f"greater than the previous step's "
                             f"{steps[-1].from_s}", from_s)
        if bundle and price not in (MISSING, Decimal(0)):
            st.problems.must(st.path("price"), "0 in a bundle plan (minutes are paid by the "
                             "bundle, overage by bundle.overage_per_min)", str(price))
        if MISSING not in (from_s, price, unit_s, inc_s):
            steps.append(Step(from_s=from_s, price=price, unit_s=unit_s, increment_s=inc_s))
    return tuple(steps)


def _tariff(sec: Section, *, bundle: bool) -> tuple[tuple[Step, ...], str | None,
                                                   Decimal | None]:
    """Steps, increments text and price per minute of a plan or destination section."""
    if sec.has("steps"):
        for key in ("price_per_min", "increments"):
            if sec.has(key):
                sec.raw_get(key)
                sec.problems.add(sec.path(key), "cannot be combined with steps "
                                 "(give either steps or price_per_min + increments)")
        return _steps(sec, "steps", bundle=bundle), None, None
    default_price = Decimal(0) if bundle else MISSING
    price = sec.decimal("price_per_min", default_price)
    if bundle and price not in (MISSING, Decimal(0)):
        sec.problems.must(sec.path("price_per_min"), "0 or absent in a bundle plan "
                          "(overage is priced by bundle.overage_per_min)", str(price))
    text = sec.string("increments", check=_increments_check)
    xy = _parse_increments(text) if isinstance(text, str) else None
    if price is MISSING or xy is None:
        return (), None, None
    return shorthand_steps(price, *xy), text.strip(), price


def _rounding(sec: Section) -> Rounding:
    r = sec.sub("rounding")
    out = Rounding(decimals=r.integer("decimals", 4, lo=0, hi=12),
                   method=r.string("method", "half_up", choices=("up", "half_up", "down")),
                   per=r.string("per", "call", choices=("call", "invoice")))
    r.finish()
    return out


def _bands(sec: Section, *, bundle: bool) -> tuple[Band, ...]:
    bands: list[Band] = []
    covered: list[tuple[int, int, str]] = []
    starts: dict[int, str] = {}
    for i, b in enumerate(sec.items("bands")):
        name = b.string("name", f"band {i}")
        days_raw = b.raw_get("days", list(DAYS))
        days: list[int] = []
        if not isinstance(days_raw, list) or not days_raw or not all(
                isinstance(d, str) and d.lower()[:3] in DAYS for d in days_raw):
            b.problems.must(b.path("days"), "a non-empty list of weekdays like "
                            '["mon", "tue"]', days_raw)
        else:
            days = sorted({DAYS.index(d.lower()[:3]) for d in days_raw})
        start = b.string("start", "00:00", check=_clock_check)
        end = b.string("end", None, check=_clock_check)
        connect = b.decimal("connect_fee", None)
        own = b.has("steps") or b.has("price_per_min") or b.has("increments")
        steps, increments, ppm = _tariff(b, bundle=bundle) if own else (None, None, None)
        factor = b.decimal("factor", Decimal(1) if own or connect is not None else MISSING)
        b.finish(("steps", "price_per_min", "increments"))
        start_s = _clock_s(start or "")
        end_s = None if end is None else _clock_s(end)
        if start_s is None or (end is not None and end_s is None) or factor is MISSING \
                or not days or (own and not steps):
            continue
        if end_s is not None and start_s % DAY_S == end_s % DAY_S and start_s != 0:
            b.problems.add(b.path("end"), f"must differ from start (got {end!r})")
            continue
        band = Band(name=name, days=tuple(days), start_s=start_s % DAY_S, end_s=end_s,
                    factor=factor, connect_fee=connect, steps=steps or None,
                    increments=increments, price_per_min=ppm)
        for day in days:
            at = day * DAY_S + band.start_s
            if at in starts:
                b.problems.add(b.key, f"starts on {DAYS[day]} at {start} like {starts[at]}")
            starts.setdefault(at, b.key)
        if end_s is None:
            bands.append(band)
            continue
        for lo, hi in band.week_intervals():
            for olo, ohi, other in covered:
                if lo < ohi and olo < hi:
                    day, at = divmod(max(lo, olo), DAY_S)
                    b.problems.add(b.key, f"overlaps {other} on {DAYS[day]} at "
                                   f"{at // 3600:02d}:{at % 3600 // 60:02d}")
                    break
        covered += [(lo, hi, b.key) for lo, hi in band.week_intervals()]
        bands.append(band)
    return tuple(bands)


def _destinations(sec: Section, *, bundle: bool) -> tuple[Destination, ...]:
    out: list[Destination] = []
    seen: dict[str, str] = {}
    for d in sec.items("destinations"):
        prefix = d.string("prefix", None, check=lambda p: None if _PREFIX.fullmatch(p)
                          else 'digits, like "86138"')
        ntype = d.string("number_type", None, check=lambda t: None if t.strip()
                         else "a non-empty label like \"mobile\"")
        if (prefix is None) == (ntype is None):
            d.problems.add(d.key, "must give exactly one of prefix or number_type")
        steps: tuple[Step, ...] | None = None
        ppm: Decimal | None = None
        if d.has("steps") or d.has("increments"):
            st, _, _ = _tariff(d, bundle=bundle)
            steps = st or None
        else:
            ppm = d.decimal("price_per_min")
            ppm = None if ppm is MISSING else ppm
        d.finish()
        key = f"prefix {prefix.lstrip('+')}" if prefix else f"type {ntype}"
        if key in seen:
            d.problems.add(d.key, f"repeats {key} of {seen[key]}")
        seen[key] = d.key
        if (steps is not None or ppm is not None) and (prefix is None) != (ntype is None):
            out.append(Destination(prefix=prefix.lstrip("+") if prefix else None,
                                   number_type=ntype, steps=steps, price_per_min=ppm))
    return tuple(out)


def _channel_tiers(sec: Section) -> tuple[ChannelTier, ...]:
    raw = sec.raw_get("channel_per_month", "0")
    key = sec.path("channel_per_month")
    if not isinstance(raw, list):
        price = sec.check_decimal(key, raw, MISSING)
        return () if price is MISSING or price == 0 else (
            ChannelTier(from_channels=1, price_per_month=price),)
    tiers: list[ChannelTier] = []
    for i, r in enumerate(raw):
        t = Section(r, f"{key}[{i}]", sec.problems)
        n = t.integer("from_channels", lo=1, cap=MAX_COUNT)
        price = t.decimal("price")
        t.finish()
        if i == 0 and n not in (1, MISSING):
            t.problems.must(t.path("from_channels"), "1 for the first tier", n)
        if tiers and n is not MISSING and n <= tiers[-1].from_channels:
            t.problems.must(t.path("from_channels"), "greater than the previous tier's "
                            f"{tiers[-1].from_channels}", n)
        if MISSING not in (n, price):
            tiers.append(ChannelTier(from_channels=n, price_per_month=price))
    if not raw:
        sec.problems.must(key, "an amount or a non-empty list of tiers", raw)
    return tuple(tiers)


def _bundle(sec: Section) -> Bundle | None:
    if not sec.has("bundle"):
        return None
    b = sec.sub("bundle")
    minutes = b.integer("minutes", lo=1, cap=MAX_COUNT)
    price = b.decimal("price")
    over = b.decimal("overage_per_min")
    expires = b.string("expires", "period", choices=("period", "never"))
    rollover = b.boolean("rollover", False)
    b.finish()
    if MISSING in (minutes, price, over):
        return None
    return Bundle(minutes=minutes, price=price, overage_per_min=over, expires=expires,
                  rollover=rollover)


def _plan(p: Section) -> Plan | None:
    problems_before = len(p.problems.lines)
    name = p.string("name", check=lambda n: None if n.strip() else "a non-empty name")
    currency = p.string("currency", check=lambda c: None if _CURRENCY.fullmatch(c)
                        else 'a 3-letter currency code like "CNY"')
    description = p.string("description", "")
    bundle = _bundle(p)
    # volume tiers price the billed minutes, as a bundle does: no time price of its own
    steps, increments, ppm = _tariff(p, bundle=p.has("bundle") or p.has("tiers"))
    min_cost = p.decimal("min_cost", Decimal(0))
    max_cost = p.decimal("max_cost", None)
    if max_cost is not None and min_cost is not None and max_cost < min_cost:
        p.problems.must(p.path("max_cost"), f">= min_cost {min_cost}", str(max_cost))
    plan_kw: dict[str, Any] = dict(
        connect_fee=p.decimal("connect_fee", Decimal(0)),
        per_attempt_fee=p.decimal("per_attempt_fee", Decimal(0)),
        no_charge_under_s=p.integer("no_charge_under_s", 0, lo=0, cap=MAX_INCREMENT_S),
        included_s=p.integer("included_s", 0, lo=0, cap=MAX_CALL_S),
        legs=p.integer("legs", 1, lo=1, hi=10),
        rounding=_rounding(p),
        bands=_bands(p, bundle=p.has("bundle")),
        destinations=_destinations(p, bundle=p.has("bundle")),
        seat_per_month=p.decimal("seat_per_month", Decimal(0)),
        channel_tiers=_channel_tiers(p),
        number_per_month=p.decimal("number_per_month", Decimal(0)),
        traffic_terms=parse_traffic_terms(p),
        contract=parse_contract(p),
    )
    p.finish()
    if len(p.problems.lines) > problems_before or not steps:
        return None
    return Plan(name=name, currency=currency, description=description, steps=steps,
                increments=increments, price_per_min=ppm, min_cost=min_cost,
                max_cost=max_cost, bundle=bundle, **plan_kw)


def plans_from_dict(raw: Mapping[str, Any], *, source: str = "<dict>") -> tuple[Plan, ...]:
    """Validate a raw plan-file dict (``{"plan": [...]}``) into plans.

    Raises
    ------
    PlanError
        Listing every problem as ``source: plan[i].key: must be X (got Y)``.
    """
    problems = Problems(source, PlanError)
    top = Section(raw, "", problems)
    sections = top.items("plan")
    top.finish()
    if not sections and not problems:
        problems.add("plan", "must have at least one [[plan]] table (got none)")
    plans: list[Plan] = []
    names: dict[str, str] = {}
    for sec in sections:
        plan = _plan(sec)
        name = sec.raw.get("name")
        if isinstance(name, str):
            if name in names:
                problems.add(sec.path("name"), f"repeats the name {name!r} of {names[name]}")
            names.setdefault(name, sec.key)
        if plan is not None:
            plans.append(plan)
    problems.raise_if_any()
    return tuple(plans)


def load_plans(path: str | Path) -> tuple[Plan, ...]:
    """Read and validate a plan file (TOML, ``[[plan]]`` entries).

    Raises
    ------
    PlanError
        The file cannot be read or parsed, or any plan in it is malformed (all problems
        listed at once, each naming the file and the dotted key).
    """
    path = Path(path)
    return plans_from_dict(read_toml(path, PlanError), source=str(path))
