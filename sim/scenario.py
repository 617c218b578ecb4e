"""Scenario files: what campaign to simulate, written by a call-centre analyst in TOML.

One loader, one path: TOML → raw dict → overrides (``--set dotted.key=value`` or a
Python mapping) → validation → a frozen :class:`Scenario`. Validation walks every
section and reports *all* problems at once, each as ``file: dotted.key: must be X
(got Y)``, with "did you mean" for misspelt keys. The model only ever sees a
validated ``Scenario``; the raw dict (after overrides) is kept so results can record
exactly what ran and variants / sweeps can derive new scenarios from it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .distributions import Constant, Distribution, parse_distribution
from .errors import ScenarioError
from .validate import MAX_DEPTH, MISSING, Problems, Section, check_depth, did_you_mean, read_toml

__all__ = [
    "AMDSpec",
    "AgentSpec",
    "CampaignSpec",
    "ComplianceSpec",
    "CustomerSpec",
    "DialerSpec",
    "ListSpec",
    "MODES",
    "RetrySpec",
    "Scenario",
    "ScriptSpec",
    "SegmentSpec",
    "ShiftSpec",
    "StageSpec",
    "VariantSpec",
    "apply_overrides",
    "load_scenario",
    "parse_override",
    "quick",
    "scenario_from_dict",
]

#: Dialer pacing modes (see DESIGN §4).
MODES: tuple[str, ...] = ("preview", "progressive", "poisson", "adaptive", "predictive", "robot",
                          "ratio")
#: How billsec is made from talk time (``customers.billsec``).
BILLSEC: tuple[str, ...] = ("ceil", "floor", "round")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_S = 86_400
#: The calendar a campaign may fall in (dates far out overflow date arithmetic and
#: epoch timestamps in the CDRs).
FIRST_DATE = dt.date(1970, 1, 2)
LAST_DATE = dt.date(2999, 12, 31)

# Sane ranges of the numeric keys (README "Input limits"); the loader rejects values
# outside them with the usual located message. A new key takes its bound from here or
# states its own ``cap=`` beside its getter. Times drawn from distributions are bounded
# in sim.distributions (MAX_DRAW_S).
MAX_RING_S = 600.0  # dialer.ring_timeout_s: a line rings at most 10 minutes
MAX_WAIT_S = 3600.0  # abandon thresholds (or inf for "never abandon")
MAX_HOURS = 8760.0  # lockouts: a year
MAX_MULTIPLIER = 1000.0  # pick-up multipliers
MAX_AGENTS = 100_000
MAX_CHANNELS = 1_000_000
MAX_CPS = 10_000.0  # dialer.calls_per_second
MAX_RATE_PER_MIN = 100_000.0  # dialer.rate_per_min
MAX_LEVEL = 100.0  # dialer.max_level, |dialer.adapt_offset|
MAX_STAGES = 1000
MAX_NUMBERS = 1_000_000  # billing.numbers (caller ids)
MAX_HOURLY_COST = Decimal(1_000_000)  # agents.hourly_cost per agent-hour

_frozen = {"frozen": True, "slots": True, "kw_only": True}


@dataclass(**_frozen)
class CampaignSpec:
    """When calls may be made: calendar, time zone and daily calling windows.

    ``windows`` are (start_s, end_s) seconds after local midnight; dials start only
    inside them (a call may run past the window's end).
    """

    start: dt.date
    days: int
    timezone: str
    weekdays: frozenset[int]
    windows: tuple[tuple[int, int], ...]
    holidays: frozenset[dt.date] = frozenset()

    def calling_days(self) -> list[int]:
        """Day indexes (0 = start date) on which calls are made."""
        out = []
        for d in range(self.days):
            day = self.start + dt.timedelta(days=d)
            if day.weekday() in self.weekdays and day not in self.holidays:
                out.append(d)
        return out


@dataclass(**_frozen)
class SegmentSpec:
    """A slice of the call list sharing number type, prefix, local time and pickup."""

    name: str
    share: float
    number_type: str
    prefix: str
    tz_offset_s: int
    pickup_multiplier: float
    p_invalid: float


@dataclass(**_frozen)
class RetrySpec:
    """Delay before the next attempt, per outcome of the last one (None: no retry)."""

    busy: Distribution | None
    no_answer: Distribution | None
    failed: Distribution | None
    machine: Distribution | None
    abandoned: Distribution | None
    callback: Distribution | None


@dataclass(**_frozen)
class ListSpec:
    """The call list: how many leads, who they are, and how often they may be called."""

    size: int
    max_attempts: int
    max_per_24h: int
    max_per_5min: int
    lockout_after_abandon_s: float
    p_dnc: float
    segments: tuple[SegmentSpec, ...]
    retry: RetrySpec


@dataclass(**_frozen)
class CustomerSpec:
    """How called people (and their phones) behave on each attempt.

    Pick-up probability of an attempt = ``p_pickup`` × segment multiplier ×
    ``pickup_by_attempt[a]`` × ``pickup_by_hour[h]`` × the lead's latent
    ``reachability`` (clipped to 1); a pick-up after the dialer's ring timeout is a
    NO ANSWER. ``interest`` (mean 1) multiplies conversion and divides hang-up and
    decline probabilities of the script.
    """

    p_fail: float
    p_busy: float
    p_pickup: float
    p_machine: float
    pickup_by_attempt: tuple[float, ...]
    pickup_by_hour: tuple[float, ...]
    reachability: Distribution
    interest: Distribution
    ring: Distribution
    machine_ring: Distribution
    fail_time: Distribution
    busy_time: Distribution
    patience: Distribution
    machine_talk: Distribution
    #: How ``billsec`` is made from talk time: "ceil" (carriers), "floor" (PBX exports
    #: that truncate) or "round" (half up).
    billsec: str = "ceil"


@dataclass(**_frozen)
class ShiftSpec:
    start_s: int
    end_s: int
    count: int


@dataclass(**_frozen)
class AgentSpec:
    """Agents: how many, when they work (no shifts: they follow the calling windows)."""

    count: int
    shifts: tuple[ShiftSpec, ...]
    wrap: Distribution
    preview: Distribution
    hourly_cost: Decimal


@dataclass(**_frozen)
class AMDSpec:
    """Answering-machine detection: verdict after ``latency``; misses and false alarms."""

    enabled: bool
    latency: Distribution
    p_detect: float
    p_false_positive: float


@dataclass(**_frozen)
class DialerSpec:
    mode: str
    ratio: float
    ring_timeout_s: float
    abandon_threshold_s: float
    channels: int
    calls_per_second: float
    rate_per_min: float
    target_abandon: float
    max_level: float
    adapt_offset: float
    robot_transfer_stage: int
    amd: AMDSpec
    #: How long an unanswered line is let ring before the dialer (or agent) hangs up,
    #: capped by ``ring_timeout_s``; None: always the timeout.
    give_up: Distribution | None = None
    #: Predictive pacing aims at ``target_abandon × (1 − abandon_margin)``.
    abandon_margin: float = 0.2
    #: The plan (of ``billing.plans``) whose ``suspend = true`` traffic terms the dialer
    #: obeys (:mod:`sim.model.suspend`), and those terms; None / () when it obeys none.
    obey_terms: str | None = None
    suspend_terms: tuple[Any, ...] = ()


@dataclass(**_frozen)
class ComplianceSpec:
    """Which regulatory rules to check and their numbers (DESIGN §7)."""

    rules: tuple[str, ...]
    abandon_cap: float
    threshold_s: float
    calling_hours: tuple[int, int]
    max_per_24h: int
    max_per_5min: int
    lockout_h: float


@dataclass(**_frozen)
class StageSpec:
    name: str
    duration: Distribution
    p_hangup: float
    p_decline: float


@dataclass(**_frozen)
class ScriptSpec:
    """The call script: stages played in order, conversion at the close."""

    name: str
    stages: tuple[StageSpec, ...]
    p_convert: float
    p_callback: float
    decline_exit: Distribution
    #: Talk time of connected calls given directly (no stages): None when staged.
    talk: Distribution | None = None

    @property
    def mean_talk(self) -> float:
        """Mean conversation length (s): the talk law's, else the stage durations' sum."""
        if self.talk is not None:
            return self.talk.mean
        return sum(st.duration.mean for st in self.stages)


@dataclass(**_frozen)
class VariantSpec:
    name: str
    description: str
    overrides: Mapping[str, Any]


@dataclass(**_frozen)
class Scenario:
    """A validated scenario. Build with :func:`load_scenario` or :func:`scenario_from_dict`."""

    name: str
    description: str
    source: str
    currency: str
    campaign: CampaignSpec
    list: ListSpec
    customers: CustomerSpec
    agents: AgentSpec
    dialer: DialerSpec
    script: ScriptSpec
    plans: tuple[Path, ...]
    numbers: int
    variants: tuple[VariantSpec, ...]
    compliance: ComplianceSpec
    raw: Mapping[str, Any] = field(repr=False)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A new scenario: this one's raw dict with ``overrides`` applied, re-validated.

        Its ``[[variant]]`` entries were validated when this scenario was loaded; they are
        not validated again for every variant, quick copy or sweep point made from it.
        """
        return scenario_from_dict(self.raw, source=self.source, overrides=overrides,
                                  _validate_variants=False)

    def variant(self, name: str) -> Scenario:
        """The scenario of variant ``name`` (its overrides applied to this one)."""
        for v in self.variants:
            if v.name == name:
                return self.with_overrides(v.overrides)
        raise ScenarioError(f"{self.source}: variant: no variant named {name!r}"
                            + did_you_mean(name, [v.name for v in self.variants]))


# -- overrides ---------------------------------------------------------------------------

_INDEX = re.compile(r"\[(\d+)\]")


def _split_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in _INDEX.sub(r".\1", key).split("."):
        if piece == "":
            raise ValueError(f"empty part in key {key!r}")
        parts.append(int(piece) if piece.isascii() and piece.isdigit() else piece)
    return parts


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``dotted.key=value`` from the command line; the value is read as TOML.

    ``dialer.ratio=1.5`` gives a float, ``agents.wrap={dist="constant", value=20}`` a
    table, ``script.name=short`` (not valid TOML) the string ``"short"``.
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(f"--set {text!r}: must be dotted.key=value")
    value = value.strip()
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    except RecursionError:
        raise ScenarioError(f"--set {key}: value nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise ScenarioError(f"--set {key}: an integer has more than 4300 digits "
                            "(integers must be below 2^63)") from None
    check_depth(parsed, f"--set {key}", ScenarioError)
    return key, parsed


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any],
                    source: str = "") -> dict[str, Any]:
    """A deep copy of ``raw`` with each ``dotted.key: value`` set (``a.b[0].c`` indexes)."""
    check_depth(raw, source or "<dict>", ScenarioError)
    check_depth(dict(overrides), f"{source or '<dict>'}: overrides", ScenarioError)
    out = copy.deepcopy(dict(raw))
    problems = Problems(source, ScenarioError)
    for key, value in overrides.items():
        try:
            parts = _split_key(key)
        except ValueError as exc:
            problems.add(f"override {key!r}", str(exc))
            continue
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    where = ".".join(map(str, parts[:i])) or "(top)"
                    size = len(node) if isinstance(node, list) else 0
                    problems.add(f"override {key}", f"{where} has {size} entries, no index {part}")
                    break
                node = node[part]
            else:
                if not isinstance(node, dict):
                    problems.add(f"override {key}", f"{part!r} is not inside a table")
                    break
                if part not in node:
                    node[part] = [] if isinstance(nxt, int) else {}
                node = node[part]
        else:
            last = parts[-1]
            if isinstance(last, int):
                if isinstance(node, list) and last < len(node):
                    node[last] = copy.deepcopy(value)
                else:
                    problems.add(f"override {key}", f"no index {last} to set")
            elif isinstance(node, dict):
                node[last] = copy.deepcopy(value)
            else:
                problems.add(f"override {key}", f"{last!r} is not inside a table")
    problems.raise_if_any()
    return out


# -- parsing helpers ---------------------------------------------------------------------

def _clock(s: Section, key: str, value: Any, allow_24: bool = True) -> int | None:
    """'HH:MM' or 'HH:MM:SS' (or a TOML local time) → seconds after midnight."""
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        m = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?", value.strip())
        if m:
            h, mi, se = int(m[1]), int(m[2]), int(m[3] or 0)
            if (h < 24 or (allow_24 and h == 24 and mi == 0 and se == 0)) and mi < 60 and se < 60:
                return h * 3600 + mi * 60 + se
    s.problems.must(key, 'a clock time "HH:MM"', value)
    return None


def _intervals(s: Section, name: str, default: Any) -> tuple[tuple[int, int], ...] | None:
    raw = s.raw_get(name, default)
    key = s.path(name)
    if not isinstance(raw, list) or not raw:
        s.problems.must(key, 'a list of ["HH:MM", "HH:MM"] pairs', raw)
        return None
    out = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            s.problems.must(f"{key}[{i}]", 'a pair ["HH:MM", "HH:MM"]', pair)
            continue
        a, b = _clock(s, f"{key}[{i}][0]", pair[0]), _clock(s, f"{key}[{i}][1]", pair[1])
        if a is None or b is None:
            continue
        if b <= a:
            s.problems.must(f"{key}[{i}]", "a window whose end is after its start", pair)
            continue
        out.append((a, b))
    out.sort()
    for (_, b0), (a1, _) in zip(out, out[1:], strict=False):
        if a1 < b0:
            s.problems.add(key, "windows must not overlap")
            break
    return tuple(out)


def _dist(s: Section, name: str, default: Any, *, optional: bool = False) -> Any:
    raw = s.raw_get(name, MISSING)
    if raw is MISSING:
        if default is MISSING:
            s.problems.add(s.path(name), "is required")
            return None
        if default is None or isinstance(default, Distribution):
            return default
        raw = default
    if optional and (raw is False or raw == "none"):
        return None
    return parse_distribution(raw, s.path(name), s.problems)


def _multipliers(s: Section, name: str, n: int | None) -> tuple[float, ...] | None:
    raw = s.raw_get(name, MISSING)
    if raw is MISSING:
        return (1.0,) * (n or 1)
    key = s.path(name)
    if isinstance(raw, Mapping) and n == 24:
        out = [1.0] * 24
        for k, v in raw.items():
            if not (isinstance(k, str) and k.isascii() and k.isdigit() and int(k) < 24):
                s.problems.must(f"{key}.{k}", 'an hour "0".."23"', k)
                continue
            val = s.check_number(f"{key}.{k}", v, None, lo=0, cap=MAX_MULTIPLIER)
            if val is not None:
                out[int(k)] = float(val)
        return tuple(out)
    if not isinstance(raw, list) or not raw or (n is not None and len(raw) != n):
        what = f"a list of {n} multipliers" if n else "a non-empty list of multipliers"
        if n == 24:
            what += ' or a table {"9" = 1.2, ...}'
        s.problems.must(key, what, raw)
        return None
    vals = [s.check_number(f"{key}[{i}]", v, None, lo=0, cap=MAX_MULTIPLIER)
            for i, v in enumerate(raw)]
    return None if any(v is None for v in vals) else tuple(float(v) for v in vals)


# -- sections ----------------------------------------------------------------------------

def _campaign(s: Section) -> CampaignSpec | None:
    start_raw = s.raw_get("start", MISSING)
    start: dt.date | None = None
    if start_raw is MISSING:
        s.problems.add(s.path("start"), "is required (a date like 2026-03-02)")
    elif isinstance(start_raw, dt.datetime):
        start = start_raw.date()
    elif isinstance(start_raw, dt.date):
        start = start_raw
    else:
        try:
            start = dt.date.fromisoformat(str(start_raw))
        except ValueError:
            s.problems.must(s.path("start"), "a date like 2026-03-02", start_raw)
    days = s.integer("days", 1, lo=1, hi=3660)
    if start is not None and not FIRST_DATE <= start <= LAST_DATE - dt.timedelta(days=days):
        s.problems.must(s.path("start"), f"a date from {FIRST_DATE} to {LAST_DATE} "
                        f"minus campaign.days ({days})", str(start))
        start = None

    def _tz(name: str) -> str | None:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return 'an IANA time zone such as "Asia/Shanghai"'
        return None

    tz = s.string("timezone", "UTC", check=_tz)
    wd_raw = s.raw_get("weekdays", list(WEEKDAYS[:5]))
    weekdays: set[int] = set()
    if not isinstance(wd_raw, list) or not wd_raw:
        s.problems.must(s.path("weekdays"), 'a list like ["mon", "tue"]', wd_raw)
    else:
        for i, w in enumerate(wd_raw):
            w_norm = w.lower()[:3] if isinstance(w, str) else w
            if w_norm not in WEEKDAYS:
                s.problems.must(f"{s.path('weekdays')}[{i}]", "one of " + ", ".join(WEEKDAYS), w)
            else:
                weekdays.add(WEEKDAYS.index(w_norm))
    windows = _intervals(s, "windows", [["09:00", "12:00"], ["13:30", "20:00"]])
    hol_raw = s.raw_get("holidays", [])
    holidays: set[dt.date] = set()
    if not isinstance(hol_raw, list):
        s.problems.must(s.path("holidays"), "a list of dates", hol_raw)
    else:
        for i, h in enumerate(hol_raw):
            try:
                holidays.add(h if isinstance(h, dt.date) else dt.date.fromisoformat(str(h)))
            except ValueError:
                s.problems.must(f"{s.path('holidays')}[{i}]", "a date like 2026-05-01", h)
    s.finish()
    if start is None or windows is None:
        return None
    spec = CampaignSpec(start=start, days=days, timezone=tz, weekdays=frozenset(weekdays),
                        windows=windows, holidays=frozenset(holidays))
    if weekdays and not spec.calling_days():
        s.problems.add(s.key, "no calling day: every day of the campaign is excluded")
    return spec


def _segments(s: Section) -> tuple[SegmentSpec, ...] | None:
    items = s.items("segments")
    if not s.has("segments"):
        return (SegmentSpec(name="all", share=1.0, number_type="mobile", prefix="",
                            tz_offset_s=0, pickup_multiplier=1.0, p_invalid=0.0),)
    if not items:
        s.problems.must(s.path("segments"), "at least one [[list.segments]] entry", [])
        return None
    out = []
    names: set[str] = set()
    for seg in items:
        name = seg.string("name", MISSING)
        if isinstance(name, str):
            if name in names:
                seg.problems.must(seg.path("name"), "unique among segments", name)
            names.add(name)
        share = seg.number("share", MISSING, lo=0, lo_open=True, hi=1)
        number_type = seg.string("number_type", "mobile")
        prefix = seg.string("prefix", "", check=lambda p: None if re.fullmatch(r"[0-9]{0,15}", p)
                            else "ASCII digits only (at most 15), like \"138\"")
        tz_h = seg.number("tz_offset_h", 0, lo=-24, hi=24)
        mult = seg.number("pickup_multiplier", 1.0, lo=0, cap=MAX_MULTIPLIER)
        p_inv = seg.probability("p_invalid", 0.0)
        seg.finish()
        if isinstance(name, str) and isinstance(share, int | float):
            out.append(SegmentSpec(name=name, share=float(share), number_type=number_type,
                                   prefix=prefix, tz_offset_s=round(float(tz_h) * 3600),
                                   pickup_multiplier=float(mult), p_invalid=float(p_inv)))
    if len(out) != len(items):
        return None
    total = math.fsum(seg.share for seg in out)
    if abs(total - 1) > 1e-6:  # never normalised silently: 0.8 + 0.3 is a typo, not a weight
        s.problems.must(s.path("segments"), "shares that add up to 1",
                        f"{' + '.join(f'{seg.share:g}' for seg in out)} = {total:g}")
        return None
    return tuple(out)


def _retry(s: Section) -> RetrySpec:
    defaults = {
        "busy": {"dist": "uniform", "low": 600, "high": 1200},
        "no_answer": {"dist": "uniform", "low": 7200, "high": 14400},
        "failed": {"dist": "uniform", "low": 1800, "high": 3600},
        "machine": DAY_S,
        "abandoned": None,  # the lockout alone
        "callback": {"dist": "uniform", "low": 3600, "high": DAY_S},
    }
    vals = {k: _dist(s, f"{k}_s", d, optional=True) for k, d in defaults.items()}
    s.finish()
    return RetrySpec(**vals)


def _list(s: Section) -> ListSpec | None:
    size = s.integer("size", MISSING, lo=1, hi=50_000_000)
    max_attempts = s.integer("max_attempts", 3, lo=1, hi=100)
    max_24 = s.integer("max_per_24h", 5, lo=1, cap=1000)
    max_5 = s.integer("max_per_5min", 3, lo=1, cap=1000)
    lockout_h = s.number("lockout_after_abandon_h", 72, lo=0, cap=MAX_HOURS)
    p_dnc = s.probability("p_dnc", 0.0)
    segments = _segments(s)
    retry = _retry(s.sub("retry"))
    s.finish()
    if segments is None or not isinstance(size, int):
        return None
    return ListSpec(size=size, max_attempts=max_attempts, max_per_24h=max_24,
                    max_per_5min=max_5, lockout_after_abandon_s=float(lockout_h) * 3600,
                    p_dnc=float(p_dnc), segments=segments, retry=retry)


def _customers(s: Section) -> CustomerSpec | None:
    p_fail = s.probability("p_fail", 0.02)
    p_busy = s.probability("p_busy", 0.04)
    if isinstance(p_fail, float | int) and isinstance(p_busy, float | int) and p_fail + p_busy > 1:
        s.problems.must(s.path("p_busy"), f"<= 1 - p_fail ({1 - p_fail:g})", p_busy)
    p_pickup = s.probability("p_pickup", 0.6)
    p_machine = s.probability("p_machine", 0.15)
    by_attempt = _multipliers(s, "pickup_by_attempt", None)
    by_hour = _multipliers(s, "pickup_by_hour", 24)
    mean_one = {"dist": "constant", "value": 1.0}
    dists = {
        "reachability": _dist(s, "reachability", mean_one),
        "interest": _dist(s, "interest", mean_one),
        # bimodal: most people pick up within ~10 s, some after ~20 s (DESIGN §4)
        "ring": _dist(s, "ring", {"dist": "mixture", "weights": [0.7, 0.3], "components": [
            {"dist": "uniform", "low": 5, "high": 11},
            {"dist": "uniform", "low": 16, "high": 23}]}),
        "machine_ring": _dist(s, "machine_ring", {"dist": "uniform", "low": 12, "high": 24}),
        "fail_time": _dist(s, "fail_time", {"dist": "uniform", "low": 1, "high": 4}),
        "busy_time": _dist(s, "busy_time", {"dist": "uniform", "low": 2, "high": 6}),
        "patience": _dist(s, "patience", {"dist": "exponential", "mean": 4}),
        "machine_talk": _dist(s, "machine_talk", {"dist": "uniform", "low": 3, "high": 8}),
    }
    billsec = s.string("billsec", "ceil", choices=BILLSEC)
    s.finish()
    if by_attempt is None or by_hour is None or any(v is None for v in dists.values()):
        return None
    return CustomerSpec(p_fail=float(p_fail), p_busy=float(p_busy), p_pickup=float(p_pickup),
                        p_machine=float(p_machine), pickup_by_attempt=by_attempt,
                        pickup_by_hour=by_hour, billsec=billsec, **dists)


def _agents(s: Section, windows: tuple[tuple[int, int], ...] | None) -> AgentSpec | None:
    count = s.integer("count", MISSING, lo=1, hi=MAX_AGENTS)
    wrap = _dist(s, "wrap", 15)
    preview = _dist(s, "preview", {"dist": "uniform", "low": 5, "high": 15})
    cost = s.decimal("hourly_cost", Decimal(0), hi=MAX_HOURLY_COST)
    shifts: list[ShiftSpec] = []
    items = s.items("shifts")
    for sh in items:
        a = _clock(sh, sh.path("start"), sh.raw_get("start"))
        b = _clock(sh, sh.path("end"), sh.raw_get("end"))
        n = sh.integer("count", count if isinstance(count, int) else 1, lo=1, cap=MAX_AGENTS)
        sh.finish()
        if a is not None and b is not None:
            if b <= a:
                sh.problems.must(sh.key, "a shift whose end is after its start", [a, b])
            else:
                shifts.append(ShiftSpec(start_s=a, end_s=b, count=n))
    s.finish()
    if not isinstance(count, int) or wrap is None or preview is None:
        return None
    if items and len(shifts) == len(items):
        total = sum(sh.count for sh in shifts)
        if total != count and s.has("count"):
            s.problems.must(s.path("shifts"), f"shift counts that add up to agents.count ({count})",
                            total)
    return AgentSpec(count=count, shifts=tuple(shifts), wrap=wrap, preview=preview,
                     hourly_cost=cost)


def _amd(s: Section) -> AMDSpec:
    enabled = s.boolean("enabled", s.has("p_detect"))
    latency = _dist(s, "latency", {"dist": "uniform", "low": 2, "high": 4})
    p_detect = s.probability("p_detect", 0.9)
    p_fp = s.probability("p_false_positive", 0.03)
    s.finish()
    return AMDSpec(enabled=bool(enabled), latency=latency or Constant(0.0),
                   p_detect=float(p_detect), p_false_positive=float(p_fp))


def _dialer(s: Section) -> DialerSpec:
    mode = s.string("mode", "progressive", choices=MODES)
    ratio = s.number("ratio", 1.0, lo=1, hi=20)
    ring_timeout = s.number("ring_timeout_s", 25, lo=0, lo_open=True, cap=MAX_RING_S)
    threshold = s.number("abandon_threshold_s", 2, lo=0, cap=MAX_WAIT_S, allow_inf=True)
    channels = s.integer("channels", 0, lo=0, cap=MAX_CHANNELS)
    cps = s.number("calls_per_second", 0, lo=0, cap=MAX_CPS)
    rate = s.number("rate_per_min", 0, lo=0, cap=MAX_RATE_PER_MIN)
    target = s.probability("target_abandon", 0.03)
    max_level = s.number("max_level", 3.0, lo=1, cap=MAX_LEVEL)
    offset = s.number("adapt_offset", 0.0, lo=-MAX_LEVEL, hi=MAX_LEVEL)
    transfer = s.integer("robot_transfer_stage", -1, lo=-1, cap=MAX_STAGES)
    give_up = _dist(s, "give_up", None)
    margin = s.number("abandon_margin", 0.2, lo=0, hi=1, hi_open=True)
    obey = s.string("obey_terms", None)
    amd = _amd(s.sub("amd"))
    s.finish()
    if mode == "poisson" and not rate:
        s.problems.add(s.path("rate_per_min"), "must be > 0 for mode 'poisson' (dials per minute)")
    if mode == "robot" and not rate and not channels:
        s.problems.add(s.path("channels"), "must be > 0 for mode 'robot' without rate_per_min "
                                           "(the robot's capacity is the trunk's channels)")
    return DialerSpec(mode=mode, ratio=float(ratio), ring_timeout_s=float(ring_timeout),
                      abandon_threshold_s=float(threshold), channels=channels,
                      calls_per_second=float(cps), rate_per_min=float(rate),
                      target_abandon=float(target), max_level=float(max_level),
                      adapt_offset=float(offset), robot_transfer_stage=transfer, amd=amd,
                      give_up=give_up, abandon_margin=float(margin), obey_terms=obey)


def _script(s: Section) -> ScriptSpec | None:
    name = s.string("name", "script")
    stages: list[StageSpec] = []
    items = s.items("stages")
    talk = _dist(s, "talk", None)
    if talk is not None and items:
        s.problems.add(s.path("talk"), "cannot be given with script.stages (mutually "
                                       "exclusive): give the talk-time law or the stages")
    elif not items and talk is None and not s.has("talk"):
        s.problems.add(s.path("stages"), "needs at least one [[script.stages]] entry "
                                         "(or a talk-time law script.talk)")
    for st in items:
        st_name = st.string("name", f"stage{len(stages) + 1}")
        dur = _dist(st, "duration", MISSING)
        p_h = st.probability("p_hangup", 0.0)
        p_d = st.probability("p_decline", 0.0)
        st.finish()
        if dur is not None:
            stages.append(StageSpec(name=st_name, duration=dur, p_hangup=float(p_h),
                                    p_decline=float(p_d)))
    p_convert = s.probability("p_convert", 0.1)
    p_callback = s.probability("p_callback", 0.0)
    exit_ = _dist(s, "decline_exit", 8)
    s.finish()
    if len(stages) != len(items) or not (stages or talk) or exit_ is None:
        return None
    return ScriptSpec(name=name, stages=tuple(stages), p_convert=float(p_convert),
                      p_callback=float(p_callback), decline_exit=exit_, talk=talk)


def _compliance(s: Section) -> ComplianceSpec:
    known = ("us", "uk", "china")
    rules_raw = s.raw_get("rules", list(known))
    rules: list[str] = []
    if not isinstance(rules_raw, list):
        s.problems.must(s.path("rules"), 'a list like ["us", "uk", "china"]', rules_raw)
    else:
        for i, r in enumerate(rules_raw):
            if r not in known:
                s.problems.must(f"{s.path('rules')}[{i}]", "one of 'us', 'uk', 'china'", r)
            else:
                rules.append(r)
    cap = s.probability("abandon_cap", 0.03)
    threshold = s.number("threshold_s", 2.0, lo=0, cap=MAX_WAIT_S)
    hours = _intervals(s, "calling_hours", [["08:00", "21:00"]]) if s.has("calling_hours") \
        else ((8 * 3600, 21 * 3600),)
    if s.has("calling_hours") and hours is not None and len(hours) != 1:
        s.problems.must(s.path("calling_hours"), 'one pair [["08:00", "21:00"]]', hours)
    per_day = s.integer("max_per_24h", 5, lo=1, cap=1000)
    per_5 = s.integer("max_per_5min", 3, lo=1, cap=1000)
    lockout = s.number("lockout_h", 72, lo=0, cap=MAX_HOURS)
    s.finish()
    h = hours[0] if hours else (8 * 3600, 21 * 3600)
    return ComplianceSpec(rules=tuple(rules), abandon_cap=float(cap),
                          threshold_s=float(threshold), calling_hours=h, max_per_24h=per_day,
                          max_per_5min=per_5, lockout_h=float(lockout))


def _variants(top: Section) -> tuple[VariantSpec, ...]:
    out = []
    names: set[str] = set()
    for v in top.items("variant"):
        name = v.string("name", MISSING)
        desc = v.string("description", "")
        over = v.raw_get("set", {})
        if not isinstance(over, Mapping):
            v.problems.must(v.path("set"), 'a table of overrides {"dotted.key" = value}', over)
            over = {}
        v.finish()
        if isinstance(name, str):
            if name in names or name == "base":
                v.problems.must(v.path("name"), "unique and not 'base'", name)
            names.add(name)
            out.append(VariantSpec(name=name, description=desc, overrides=dict(over)))
    return tuple(out)


def scenario_from_dict(raw: Mapping[str, Any], *, source: str = "<dict>",
                       overrides: Mapping[str, Any] | None = None,
                       base_dir: Path | None = None,
                       _validate_variants: bool = True) -> Scenario:
    """Validate a raw scenario dict (after ``overrides``) into a :class:`Scenario`.

    Each ``[[variant]]`` is validated as the scenario it makes (its overrides applied),
    so a bad override fails here naming the variant and the key, not later in ``compare``.
    """
    if overrides:
        raw = apply_overrides(raw, overrides, source)
    check_depth(raw, source, ScenarioError)
    raw = copy.deepcopy(dict(raw))
    problems = Problems(source, ScenarioError)
    top = Section(raw, "", problems)
    name = top.string("name", Path(source).stem if source != "<dict>" else "scenario")
    description = top.string("description", "")
    currency = top.string("currency", "CNY", check=lambda c: None if re.fullmatch(
        r"[A-Z]{3}", c) else "a 3-letter currency code like \"CNY\"")
    campaign = _campaign(top.sub("campaign"))
    lst = _list(top.sub("list"))
    customers = _customers(top.sub("customers"))
    agents = _agents(top.sub("agents"), campaign.windows if campaign else None)
    dialer = _dialer(top.sub("dialer"))
    script = _script(top.sub("script"))
    billing = top.sub("billing")
    plans_raw = billing.raw_get("plans", [])
    plans: list[Path] = []
    plan_problems = len(problems.lines)
    if not isinstance(plans_raw, list) or not all(isinstance(p, str) for p in plans_raw):
        problems.must(billing.path("plans"), "a list of plan file paths", plans_raw)
    else:
        root = base_dir if base_dir is not None else (
            Path(source).parent if source != "<dict>" else Path.cwd())
        for i, p in enumerate(plans_raw):
            path = _confined_plan(root, p)
            if path is None:
                problems.must(f"billing.plans[{i}]", "a plan file inside the scenario's "
                              f"folder {root} (give others with --plans)", p)
                continue
            if not path.is_file():
                problems.must(f"billing.plans[{i}]", "an existing plan file", p)
            plans.append(path)
    numbers = billing.integer("numbers", 1, lo=0, cap=MAX_NUMBERS)
    billing.finish()
    if dialer.obey_terms is not None and len(problems.lines) == plan_problems:
        dialer = dataclasses.replace(dialer, suspend_terms=_obeyed_terms(
            dialer.obey_terms, plans, problems))
    compliance = _compliance(top.sub("compliance"))
    variants = _variants(top)
    top.finish()
    if agents and campaign:
        _check_shifts(agents, campaign, problems)
    if script and script.talk is not None and dialer.robot_transfer_stage >= 0:
        problems.must("dialer.robot_transfer_stage", "-1 with script.talk (a talk-time law "
                      "has no stages to hand over at)", dialer.robot_transfer_stage)
    if problems or None in (campaign, lst, customers, agents, script):
        problems.fail()
    assert campaign and lst and customers and agents and script  # for the type checker
    if variants and _validate_variants:
        # a variant must itself be a valid scenario: validated whole, its errors named
        # "file: variant 'x': key: ..." (without its siblings, which it cannot change)
        plain = {k: v for k, v in raw.items() if k != "variant"}
        prefix = f"{source}: "
        for v in variants:
            try:
                scenario_from_dict(plain, source=source, overrides=v.overrides,
                                   base_dir=base_dir, _validate_variants=False)
            except ScenarioError as exc:
                for line in exc.problems or (str(exc),):
                    rest = line[len(prefix):] if line.startswith(prefix) else line
                    problems.add(f"variant {v.name!r}", rest)
    problems.raise_if_any()
    return Scenario(name=name, description=description, source=source, currency=currency,
                    campaign=campaign, list=lst, customers=customers, agents=agents,
                    dialer=dialer, script=script, plans=tuple(plans), numbers=numbers,
                    variants=variants,
                    compliance=compliance, raw=raw)


def _obeyed_terms(name: str, plans: list[Path], problems: Problems) -> tuple[Any, ...]:
    """The ``suspend = true`` traffic terms of plan ``name`` of ``billing.plans``; a
    problem (and ``()``) when no such plan, or it has none."""
    from .billing.plans import load_plans  # plan files are read only for this key

    found = [p for path in plans for p in load_plans(path)]
    names = [p.name for p in found]
    plan = next((p for p in found if p.name == name), None)
    if plan is None:
        if not names:
            problems.must("dialer.obey_terms", "the name of a plan in billing.plans, which "
                          "lists no plan file", name)
        else:
            problems.must("dialer.obey_terms", "the name of a plan in billing.plans (one of "
                          + ", ".join(map(repr, names)) + ")", name)
            problems.lines[-1] += did_you_mean(name, names)
        return ()
    terms = tuple(t for t in plan.traffic_terms if t.suspend)
    if not terms:
        others = ("its terms " + ", ".join(repr(t.name) for t in plan.traffic_terms)
                  + " fee or uplift") if plan.traffic_terms else "it has no traffic terms"
        with_suspend = [p.name for p in found if any(t.suspend for t in p.traffic_terms)]
        hint = (" (plans with one: " + ", ".join(map(repr, with_suspend)) + ")"
                if with_suspend else "")
        problems.must("dialer.obey_terms", "a plan with a [[plan.traffic_terms]] entry "
                      f"with suspend = true; plan {name!r} has none ({others})"
                      + hint, name)
    return terms


def _confined_plan(root: Path, name: str) -> Path | None:
    """``root / name`` if it lies inside ``root`` (no absolute path, no ``..`` out of it,
    no symlink pointing elsewhere), else None: a scenario file from someone else must
    not make a run read, and copy into its folder, any file on the machine."""
    if not name or "\0" in name or Path(name).is_absolute():
        return None
    path = root / name
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):
        return None
    return path if inside else None


def _check_shifts(agents: AgentSpec, campaign: CampaignSpec, problems: Problems) -> None:
    if not agents.shifts:
        return
    lo, hi = campaign.windows[0][0], campaign.windows[-1][1]
    for i, sh in enumerate(agents.shifts):
        if sh.end_s <= lo or sh.start_s >= hi:
            problems.add(f"agents.shifts[{i}]", "lies outside every calling window")


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read, override and validate a scenario file.

    Parameters
    ----------
    path
        A TOML scenario file.
    overrides
        ``{"dotted.key": value}`` applied before validation, e.g.
        ``{"agents.count": 20, "script.stages[0].duration": 4}``.

    With ``DIALSIM_QUICK=1`` in the environment the scenario is returned scaled down by
    :func:`quick` (as ``--quick`` does): scripts, notebooks and the README's examples
    then run in seconds unchanged.

    Raises
    ------
    ScenarioError
        Listing every problem as ``file: dotted.key: must be X (got Y)``.
    """
    path = Path(path)
    raw = read_toml(path, ScenarioError)
    scenario = scenario_from_dict(raw, source=str(path), overrides=overrides,
                                  base_dir=path.parent)
    return quick(scenario) if os.environ.get("DIALSIM_QUICK") == "1" else scenario


#: Most leads a ``quick`` copy gets (its run stays well under a second or two).
QUICK_MAX_LEADS = 5_000


def quick(scenario: Scenario, *, leads: int | None = None, days: int = 1,
          agents: int | None = None) -> Scenario:
    """A scaled-down copy for smoke tests and notebooks: fewer days and agents, and a list
    cut in proportion, so that the KPIs keep their meaning.

    The copy keeps the first calling day (``days``), at most 10 agents (or ``agents``;
    shifts keep their shares of the team) and the dialer's ``channels`` and
    ``rate_per_min`` scaled with the team. The list keeps its leads per agent and
    calling day — ``list.size × agents' / agents × calling days' / calling days``, at
    most :data:`QUICK_MAX_LEADS` — unless ``leads`` gives its size.
    """
    n_days = min(scenario.campaign.days, max(days, _first_calling_span(scenario)))
    n = agents if agents is not None else min(scenario.agents.count, 10)
    if leads is None:
        leads = quick_leads(scenario, n, days=days)
    over: dict[str, Any] = {
        "list.size": min(scenario.list.size, leads),
        "campaign.days": n_days,
    }
    if n != scenario.agents.count:
        # shifts keep their shares of the team, at least one agent each
        for i, sh in enumerate(scenario.agents.shifts):
            over[f"agents.shifts[{i}].count"] = max(1, round(n * sh.count / scenario.agents.count))
        over["agents.count"] = sum(over[f"agents.shifts[{i}].count"]
                                   for i in range(len(scenario.agents.shifts))) or n
        share = over["agents.count"] / scenario.agents.count
        d = scenario.dialer
        if d.channels:
            over["dialer.channels"] = max(1, round(d.channels * share))
        if d.rate_per_min:
            over["dialer.rate_per_min"] = d.rate_per_min * share
    return scenario.with_overrides(over)


def quick_leads(scenario: Scenario, agents: int, *, days: int = 1) -> int:
    """Leads a quick copy with ``agents`` agents and ``days`` days gets: the full
    scenario's leads per agent and calling day, times the copy's agents and calling days
    (at least 50, at most :data:`QUICK_MAX_LEADS`)."""
    n_days = min(scenario.campaign.days, max(days, _first_calling_span(scenario)))
    all_days = scenario.campaign.calling_days()
    kept_days = len([d for d in all_days if d < n_days]) or 1
    per = scenario.list.size / (max(scenario.agents.count, 1) * max(len(all_days), 1))
    return min(QUICK_MAX_LEADS, max(50, round(per * agents * kept_days)))


def _first_calling_span(scenario: Scenario) -> int:
    days = scenario.campaign.calling_days()
    return (days[0] + 1) if days else 1

