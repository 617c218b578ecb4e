"""Dialled numbers written the way each side writes them, reduced to one comparable key.

A PBX logs ``013812345678`` or ``+86 138-1234-5678``; the carrier bills
``8613812345678``. Both are the same national number ``13812345678`` once the
international prefix (``+`` or ``00``), the country code and the trunk prefix (a
leading ``0``) are taken off. The country code is given, or inferred as the code that
makes the most internationally written numbers equal to a nationally written one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["NO_NUMBER", "infer_country", "normalise", "number_keys"]

#: Key of a label that holds no digits (never matches anything).
NO_NUMBER = -1
_NON_DIGIT = re.compile(r"[^\d+]")
#: National significant numbers are kept as int64 keys: at most 18 digits.
_MAX_DIGITS = 18


def _split(label: str) -> tuple[bool, str]:
    """(written internationally?, digits without the international prefix)."""
    text = _NON_DIGIT.sub("", label.strip())
    intl = text.startswith("+") or text.startswith("00")
    digits = text.replace("+", "")
    if digits.startswith("00"):
        digits = digits[2:]
    return intl, digits


def infer_country(labels: Sequence[str]) -> str | None:
    """The country code (1-3 digits) most often in front of internationally written
    numbers that also appear written nationally (``0`` trunk prefix or none).

    Returns None when no internationally written number has a national twin.
    """
    intl: set[str] = set()
    national: set[str] = set()
    for label in labels:
        is_intl, digits = _split(label)
        if not digits:
            continue
        (intl if is_intl else national).add(digits if is_intl else digits.lstrip("0"))
    votes: Counter[str] = Counter()
    for digits in intl:
        for k in (1, 2, 3):
            if len(digits) > k + 4 and digits[k:].lstrip("0") in national:
                votes[digits[:k]] += 1
    if not votes:
        # numbers written with a country code but without "+" (8613...) on one side and
        # nationally on the other: try every 1-3 digit head of the longer numbers
        for digits in national:
            for k in (1, 2, 3):
                if len(digits) > k + 6 and digits[k:] in national:
                    votes[digits[:k]] += 1
    return votes.most_common(1)[0][0] if votes else None


def normalise(label: str, country: str | None = None) -> str:
    """The national significant number of ``label`` ('' when it holds no digits).

    Drops everything but digits, the international prefix (``+``, ``00``), the
    ``country`` code in front of an international number (or of a number that starts
    with it and is longer than a national one would be), and leading zeros (the trunk
    prefix).
    """
    intl, digits = _split(label)
    if country:
        if intl and digits.startswith(country):
            digits = digits[len(country):]
        elif not intl and digits.startswith(country) and len(digits) >= len(country) + 9:
            digits = digits[len(country):]
    return digits.lstrip("0")


def number_keys(labels: Sequence[str], country: str | None) -> np.ndarray:
    """int64 key per label: the normalised number as an integer, :data:`NO_NUMBER` for a
    label without digits. Numbers longer than 18 digits keep their last 18."""
    out = np.full(len(labels), NO_NUMBER, dtype=np.int64)
    for i, label in enumerate(labels):
        digits = normalise(label, country)
        if digits:
            out[i] = int(digits[-_MAX_DIGITS:])
    return out
