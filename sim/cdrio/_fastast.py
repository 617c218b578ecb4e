"""Asterisk Master.csv blocks parsed straight from bytes with numpy: the fast path.

A switch writes Master.csv mechanically: every row has the same number of fields, text
fields are quoted, numbers are not, timestamps are ``YYYY-MM-DD HH:MM:SS``. For such a
block nothing needs a Python object per field. Quote positions give, by parity, the
commas that separate fields; a reshape gives every field's byte range; the fields
rating needs (dst, start, answer, end, duration, billsec, disposition, uniqueid,
userfield) are decoded by integer arithmetic on gathered bytes, and text fields are
factorised with ``numpy.unique`` on fixed-width byte strings.

The fast path takes a block only if *everything* in it is regular: ASCII, no NUL, no
blank line, CR only before LF, no quote left open at a line end, the same field count
(16..21) on every line, fields either plainly quoted or unquoted, valid timestamps,
plain digits for numbers, known dispositions, and dialsim userfields on all rows
(dialsim's own exports: every leg outbound; other files need their channels and
contexts read to tell each leg's direction, which the csv path does). Anything else
returns ``None`` and the block goes through the csv module and the row-by-row verdicts
of :class:`._readers.AsteriskConverter`, which gives the same result for regular rows
(a test checks the two paths agree).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._build import OPEN_CATEGORIES, Assembler
from ._direction import OUT, classify_asterisk
from ._fields import BOOL_CODES, DISPOSITION_CODES, FIXED_CODES, USERFIELD_KEYS, normalise_label
from ._values import NAT, US_PER_S, _civil

__all__ = ["parse_asterisk_bytes"]

_QUOTE, _COMMA, _LF, _CR, _SEMI, _EQ, _MINUS = 34, 44, 10, 13, 59, 61, 45
_MAX_LABEL = 64
#: Fields read: dst, dcontext, channel, dstchannel, lastapp (a leg's direction), start,
#: answer, end, duration, billsec, disposition, uniqueid, userfield. (lastdata, field 9,
#: is read only on the rare rows whose direction depends on it.)
_NEEDED = (2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 16, 17)
_MAX_DIGITS = 17  # digit strings up to 10^17, times 32, fit in int64
_TS_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
#: Masks keeping the first 0..8 bytes of a little-endian 8-byte word.
_WORD_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(9)], dtype=np.uint64)


class _Irregular(Exception):
    """The block is not regular: leave it to the csv path."""


_PAD = 128  # zero bytes after the block so fixed-width gathers never run off its end


class _Block:
    """Field byte ranges of a regular block, found from its special bytes only.

    The few special bytes (quotes, commas, line ends: ~20 % of a CDR line) become an
    event list on which quote parity, separators and line breaks are computed, instead
    of several passes over all bytes.
    """

    def __init__(self, data: bytes) -> None:
        buf = np.frombuffer(data, dtype=np.uint8)
        if len(buf) == 0 or buf[-1] != _LF:
            raise _Irregular
        # plain comparisons run at memory speed: far cheaper than a table lookup
        if buf.max() >= 128 or not buf.min():
            raise _Irregular  # non-ASCII or NUL: the csv path and its decoder
        self.buf = np.concatenate([buf, np.zeros(_PAD, dtype=np.uint8)])
        special = buf == _QUOTE
        special |= buf == _COMMA
        special |= buf == _LF
        has_cr = bool((buf == _CR).any())
        if has_cr:
            special |= buf == _CR
        pos = np.flatnonzero(special)
        del special
        kind = buf[pos]
        qcum = np.cumsum(kind == _QUOTE, dtype=np.int32)  # quotes up to each event, inclusive
        is_lf = kind == _LF
        if np.any(qcum[is_lf] & 1):
            raise _Irregular  # a quote open across a line end
        is_cr = np.flatnonzero(kind == _CR) if has_cr else np.zeros(0, dtype=np.int64)
        if len(is_cr) and (np.any(is_cr + 1 >= len(kind)) or np.any(kind[is_cr + 1] != _LF)
                           or np.any(pos[is_cr + 1] != pos[is_cr] + 1)):
            raise _Irregular  # CR other than in CRLF
        boundary = (kind == _COMMA) & ((qcum & 1) == 0)
        boundary |= is_lf
        bidx = np.flatnonzero(boundary)  # then takes: faster than three boolean masks
        bpos, bq, blf = pos[bidx], qcum[bidx], is_lf[bidx]
        lf = bpos[blf]
        self.n = n = len(lf)
        total = len(bpos)
        if n == 0 or total % n:
            raise _Irregular
        self.width = width = total // n
        if not 16 <= width <= 21 or not np.all(blf.reshape(n, width)[:, -1]):
            raise _Irregular  # differing field counts
        ends = bpos.reshape(n, width)
        self.fend = ends.copy()
        self.fstart = np.empty((n, width), dtype=np.int64)
        self.fstart[:, 1:] = ends[:, :-1] + 1
        self.fstart[0, 0] = 0
        self.fstart[1:, 0] = lf[:-1] + 1
        if len(is_cr):
            self.fend[:, -1] -= self.buf[np.maximum(lf - 1, 0)] == _CR
        q_end = bq.reshape(n, width)
        q_start = np.empty((n, width), dtype=np.int32)
        q_start[:, 1:] = q_end[:, :-1]
        q_start[0, 0] = 0
        q_start[1:, 0] = q_end[:-1, -1]
        self.quotes_in = q_end - q_start  # quotes inside each field (the boundary is none)
        if np.any(self.fend[:, -1] <= self.fstart[:, 0]):
            raise _Irregular  # blank line
        self.windows = np.lib.stride_tricks.sliding_window_view(self.buf, _PAD)
        self.words: np.ndarray | None = None  # unaligned 8-byte words, made on demand
        # text ranges of the fields we read, all at once: quoted ("...") or bare
        need = [k for k in _NEEDED if k < width]
        self.column_of = {k: j for j, k in enumerate(need)}
        s, e, nq = self.fstart[:, need], self.fend[:, need], self.quotes_in[:, need]
        quoted = (nq == 2) & (e - s >= 2) & (self.buf[s] == _QUOTE)
        quoted &= self.buf[e - 1] == _QUOTE
        if not np.all(quoted | (nq == 0)):
            raise _Irregular  # doubled or stray quotes: csv knows the rules
        self.cs = np.ascontiguousarray((s + quoted).T)
        self.ce = np.ascontiguousarray((e - quoted).T)

    def content(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Byte range of the text of field ``k`` (quotes removed) on every line."""
        j = self.column_of[k]
        return self.cs[j], self.ce[j]

    def gather(self, cs: np.ndarray, width: int) -> np.ndarray:
        """(rows, width) bytes from each ``cs`` on (copies of fixed-width windows)."""
        if width > _PAD:
            raise _Irregular
        return self.windows[cs, :width]

    def times(self, k: int) -> np.ndarray:
        cs, ce = self.content(k)
        length = ce - cs
        full = length == 19
        if not np.all(full | (length == 0)):
            raise _Irregular
        out = np.full(self.n, NAT, dtype=np.int64)
        if not full.any():
            return out
        b = self.gather(cs[full], 19)
        digits = b[:, _TS_DIGITS]
        if (np.any(digits < 48) or np.any(digits > 57) or np.any(b[:, [4, 7]] != _MINUS)
                or np.any((b[:, 10] != 32) & (b[:, 10] != 84))
                or np.any(b[:, [13, 16]] != 58)):
            raise _Irregular
        d = digits.astype(np.int64) - 48
        year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
        month = d[:, 4] * 10 + d[:, 5]
        day = d[:, 6] * 10 + d[:, 7]
        hh, mi, ss = d[:, 8] * 10 + d[:, 9], d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13]
        if np.any((month < 1) | (month > 12) | (day < 1) | (hh > 23) | (mi > 59) | (ss > 59)):
            raise _Irregular
        y = year - (month <= 2)
        era = y // 400
        yoe = y - era * 400
        doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
        days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
        cy, cm, cd = _civil(days)
        if np.any((cy != year) | (cm != month) | (cd != day)):
            raise _Irregular  # 31 April and the like
        out[full] = ((days * 86_400 + hh * 3600 + mi * 60 + ss) * US_PER_S)
        return out

    def ints(self, cs: np.ndarray, ce: np.ndarray, *, strict: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
        """Decimal integers in byte ranges (see :func:`_ints`)."""
        length = ce - cs
        width = min(int(length.max(initial=1)), 19)
        return _ints(self.gather(cs, width), length, strict=strict)

    def labels(self, cs: np.ndarray, ce: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Factorised text of byte ranges (see :func:`_labels`)."""
        length = ce - cs
        width = int(length.max(initial=0))
        if width > _MAX_LABEL:
            raise _Irregular
        return _labels(self.gather(cs, max(width, 1)), length)


def _digits(b: np.ndarray, first: np.ndarray, length: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Decimal value of ``b[i, first[i]:length[i]]`` per row, and rows with a non-digit
    there (Horner's rule, one column of bytes at a time)."""
    n, width = b.shape
    value = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    for j in range(width):
        inside = (first <= j) & (j < length)
        d = b[:, j].astype(np.int64) - 48
        bad |= inside & ((d < 0) | (d > 9))
        value = np.where(inside, value * 10 + d, value)
    return value, bad


def _ints(b: np.ndarray, length: np.ndarray, *, signed: bool = False,
          strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers: ``b`` holds each row's text from column 0, ``length`` bytes
    long. Returns ``(values, ok)``; ``strict`` raises :class:`_Irregular` unless every
    row holds one (1 to 18 digits, a leading minus if ``signed``)."""
    n = len(b)
    neg = (b[:, 0] == _MINUS) & (length >= 2) if signed else np.zeros(n, dtype=bool)
    values, bad = _digits(b, neg.astype(np.int64), length)
    ok = ~bad & (length >= 1) & (length - neg <= 18)
    if strict and not ok.all():
        raise _Irregular
    return np.where(neg, -values, values), ok


def _labels(b: np.ndarray, length: np.ndarray, words: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Factorise texts: ``b`` holds each row's text from column 0, ``length`` bytes long.

    Returns codes (first appearance order), the distinct texts (S array) in that order,
    and, when every text is a digit string, integer sort keys of those texts (dialled
    numbers: sorting integers is far cheaper than sorting strings). Short texts are
    compared as one 8-byte integer each (``words``, if the caller has them already,
    masked to each text's length).
    """
    n, width = b.shape
    inside = np.arange(width) < length[:, None]
    b = np.where(inside, b, 0).astype(np.uint8)
    keys = None
    if width <= _MAX_DIGITS and np.all(~inside | ((b >= 48) & (b <= 57))):
        values, _ = _digits(b, np.zeros(n, dtype=np.int64), length)
        keys = values * 32 + length  # the length keeps "0123" apart from "123"
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    elif width <= 8:
        if words is None:
            padded = np.zeros((n, 8), dtype=np.uint8)
            padded[:, :width] = b
            words = padded.view("<u8").reshape(-1)
        uniq, first, inverse = np.unique(words, return_index=True, return_inverse=True)
    else:
        text = np.ascontiguousarray(b).view(f"S{width}").reshape(-1)
        uniq, first, inverse = np.unique(text, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    labels = np.ascontiguousarray(b[first[order]]).view(f"S{width}").reshape(-1)
    return rank[inverse.reshape(-1)], labels, (None if keys is None else uniq[order])


def _coded(codes: np.ndarray, labels: np.ndarray, table: Mapping[str, int]) -> np.ndarray:
    out = []
    for lab in labels.astype("U").tolist():
        c = table.get(lab, table.get(normalise_label(lab), -1))
        if c < 0:
            raise _Irregular
        out.append(c)
    return np.asarray(out, dtype=np.int16)[codes]


def _userfields(blk: _Block, raw: dict[str, np.ndarray], asm: Assembler) -> None:
    cs, ce = blk.content(17)
    length = ce - cs
    width = int(length.max(initial=0))
    if width < 5:
        return  # no dialsim userfield here: ignored, as in the csv path
    text = blk.gather(cs, width)
    text *= np.arange(width) < length[:, None]  # zero the bytes after each userfield
    ours = np.all(text[:, :5] == np.frombuffer(b"lead=", np.uint8), axis=1)
    if not ours.any():
        return
    if not ours.all():
        raise _Irregular
    keys = list(USERFIELD_KEYS)
    n, k = blk.n, len(keys)

    # "key=value;key=value;...": '=' and ';' alternate, 2k - 1 of them on every row
    rows, found = np.nonzero((text == _EQ) | (text == _SEMI))
    if len(rows) != n * (2 * k - 1) or np.any(np.bincount(rows, minlength=n) != 2 * k - 1):
        raise _Irregular
    cols = found.reshape(n, 2 * k - 1)
    pattern = np.where(np.arange(2 * k - 1) % 2 == 0, _EQ, _SEMI)
    if np.any(text[rows.reshape(n, -1), cols] != pattern):
        raise _Irregular
    eqs, semis = cols[:, 0::2], cols[:, 1::2]
    key_start = np.empty((n, k), dtype=np.int64)
    key_start[:, 0] = 0
    key_start[:, 1:] = semis + 1
    if np.any(eqs - key_start != np.array([len(key) for key in keys])):
        raise _Irregular
    val_start = eqs + 1
    val_end = np.empty((n, k), dtype=np.int64)
    val_end[:, :-1] = semis
    val_end[:, -1] = length
    val_len = val_end - val_start

    # Keys and short values are read as one unaligned 8-byte word per row (masked to
    # their length): one gather per field instead of one per byte.
    flat = np.zeros(n * width + 8, dtype=np.uint8)
    flat[:n * width] = text.reshape(-1)
    words = np.ndarray((n * width + 1,), dtype="<u8", buffer=flat, strides=(1,))
    base = np.arange(n, dtype=np.int64) * width

    key_len = np.array([len(key) for key in keys])
    expected = np.array([int.from_bytes(key.encode(), "little") for key in keys],
                        dtype=np.uint64)
    if np.any((words[base[:, None] + key_start] & _WORD_MASKS[key_len]) != expected):
        raise _Irregular
    w_max = val_len.max(axis=0)
    short = np.flatnonzero(w_max <= 8)
    short_words = (words[base[:, None] + val_start[:, short]]
                   & _WORD_MASKS[np.minimum(val_len[:, short], 8)])
    column_of = {int(j): i for i, j in enumerate(short)}
    for j, key in enumerate(keys):
        vlen = val_len[:, j]
        name = USERFIELD_KEYS[key]
        if j in column_of:
            w: np.ndarray | None = np.ascontiguousarray(short_words[:, column_of[j]])
            assert w is not None
            if name in _WORD_TABLES:  # a fixed vocabulary: look the words up directly
                codes = _word_codes(w, _WORD_TABLES[name])
                if codes is not None:
                    raw[name] = codes
                    continue
            b = w.view(np.uint8).reshape(n, 8)
        else:
            w = None
            b = flat[np.minimum((base + val_start[:, j])[:, None] + np.arange(w_max[j]),
                                len(flat) - 1)]  # bytes past a value are masked later
        if name in ("lead_id", "attempt", "agent_id"):
            raw[name] = _ints(b, vlen, signed=True)[0]
            continue
        codes, labels, lkeys = _labels(b, vlen, words=w)
        if name in OPEN_CATEGORIES:
            raw[name] = asm.label_ids(name, codes, labels, lkeys)
        else:
            raw[name] = _coded(codes, labels,
                               BOOL_CODES if name == "abandoned" else FIXED_CODES[name])


def _texts(blk: _Block, k: int) -> np.ndarray:
    """The text of field ``k`` on every line (fixed-width str array; no sort)."""
    cs, ce = blk.content(k)
    length = ce - cs
    width = max(int(length.max(initial=0)), 1)
    b = blk.gather(cs, width)
    b = np.where(np.arange(width) < length[:, None], b, 0).astype(np.uint8)
    return np.ascontiguousarray(b).view(f"S{width}").reshape(-1).astype("U")


_HASH_WEIGHTS = np.random.default_rng(20261202).integers(
    1, 2 ** 63, (5, _MAX_LABEL // 8 + 1), dtype=np.uint64) | np.uint64(1)


def _field_words(blk: _Block, k: int, cut_at_dash: bool = False) -> np.ndarray:
    """The text of field ``k`` on every line as 8-byte words, zero past its end
    (gathered a word at a time: far cheaper than per byte). ``cut_at_dash`` drops a
    channel's per-call suffix (``SIP/301-00000004`` -> ``SIP/301``)."""
    cs, ce = blk.content(k)
    length = ce - cs
    width = int(length.max(initial=0))
    if width > _MAX_LABEL:
        raise _Irregular
    words_n = width // 8 + 1
    if blk.words is None:
        blk.words = np.ndarray((len(blk.buf) - 7,), dtype="<u8", buffer=blk.buf,
                               strides=(1,))
    words = np.empty((len(cs), words_n), dtype=np.uint64)
    for j in range(words_n):
        words[:, j] = blk.words[cs + 8 * j]
    if cut_at_dash:  # the last '-' inside the field, found from the right
        is_dash = words.view(np.uint8) == _MINUS
        is_dash &= np.arange(words_n * 8) < length[:, None]
        back = np.argmax(is_dash[:, ::-1], axis=1)
        found = is_dash[np.arange(len(cs)), words_n * 8 - 1 - back]
        length = np.where(found, words_n * 8 - 1 - back, length)
    for j in range(words_n):  # keep each word's bytes inside the field only
        words[:, j] &= _WORD_MASKS[np.clip(length - 8 * j, 0, 8)]
    return words


def _directions(blk: _Block) -> np.ndarray:
    """Direction codes of a PBX's rows, as :func:`._direction.classify_asterisk` gives
    them: decided once per distinct (context, channel peer, destination channel peer,
    application, dst is a network number) - rows are grouped through one hash of those
    fields' words, checked exactly against each group's first row - and from
    ``lastdata`` only for the rare rows whose verdict depends on it."""
    n = blk.n
    fields = [_field_words(blk, 3), _field_words(blk, 5, cut_at_dash=True),
              _field_words(blk, 6, cut_at_dash=True), _field_words(blk, 7)]
    cs, ce = blk.content(2)
    length = ce - cs
    b = blk.gather(cs, max(min(int(length.max(initial=1)), _PAD), 1))
    inside = np.arange(b.shape[1]) < length[:, None]
    plus = (b[:, 0] == ord("+")) & (length > 0)
    digit = (b >= 48) & (b <= 57)
    digit[:, 0] |= plus
    long_number = np.all(digit | ~inside, axis=1) & (length - plus >= 6)
    h = long_number.astype(np.uint64)
    for f, words in enumerate(fields):
        h += (words * _HASH_WEIGHTS[f, :words.shape[1]]).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    rep = first[inverse]
    if not (all(np.array_equal(w, w[rep]) for w in fields)
            and np.array_equal(long_number, long_number[rep])):
        raise _Irregular  # a hash collision: the csv path decides
    texts = [w[first].view(f"S{w.shape[1] * 8}").reshape(-1).astype("U").tolist()
             for w in fields]
    out = np.empty(len(first), dtype=np.int8)
    dependent: list[int] = []
    for j, i in enumerate(first.tolist()):
        ctx, chan, dchan, app = (t[j] for t in texts)
        dst = "1000000" if long_number[i] else ""
        verdict = classify_asterisk(dst, ctx, chan, dchan, app, "")
        if verdict != classify_asterisk(dst, ctx, chan, dchan, app, "SIP/1@peer"):
            dependent.append(j)
        out[j] = verdict
    codes_out = out[inverse]
    if dependent:
        for i in np.flatnonzero(np.isin(inverse, dependent)).tolist():
            ctx, chan, dchan, app = (t[inverse[i]] for t in texts)
            text = blk.buf[blk.fstart[i, 8]:blk.fend[i, 8]].tobytes().decode("ascii")
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1]
            if '"' in text:
                raise _Irregular  # doubled quotes: csv knows the rules
            dst = "1000000" if long_number[i] else ""
            codes_out[i] = classify_asterisk(dst, ctx, chan, dchan, app, text)
    assert len(codes_out) == n
    return codes_out


def _word_table(codes: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted 8-byte words of the texts (up to 8 ASCII bytes) of a fixed vocabulary,
    and their codes."""
    pairs = sorted((int.from_bytes(t.encode(), "little"), c) for t, c in codes.items()
                   if t.isascii() and 0 < len(t) <= 8)
    return (np.array([p[0] for p in pairs], dtype=np.uint64),
            np.array([p[1] for p in pairs], dtype=np.int16))


def _word_codes(w: np.ndarray, table: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """Codes of label words found as written in ``table``; None if any is not (the
    caller then takes the general path, which also normalises case)."""
    known, codes = table
    i = np.minimum(np.searchsorted(known, w), len(known) - 1)
    if not np.all(known[i] == w):
        return None
    return codes[i]


_WORD_TABLES = {name: _word_table(FIXED_CODES[name])
                for name in ("answered_by", "amd", "hangup_by", "result")}
_WORD_TABLES["abandoned"] = _word_table(BOOL_CODES)


def parse_asterisk_bytes(data: bytes, first_line: int,
                         asm: Assembler) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """Raw columns and line numbers of a regular Asterisk block, or ``None``.

    Parameters
    ----------
    data
        Whole lines of the file, ending with a newline.
    first_line
        1-based line number of the first line of ``data``.
    asm
        Receives the labels of open categories (destination, userfield labels).
    """
    try:
        blk = _Block(data)
        raw: dict[str, np.ndarray] = {}
        raw["start"] = blk.times(9)
        raw["answer"] = blk.times(10)
        raw["end"] = blk.times(11)
        raw["coarse"] = np.zeros(blk.n, dtype=bool)
        for name, k in (("duration", 12), ("billsec", 13)):
            values, _ok = blk.ints(*blk.content(k))
            raw[name] = values.astype(np.float64)
        codes, labels, _ = blk.labels(*blk.content(14))
        raw["disposition"] = _coded(codes, labels, DISPOSITION_CODES)
        codes, labels, keys = blk.labels(*blk.content(2))
        raw["destination"] = asm.label_ids("destination", codes, labels, keys)
        if blk.width > 16:
            values, ok = blk.ints(*blk.content(16), strict=False)
            raw["call_id"] = np.where(ok, values, NAT)
        if blk.width > 17:
            _userfields(blk, raw, asm)
        if "lead_id" in raw:  # dialsim's own rows: every leg outbound
            raw["direction"] = np.full(blk.n, OUT, dtype=np.int8)
        else:  # a PBX's rows: the direction from channels and contexts, its uniqueids
            raw["direction"] = _directions(blk)
            raw["source_id"] = (_texts(blk, 16) if blk.width > 16
                                else np.full(blk.n, "", dtype="U1"))
    except _Irregular:
        return None
    return raw, np.arange(first_line, first_line + blk.n, dtype=np.int64)
