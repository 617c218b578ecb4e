"""Dialled numbers written the way each side writes them, reduced to one comparable key.

A PBX logs ``013812345678`` or ``+86 138-1234-5678``; the carrier bills
``8613812345678``. Both are the same national number ``13812345678`` once the
international prefix (``+`` or ``00``), the country code and the trunk prefix (leading
``0``) are taken off. The country code is given, or inferred: the 1-3 digit head that,
taken off the longer numbers, most often leaves another number of the files.

Labels made of digits only (nearly every export) are converted as whole numpy
columns; others (spaces, dashes, ``+``) go through the same rules one by one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["NO_NUMBER", "country_of", "digits", "infer_country", "normalise", "number_keys"]

#: Key of a label that holds no digits (never matches anything).
NO_NUMBER = -1
_NON_DIGIT = re.compile(r"[^\d+]")
#: National significant numbers are kept as int64 keys: at most 18 digits.
_MAX_DIGITS = 18
#: A number is taken to carry the country code only when it has at least this many
#: digits after it (national significant numbers are 9-11 digits in most plans).
_NATIONAL_MIN = 9
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _split(label: str) -> tuple[bool, str]:
    """(written internationally?, digits without the international prefix or leading
    zeros)."""
    text = _NON_DIGIT.sub("", label.strip())
    intl = text.startswith("+") or text.startswith("00")
    digits = text.replace("+", "")
    return intl, digits.lstrip("0")


def normalise(label: str, country: str | None = None) -> str:
    """The national significant number of ``label`` ('' when it holds no digits).

    Drops everything but digits, the international prefix (``+``, ``00``), leading zeros
    (the trunk prefix), and the ``country`` code in front of a number written
    internationally, or of one that starts with it and has at least 9 more digits.
    """
    intl, digits = _split(label)
    if country and digits.startswith(country) and (
            intl or len(digits) >= len(country) + _NATIONAL_MIN):
        digits = digits[len(country):]
    return digits.lstrip("0")


def digits(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per label: its digits as an int64 (leading zeros and ``+``/``00`` dropped;
    :data:`NO_NUMBER` none) and whether it was written internationally."""
    return _digits(labels)


def _digits(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per label: its digits as an int64 (leading zeros and ``+``/``00`` dropped; -1
    none) and whether it was written internationally."""
    arr = np.asarray(labels, dtype=np.str_) if len(labels) else np.zeros(0, dtype="U1")
    value = np.full(len(arr), NO_NUMBER, dtype=np.int64)
    intl = np.zeros(len(arr), dtype=bool)
    if len(arr) == 0:
        return value, intl
    fast = np.char.isdigit(arr) & (np.char.str_len(arr) <= _MAX_DIGITS)
    if fast.any():
        value[fast] = arr[fast].astype(np.int64)
        intl[fast] = np.char.startswith(arr[fast], "00")
    for i in np.flatnonzero(~fast).tolist():
        is_intl, digits = _split(str(arr[i]))
        if digits:
            value[i] = int(digits[-_MAX_DIGITS:])
            intl[i] = is_intl
    value[value == 0] = NO_NUMBER
    return value, intl


def _ndigits(v: np.ndarray) -> np.ndarray:
    return np.searchsorted(_POW10, v, side="right")


def infer_country(labels: Sequence[str]) -> str | None:
    """The country code (1-3 digits) that most often stands in front of another number
    of ``labels``: ``8613800001234`` beside ``13800001234``.

    Returns None unless at least 3 numbers, and 1 % of the distinct numbers, agree.
    """
    return country_of(_digits(labels)[0])


def country_of(value: np.ndarray) -> str | None:
    """:func:`infer_country` of digit values (:func:`digits`)."""
    v = np.sort(value[value > 0])  # (np.unique's hash path is ~20x slower here)
    v = v[np.concatenate([[True], v[1:] != v[:-1]])] if len(v) else v
    if len(v) == 0:
        return None
    nd = _ndigits(v)
    best: tuple[int, int, int] = (0, 0, 0)  # votes, -k, head
    for k in (1, 2, 3):
        sel = nd >= k + _NATIONAL_MIN
        if not sel.any():
            continue
        p = _POW10[nd[sel] - k]
        head, rest = v[sel] // p, v[sel] % p
        at = np.minimum(np.searchsorted(v, rest), len(v) - 1)  # v sorted: a fast isin
        ok = (v[at] == rest) & (rest >= p // 10)  # the rest has no leading zero
        if ok.any():
            heads, counts = np.unique(head[ok], return_counts=True)
            j = int(np.argmax(counts))
            best = max(best, (int(counts[j]), -k, int(heads[j])))
    votes, _, head = best
    if votes < max(3, len(v) // 100):
        return None
    return str(head)


def number_keys(labels: Sequence[str], country: str | None,
                digits: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """int64 key per label: the normalised number (:func:`normalise`) as an integer,
    :data:`NO_NUMBER` for a label without digits. Numbers longer than 18 digits keep
    their last 18. ``digits``: :func:`digits` of the labels, if already computed."""
    value, intl = _digits(labels) if digits is None else digits
    if country:
        code, k = int(country), len(country)
        nd = _ndigits(np.maximum(value, 0))
        room = nd > k
        p = _POW10[np.where(room, nd - k, 0)]
        starts = room & (value // p == code)
        strip = starts & (intl | (nd >= k + _NATIONAL_MIN))
        rest = value % p
        value = np.where(strip, rest, value)
        value[strip & (rest == 0)] = NO_NUMBER
    return value
