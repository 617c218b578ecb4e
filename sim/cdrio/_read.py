"""Reading CDR files: format detection, the parsers and the import report
(:func:`read_cdrs`; the formats are described in :mod:`sim.cdrio`)."""

from __future__ import annotations

import csv
import difflib
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from ..cdr import COLUMNS, DIRECTIONS
from ..errors import CDRFormatError
from ._build import Assembler, RowChecks, derive
from ._checks import check_billsec, field_labels
from ._direction import (
    ASTERISK_ROLES,
    FREESWITCH_ROLES,
    OUT,
    DirectionRule,
    Selection,
    header_roles,
    parse_where,
)
from ._fastast import parse_asterisk_bytes
from ._fields import (
    ASTERISK_FIELDS,
    DISPOSITION_CODES,
    FREESWITCH_FIELDS,
    OPEN_CATEGORIES,
    cause_kind,
    normalise_label,
    unescape_label,
)
from ._options import option
from ._parquet import is_parquet, read_parquet
from ._readers import (
    MAPPABLE,
    AsteriskConverter,
    FreeSwitchConverter,
    HeaderConverter,
    Raw,
    column,
)
from ._report import CDRImport, ImportReport, Rejections
from ._sidecar import read_sidecar
from ._text import Block, gc_paused, iter_blocks, read_head
from ._values import NO_OFFSET, get_zone, parse_times

__all__ = ["PRESETS", "read_cdrs"]

ReadFormat = Literal["auto", "native", "asterisk", "freeswitch", "mapped", "parquet"]
_READ_FORMATS = ("auto", "native", "asterisk", "freeswitch", "mapped", "parquet")
Direction = Literal["outbound", "inbound", "internal", "all"]
_DIRECTION_CHOICES = ("outbound", "inbound", "internal", "all")
#: Headers (folded) that hold an export's own call id, in order of preference: a row
#: id first (PBX table dumps' AcctId), then the switch's call ids.
_ID_HEADERS = ("acctid", "uniqueid", "uuid", "callid", "call_id", "id")

#: Header layouts recognised without a mapping: name -> {our column: header}.
PRESETS: dict[str, dict[str, str]] = {
    "Grandstream UCM CDR export": {
        "start": "Start Time", "answer": "Answer Time", "end": "End Time",
        "duration": "Call Time", "billsec": "Talk Time", "disposition": "Disposition",
        "destination": "Callee Number",
    },
    "Asterisk CDR table (start/answer/end)": {
        "start": "start", "answer": "answer", "end": "end", "duration": "duration",
        "billsec": "billsec", "disposition": "disposition", "destination": "dst",
    },
    "Asterisk CDR table dump (PBXware, FreePBX)": {
        "start": "calldate", "duration": "duration", "billsec": "billsec",
        "disposition": "disposition", "destination": "dst",
    },
}
_NATIVE_CORE = {"start", "disposition", "billsec"}
#: Parse regular Asterisk blocks from bytes with numpy (tests switch it off to check
#: that the csv path gives the same table).
_FAST_PATH = True


# -- detection -------------------------------------------------------------------------
def _csv_fields(text: str) -> list[str]:
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return []


def _is_ts(text: str, empty_ok: bool = False) -> bool:
    if not text.strip():
        return empty_ok
    return not parse_times([text]).bad[0]


def _is_int(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _asterisk_row(f: list[str]) -> bool:
    return (len(f) >= 16 and _is_ts(f[9]) and _is_ts(f[10], True) and _is_ts(f[11], True)
            and _is_int(f[12]) and _is_int(f[13])
            and (normalise_label(f[14]) in DISPOSITION_CODES
                 or cause_kind(f[14], known_only=True) >= 0))


def _freeswitch_row(f: list[str]) -> bool:
    return (len(f) >= 13 and _is_ts(f[4]) and _is_ts(f[5], True) and _is_ts(f[6], True)
            and _is_int(f[7]) and _is_int(f[8]) and cause_kind(f[9]) >= 0)


def _looks_like_header(f: list[str]) -> bool:
    filled = [x for x in f if x.strip()]
    if not filled or any(_is_ts(x) for x in filled):
        return False
    wordy = sum(any(c.isalpha() for c in x) and not _is_int(x) for x in filled)
    return wordy * 2 >= len(filled)


def _fold(name: str) -> str:
    return "".join(name.split()).casefold()


def _preset_for(headers: list[str]) -> tuple[str, dict[str, str]] | None:
    folded = {_fold(h) for h in headers}
    for name, mapping in PRESETS.items():
        if all(_fold(h) in folded for h in mapping.values()):
            return name, mapping
    return None


def _nearest_preset(headers: list[str]) -> tuple[str, dict[str, str]] | None:
    """The preset most of whose headers the file has (at least half), with only the
    entries whose header is present: the base that a partial mapping overrides."""
    folded = {_fold(h) for h in headers}
    best: tuple[int, str, dict[str, str]] | None = None
    for name, mapping in PRESETS.items():
        present = {k: v for k, v in mapping.items() if _fold(v) in folded}
        if 2 * len(present) >= len(mapping) and (best is None or len(present) > best[0]):
            best = (len(present), name, present)
    return None if best is None else (best[1], best[2])


def _shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters for a one-line message."""
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(line_no: int, text: str) -> str:
    fields = _csv_fields(text)
    shown = text if len(text) <= 100 else text[:100] + "..."
    return f"line {line_no} has {len(fields)} fields: {shown!r}"


def _refuse_binary(path: Path, content: list[tuple[int, str]]) -> None:
    """Raise :class:`CDRFormatError` if one of the opening lines holds a control
    character (NUL, ESC, ...; a tab is text): a binary file, not a CSV text export."""
    for no, text in content[:5]:
        if any(c < " " and c != "\t" for c in text):
            raise CDRFormatError(f"{path}:{no}: not a CSV text file (binary data, control "
                                 "characters on this line); expected a CDR export")


def check_text_file(path: str | Path) -> None:
    """Raise :class:`CDRFormatError` unless ``path`` is a readable text file (not missing,
    not a folder, not binary): what any CSV reader needs before it looks at a header."""
    path = Path(path)
    if path.is_dir():
        raise CDRFormatError(f"{path}: is a folder, not a CDR file")
    if not path.is_file():
        raise CDRFormatError(f"{path}: no such file")
    _refuse_binary(path, split_head(path)[1])


def _detect(path: Path, content: list[tuple[int, str]]) -> str:
    if not content:
        raise CDRFormatError(f"{path}: empty file: no header and no CDR rows to detect a "
                             f"format from (name one with {option('format')} to read it anyway)")
    _refuse_binary(path, content)
    first_no, first = content[0]
    fields = _csv_fields(first)
    names = {f.strip() for f in fields}
    if _NATIVE_CORE <= names and (len(names & {c.name for c in COLUMNS}) >= 8
                                  or names <= set(MAPPABLE)):
        return "native"
    if _looks_like_header(fields):
        if _preset_for(fields) is not None:
            return "mapped"
        raise CDRFormatError(
            f"{path}:{first_no}: a CSV with a header ({_shorten(', '.join(fields[:12]))}"
            f"{', ...' if len(fields) > 12 else ''}) that matches no known export; "
            "map our columns to its headers, e.g. --map start='Start Time' --map "
            "disposition=Status --map billsec=Billsec / mapping={'start': 'Start Time', "
            "'disposition': 'Status', 'billsec': 'Billsec'}")
    rows = [_csv_fields(t) for _, t in content[:20]]
    scores = {"asterisk": sum(map(_asterisk_row, rows)),
              "freeswitch": sum(map(_freeswitch_row, rows))}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] == 0:
        raise CDRFormatError(
            f"{path}: cannot tell the CDR format: {_describe(first_no, first)}. Expected "
            "one of: native CSV (header call_id,lead_id,...,start,...); Asterisk Master.csv "
            "(16-21 fields, start time in field 10, disposition in field 15); FreeSWITCH "
            "cdr_csv example template (15 fields, start_stamp in field 5, hangup_cause in "
            f"field 10); or a CSV with a header and a mapping ({option('mapping')}). Name "
            f"one with {option('format')} to force it and see the rejected rows.")
    return best


# -- header CSVs -----------------------------------------------------------------------
def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Header names (folded) that often hold one of our needed columns.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "disposition": ("disposition", "status", "callstatus", "result", "outcome"),
    "hangup_cause": ("hangupcause", "hangup_cause", "cause", "q850"),
    "start": ("start", "starttime", "calldate", "start_stamp", "date", "begin", "time"),
    "end": ("end", "endtime", "end_stamp", "stop"),
    "answer": ("answer", "answertime", "answer_stamp"),
    "duration": ("duration", "calltime", "length"),
    "billsec": ("billsec", "talktime", "billable", "billed", "talk"),
}


def _candidates(need: str, headers: list[str]) -> str:
    """`` (did you mean --map need=Header?)`` from the file's headers, or ''."""
    folded = {_fold(h).replace("_", ""): h for h in headers}
    found: list[str] = []
    for ours in need.split("|"):
        for name in _SYNONYMS.get(ours, (ours,)):
            key = name.replace("_", "")
            hits = [folded[key]] if key in folded else [
                folded[k] for k in difflib.get_close_matches(key, list(folded), n=1,
                                                             cutoff=0.75)]
            for h in hits:
                text = f"--map {ours}={h!r}" if " " in h else f"--map {ours}={h}"
                if text not in found:
                    found.append(text)
    return f" (did you mean {' or '.join(found[:3])}?)" if found else ""


def _resolve(path: Path, mapping: Mapping[str, str], headers: list[str],
             header_line: int) -> dict[str, int]:
    positions: dict[str, int] = {}
    problems: list[str] = []
    exact = {h: i for i, h in reversed(list(enumerate(headers)))}
    folded = {_fold(h): i for i, h in reversed(list(enumerate(headers)))}
    for ours, theirs in mapping.items():
        if ours not in MAPPABLE:
            problems.append(f"mapping: {ours!r} is not a column we can import"
                            f"{_suggest(ours, list(MAPPABLE))}; mappable: {', '.join(MAPPABLE)}")
            continue
        i = exact.get(theirs, folded.get(_fold(theirs)))
        if i is None:
            problems.append(f"mapping: {ours}={theirs!r}: no such column in the header "
                            f"(line {header_line}){_suggest(theirs, headers)}; columns: "
                            f"{', '.join(headers)}")
            continue
        positions[ours] = i
    have = set(positions)
    if not have & {"disposition", "hangup_cause"}:
        problems.append("mapping: needs 'disposition' (ANSWERED / NO ANSWER / BUSY / FAILED) "
                        "or 'hangup_cause' to know which calls were answered (billsec "
                        "cannot tell: an IVR may answer an unanswered call)"
                        + _candidates("disposition|hangup_cause", headers))
    if "start" not in have and not {"end", "duration"} <= have:
        problems.append("mapping: needs 'start' (or 'end' and 'duration')"
                        + _candidates("start", headers))
    if not have & {"billsec", "talk_s"} and not {"answer", "end"} <= have:
        problems.append("mapping: needs 'billsec' or 'talk_s' (or 'answer' and 'end') "
                        "to know the billed time" + _candidates("billsec", headers))
    if "end" not in have and "duration" not in have:
        problems.append("mapping: needs 'end' or 'duration' to know when calls ended"
                        + _candidates("end|duration", headers))
    if problems:
        raise CDRFormatError(f"{path}: cannot read it as a mapped CSV:\n  "
                             + "\n  ".join(problems), problems)
    return positions


def _comment_meta(lines: list[tuple[int, str]]) -> dict[str, str]:
    """``# key=value`` lines before the header."""
    meta: dict[str, str] = {}
    for _, text in lines:
        body = text.lstrip("#").strip()
        key, sep, value = body.partition("=")
        if sep and key.strip() and " " not in key.strip():
            meta[key.strip()] = value.strip()
    return meta


def _json(text: Any, what: str, rej: Rejections) -> Any:
    if not isinstance(text, str):  # absent, or already parsed (from the sidecar)
        return text
    try:
        return json.loads(text)
    except ValueError:
        rej.note(f"'# {what}=' line is not valid JSON: ignored")
        return None


# -- reading ---------------------------------------------------------------------------
def _fixed_zone(offset_min: int) -> str | None:
    if offset_min == 0:
        return "UTC"
    if offset_min % 60 == 0 and abs(offset_min) <= 14 * 60:
        return f"Etc/GMT{-offset_min // 60:+d}"  # POSIX sign: Etc/GMT-8 is UTC+08:00
    return None


@dataclass(slots=True)
class _Setup:
    """How to read the body of a file, decided from its first lines."""

    converter: Any
    zone: ZoneInfo
    first_line: int = 1
    epoch: str | None = None
    vocabularies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    transforms: dict[str, Callable[[str], str]] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    #: Direction from the file's fields (None: the converter gives it, native files).
    rule: DirectionRule | None = None
    #: The file's own column names (for --where) and where they come from.
    names: tuple[str, ...] = ()
    names_from: str = ""
    #: Field holding the export's own call id (None: the call_id is the id).
    id_field: int | None = None


def _clean_label(text: str) -> str:
    return "" if text.strip() in _MISSING_LABELS else text.strip()


def _setup_header(path: Path, fmt: str, mapping: Mapping[str, str] | None,
                  content: list[tuple[int, str]], file_meta: dict[str, Any],
                  tz: str | None, rej: Rejections, asm: Assembler) -> _Setup:
    """Native and mapped files: header, column positions, zone, epoch, labels."""
    if not content:
        raise CDRFormatError(f"{path}: no header line (expected a CSV header)")
    _refuse_binary(path, content)
    header_no, header_text = content[0]
    headers = [h.strip() for h in _csv_fields(header_text)]
    if fmt == "native":
        positions = {h: i for i, h in enumerate(headers) if h in MAPPABLE}
        if not _NATIVE_CORE <= set(positions):
            raise CDRFormatError(
                f"{path}:{header_no}: not a native CDR header: needs at least "
                f"{', '.join(sorted(_NATIVE_CORE))} (found {_shorten(', '.join(headers[:12]))})")
        missing = [c.name for c in COLUMNS if c.name not in positions
                   and c.name != "direction"]  # absent: dialsim's own, outbound
        if missing:
            rej.note(f"native columns absent, defaults used: {', '.join(missing)}")
    else:
        if mapping is None:
            found = _preset_for(headers)
            if found is None:
                raise CDRFormatError(
                    f"{path}:{header_no}: mapped format needs a mapping (--map "
                    f"COLUMN=HEADER / mapping={{COLUMN: HEADER}}); the header has: "
                    f"{', '.join(headers)}")
            preset, mapping = found
            rej.note(f"header recognised as {preset}: mapped "
                     + ", ".join(f"{k}={v!r}" for k, v in mapping.items()))
        else:
            near = _nearest_preset(headers)
            if near is not None and set(near[1]) - set(mapping):
                preset, base = near
                kept = {k: v for k, v in base.items() if k not in mapping}
                rej.note(f"header recognised as {preset}: the mapping given overrides "
                         f"{', '.join(mapping)}; kept from the preset: "
                         + ", ".join(f"{k}={v!r}" for k, v in kept.items()))
                mapping = {**kept, **mapping}
        positions = _resolve(path, mapping, headers, header_no)
    zone_name = tz or file_meta.get("tz")
    if zone_name is None and "start" in positions:
        # no zone named: a UTC offset written in the first row gives a fixed zone
        for _, text in content[1:2]:
            f = _csv_fields(text)
            if len(f) > positions["start"]:
                t = parse_times([f[positions["start"]]])
                if not t.bad[0] and t.offset_min[0] != NO_OFFSET:
                    zone_name = _fixed_zone(int(t.offset_min[0]))
                    if zone_name:
                        rej.note(f"no time zone given: the file's UTC offset "
                                 f"({int(t.offset_min[0]):+d} min) read as {zone_name}")
    zone = _zone_or_utc(zone_name, rej)
    used_map = {k: headers[i] for k, i in positions.items()}
    roles: dict[str, int] = {}
    if fmt == "mapped":
        roles = header_roles(headers)
        if "direction" in positions:  # read by the direction rule, tolerant of labels
            roles["label"] = positions.pop("direction")
    setup = _Setup(HeaderConverter(zone, asm, positions, headers, header_no), zone,
                   first_line=header_no + 1, mapping=used_map,
                   names=tuple(headers), names_from=f"the header (line {header_no}) has")
    used = set(positions.values())
    if fmt == "mapped":
        setup.rule = DirectionRule(roles)
        folded = [_fold(h).replace("_", "") for h in headers]
        for name in _ID_HEADERS:
            if name.replace("_", "") in folded:
                setup.id_field = folded.index(name.replace("_", ""))
                break
        if roles:
            rej.note("direction of each leg told from: "
                     + ", ".join(dict.fromkeys(headers[i] for i in roles.values())))
        if setup.id_field is not None:
            rej.note(f"the export's own call id: column {headers[setup.id_field]!r}")
        used |= set(roles.values())
        if setup.id_field is not None:
            used.add(setup.id_field)
    ignored = [h for i, h in enumerate(headers) if i not in used]
    if ignored:
        rej.note(f"{len(ignored)} columns not used, ignored: "
                 + ", ".join(ignored[:15]) + (", ..." if len(ignored) > 15 else ""))
    if fmt == "mapped":
        setup.transforms = {name: _clean_label for name in OPEN_CATEGORIES}
        return setup
    for name in OPEN_CATEGORIES:
        vocab = _json(file_meta.get(f"categories.{name}"), f"categories.{name}", rej)
        if isinstance(vocab, list) and all(isinstance(v, str) for v in vocab):
            setup.vocabularies[name] = tuple(vocab)
        written = file_meta.get(f"written_as.{name}")  # labels with a line break
        if written:
            setup.transforms[name] = functools.partial(_written_as, written)
    if "epoch" in file_meta and (tz is None or tz == file_meta.get("tz")):
        try:
            setup.epoch = str(np.datetime64(file_meta["epoch"], "s"))
        except ValueError:
            rej.note(f"epoch of the file not a datetime ({file_meta['epoch']!r}): "
                     "epoch taken from the first call")
    return setup


def _written_as(table: Mapping[str, str], text: str) -> str:
    return table.get(text, text)


def _zone_or_utc(zone_name: str | None, rej: Rejections) -> ZoneInfo:
    if zone_name is None:
        rej.note("no time zone in the file or options: wall-clock times kept as written "
                 f"and labelled UTC (give {option('tz', 'Area/City')} to name the zone)")
    return get_zone(zone_name or "UTC")


def split_head(path: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The head of a file as (leading ``#`` comment lines, the first content lines),
    each ``(line number, text)``; blank lines are skipped."""
    comments: list[tuple[int, str]] = []
    content: list[tuple[int, str]] = []
    for no, text in read_head(path):
        if not content and text.startswith("#"):
            comments.append((no, text))
        elif text.strip():
            content.append((no, text))
    return comments, content


def read_cdrs(path: str | Path, *, format: ReadFormat = "auto",
              mapping: Mapping[str, str] | None = None, strict: bool = False,
              tz: str | None = None, direction: Direction = "outbound",
              where: Sequence[str] = ()) -> CDRImport:
    """Read a CDR file into a :class:`~sim.cdr.CDRTable` with an import report.

    Parameters
    ----------
    path
        The file.
    format
        ``"auto"`` (detected from the first lines), ``"native"``, ``"asterisk"``,
        ``"freeswitch"`` or ``"mapped"``.
    mapping
        Our column name -> header name in the file (implies ``"mapped"``). On a
        recognised export a partial mapping overrides single columns of the preset.
    strict
        Raise :class:`~sim.errors.CDRFormatError` at the first rejected row.
    tz
        IANA zone of the file's wall-clock times (and of the resulting table);
        default: see the module docstring.
    direction
        Legs kept: ``"outbound"`` (default: what a carrier bills; rows whose direction
        cannot be told are kept too, with a warning), ``"inbound"``, ``"internal"``
        or ``"all"``. How each row's direction is told: :mod:`._direction`.
    where
        ``"COLUMN=VALUE"`` / ``"COLUMN!=VALUE"`` terms on the file's own column names
        (its header; for Asterisk and FreeSWITCH files the field names of
        :data:`._fields.ASTERISK_FIELDS` / ``FREESWITCH_FIELDS``); a row must match
        all. Values are compared as text, trimmed.

    Returns
    -------
    CDRImport
        ``.cdrs`` the accepted and selected rows, ``.report`` the account of every row
        (rows read = accepted + rejected + excluded), ``.source_line`` and
        ``.source_id`` of each row.

    Raises
    ------
    CDRFormatError
        The file cannot be read as a whole (missing, empty, undetectable format, header
        without the needed columns, unknown zone), or a row was rejected under
        ``strict``. The message names the file, line, column, what was expected and
        what was found.
    """
    path = Path(path)
    if direction not in _DIRECTION_CHOICES:
        raise CDRFormatError(f"direction: must be one of {', '.join(_DIRECTION_CHOICES)} "
                             f"(got {direction!r})")
    if format not in _READ_FORMATS:
        raise CDRFormatError(f"format: must be one of {', '.join(_READ_FORMATS)} "
                             f"(got {format!r})")
    if mapping is not None:
        if format not in ("auto", "mapped"):
            raise CDRFormatError(f"{path}: a mapping ({option('mapping')}) reads a header "
                                 f"CSV ({option('format', 'mapped')}), not format {format!r}")
        format = "mapped"
    if path.is_dir():
        raise CDRFormatError(f"{path}: is a folder, not a CDR file")
    if format == "parquet" or (format == "auto" and is_parquet(path)):
        return read_parquet(path, direction=direction, where=where, tz=tz)
    rej = Rejections(str(path), strict)
    comments, content = split_head(path)
    fmt: str = _detect(path, content) if format == "auto" else format
    file_meta: dict[str, Any] = {}
    if fmt == "native":  # old files: '# key=value' lines; the sidecar wins over them
        file_meta.update(_comment_meta(comments))
        file_meta.update(read_sidecar(path, rej))
    asm = Assembler()
    if fmt in ("native", "mapped"):
        setup = _setup_header(path, fmt, mapping, content, file_meta, tz, rej, asm)
    else:
        zone = _zone_or_utc(tz, rej)
        if fmt == "asterisk":
            setup = _Setup(AsteriskConverter(zone, asm, rej.tally), zone, transforms={
                name: unescape_label for name in ("stage", "number_type", "segment")},
                rule=DirectionRule(ASTERISK_ROLES), names=ASTERISK_FIELDS, id_field=16,
                names_from="Asterisk cdr_csv fields are")
        else:
            setup = _Setup(FreeSwitchConverter(zone, asm, rej.tally), zone,
                           rule=DirectionRule(FREESWITCH_ROLES), names=FREESWITCH_FIELDS,
                           id_field=10, names_from="FreeSWITCH cdr_csv fields are")
    selection = Selection(direction, parse_where(str(path), where, setup.names,
                                                 setup.names_from))

    fast = None
    if fmt == "asterisk" and _FAST_PATH and not selection.where:
        def fast(data: bytes, first_no: int) -> Any:
            parsed = parse_asterisk_bytes(data, first_no, asm)
            return None if parsed is None else (parsed, len(parsed[1]))
    labels = field_labels(fmt, setup.mapping)
    with gc_paused():  # rows of strings hold no cycles: see gc_paused
        for block in iter_blocks(path, rej, setup.first_line, fast=fast):
            if isinstance(block, Block):
                if not block.rows:
                    rej.check_strict()
                    continue
                checks = RowChecks(block.lines, rej)
                rows: list[list[str]] | None = block.rows
                raw: Raw = setup.converter(block.rows, checks)
                if setup.rule is not None:
                    raw["direction"] = setup.rule(block.rows)
                if setup.id_field is not None:
                    raw["source_id"] = np.array(
                        column(block.rows, setup.id_field, 0), dtype=object)
                elif fmt != "native":  # the file has no call id of its own
                    raw["source_id"] = np.full(len(block.rows), "", dtype=object)
            else:  # parsed by the fast path (direction and source ids included)
                raw, lines = block
                rows = None
                checks = RowChecks(lines, rej)
                if "source_id" not in raw:  # dialsim's own: its call ids
                    raw["source_id"] = raw["call_id"].astype(object)
            del block
            check_billsec(raw, checks, setup.zone, labels)  # before derive fills gaps
            derive(raw, checks, rej)
            if "direction" not in raw:  # native without a direction column: dialsim's
                raw["direction"] = np.full(len(checks.lines), OUT, dtype=np.int8)
            raw["direction"] = np.where(raw["direction"] < 0, OUT, raw["direction"]
                                        ).astype(np.int8)
            raw["source_line"] = checks.lines.astype(np.int64)
            keep = selection.keep(raw["direction"], rows, ~checks.bad)
            asm.add(raw, keep)
            rej.check_strict()

    meta: dict[str, Any] = {}
    if fmt == "native":
        loaded = _json(file_meta.get("meta"), "meta", rej)
        if isinstance(loaded, dict):
            meta.update(loaded)
    meta.update(source=str(path), source_format=fmt)
    table = asm.finish(tz=setup.zone.key, epoch=setup.epoch, meta=meta,
                       vocabularies=setup.vocabularies, transforms=setup.transforms,
                       number_is_destination=fmt != "native")
    rejected = rej.sorted()
    excluded = tuple(selection.excluded.items())
    warnings: list[str] = []
    if selection.unknown_kept:
        readable = int(selection.seen.sum())
        what = ("this file carries nothing that tells a leg's direction (no trunk, "
                "channel, context or direction column)"
                if setup.rule is not None and not setup.rule.can_tell else
                "its trunk, channel and context fields decide nothing for them")
        warnings.append(
            f"direction cannot be told for {selection.unknown_kept:,} of {readable:,} rows "
            f"({what}): they are priced as if outbound, which overstates the bill if they "
            "include inbound or internal legs; select rows with --where COLUMN=VALUE "
            "or map a direction column (--map direction=HEADER)")
    source_line = asm.column("source_line")
    source_id = asm.column("source_id")
    if fmt == "native" or source_id is None:
        source_id = table["call_id"].copy()
    report = ImportReport(str(path), fmt, asm.n + len(rejected) + selection_total(excluded),
                          asm.n, rejected, rej.notes(), tuple(setup.mapping.items()),
                          table.tz, table.epoch, excluded=excluded,
                          directions=tuple((lab, int(k)) for lab, k in
                                           zip(DIRECTIONS, selection.seen, strict=True) if k),
                          selected=direction, warnings=tuple(warnings))
    return CDRImport(table, report,
                     np.zeros(0, np.int64) if source_line is None else source_line,
                     source_id)


def selection_total(excluded: tuple[tuple[str, int], ...]) -> int:
    """Rows excluded in all."""
    return sum(n for _, n in excluded)


_MISSING_LABELS = frozenset({"", "NULL", "null", "Null", "\\N", "None"})
