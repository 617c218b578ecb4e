"""Column-at-once CSV text (sim.csvtext, and the timestamps of sim.cdrio) against plain
Python formatting of every value."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cdrio._values import NAT, format_times
from sim.csvtext import fixed_us, glue, integers, join_rows, labels

INT64 = st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)


def lines(fields: list[np.ndarray]) -> list[str]:
    return join_rows(fields).decode("utf-8").split("\n")[:-1]


def oracle_fixed_us(x: float) -> str:
    if not np.isfinite(x):
        return ""
    us = int(np.rint(x * 1e6))
    whole, frac = divmod(abs(us), 1_000_000)
    text = str(whole) + (("." + f"{frac:06d}".rstrip("0")) if frac else "")
    return ("-" if us < 0 else "") + text


@settings(max_examples=200, deadline=None)
@given(st.lists(INT64 | st.integers(-20, 20) | st.integers(9990, 10010), min_size=1,
                max_size=60))
def test_integers_match_str(values: list[int]) -> None:
    assert lines([integers(np.array(values, dtype=np.int64))]) == [str(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e9, max_value=1e9) | st.sampled_from(
    [0.0, -0.0, 60.0, 12.5, 0.000125, 1e-6, -1e-6, 4e-7, 0.1, 0.999999, 59.9999995,
     float("nan"), float("inf"), -float("inf")]), min_size=1, max_size=60))
def test_fixed_us_matches_plain_formatting(values: list[float]) -> None:
    got = lines([fixed_us(np.array(values))])
    assert got == [oracle_fixed_us(v) for v in values]


def test_fixed_us_examples() -> None:
    x = np.array([12.5, 60, 0.000125, -0.5, 10_000.000001, 123_456_789.25, np.nan])
    assert lines([fixed_us(x)]) == ["12.5", "60", "0.000125", "-0.5", "10000.000001",
                                    "123456789.25", ""]


def test_labels_quote_and_rows_join() -> None:
    vocab = ["plain", "a,b", 'say "hi"', "", " padded"]
    codes = np.array([0, 1, 2, 3, 4, 0])
    ids = np.arange(6)
    got = lines([integers(ids), labels(codes, vocab), fixed_us(ids * 0.5)])
    assert got == ["0,plain,0", '1,"a,b",0.5', '2,"say ""hi""",1', "3,,1.5",
                   '4," padded",2', "5,plain,2.5"]


def test_join_rows_in_blocks_equals_one_pass() -> None:
    rng = np.random.default_rng(5)
    a = integers(rng.integers(-10**6, 10**6, 10_001))
    b = fixed_us(rng.lognormal(2, 2, 10_001))
    assert join_rows([a, b], step=97) == join_rows([a, b], step=1 << 20)


def test_glue_puts_columns_side_by_side() -> None:
    a = np.frombuffer(b"ab" b"cd", np.uint8).reshape(2, 2)
    b = np.frombuffer(b"X" b"Y", np.uint8).reshape(2, 1)
    assert glue([a, b]).tobytes() == b"abXcdY"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 4_000_000_000_000_000) | st.none(), min_size=1, max_size=40),
       st.sampled_from([-600, -300, 0, 330, 480, 845]))
def test_times_match_isoformat(offsets_us: list[int | None], offset_min: int) -> None:
    base = 1_000_000_000 * 1_000_000  # 2001-09-09, local µs since 1970
    us = np.array([NAT if o is None else base + o for o in offsets_us], dtype=np.int64)
    tz = timezone(timedelta(minutes=offset_min))
    want = ["" if o is None else
            (datetime(1970, 1, 1) + timedelta(microseconds=base + o)).replace(tzinfo=tz)
            .isoformat(timespec="microseconds") for o in offsets_us]
    offs = np.full(len(us), offset_min, dtype=np.int16)
    assert format_times(us, offset_min=offs) == want
    assert lines([format_times(us, offset_min=offs, chars=True)]) == want
