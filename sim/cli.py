"""The ``dialsim`` command line: ``main(argv=None) -> int``.

Each sub-command lives in its own module under :mod:`sim.commands` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Every input error (a
:class:`~sim.errors.SimError`) is printed as one clear message and exits with code 2;
an interrupted command exits with 130. An operating-system error (a full or read-only
disk) is one line and exit code 1; so is any unexpected exception (a bug), naming the
command and its input: ``dialsim --debug COMMAND ...`` shows its traceback.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from . import __version__
from .errors import ListExhaustedWarning, SimError

__all__ = ["COMMANDS", "console", "main"]

#: Sub-command name -> module under sim.commands, in help order.
COMMANDS: dict[str, str] = {
    "run": "run",
    "validate": "validate",
    "rate": "rate",
    "compare": "compare",
    "report": "report",
    "sweep": "sweep",
    "fit": "fit",
    "audit": "audit",
    "negotiate": "negotiate",
    "optimize": "optimize",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialsim",
        description="Simulate outbound calling campaigns and price their calls under "
        "every billing plan.",
    )
    parser.add_argument("--version", action="version", version=f"dialsim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an unexpected error (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(f".commands.{module}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.commands.{module}":
                continue  # command not built yet
            raise
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dialsim`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    # A command allocates many container objects (modules, tables) and few reference
    # cycles: a collection every 700 allocations cost ~30 ms per `dialsim run`, nearly
    # all spent walking objects that live to the end anyway. Every 100,000 there is
    # none while the modules are imported (at 10,000 there were four, ~12 ms).
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 100_000), max(thresholds[1], 10), max(thresholds[2], 10))
    # dialsim does no BLAS-heavy work, and OpenBLAS's worker threads spin idle after numpy
    # is imported: ~0.1 s of CPU per command, next to the simulation on a small machine.
    # Only when numpy is not loaded yet (it reads this once), and never over the user's.
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        return _main(argv)
    finally:
        gc.set_threshold(*thresholds)


def console() -> None:
    """The ``dialsim`` program (and ``python -m sim``): :func:`main`, then exit.

    Every object is frozen out of the cyclic garbage collector before the interpreter
    shuts down: its final collection would otherwise walk all that the command built
    (~0.1 s after ``dialsim run``) only to free memory the process is returning anyway.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            if not args.debug:
                # numpy's "invalid value" / "mean of empty slice" on degenerate inputs
                # (no contacts, no answers) are not the user's business: the figures are
                # NaN ("undefined") by design. --debug shows them.
                warnings.simplefilter("ignore", RuntimeWarning)
            # the commands print their own notes about a run (sim.run also warns)
            warnings.simplefilter("ignore", ListExhaustedWarning)
            return int(args.func(args) or 0)
    except SimError as exc:
        print(f"dialsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dialsim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `dialsim ... | head`
        return 0
    except OSError as exc:  # a full or read-only disk, a vanished folder: not a bug
        if getattr(args, "debug", False):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dialsim {args.command}: error: {where}{exc.strerror or exc}"
              f"{_input_note(args)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line, the traceback only with --debug
        if getattr(args, "debug", False):
            raise
        print(f"dialsim {args.command}: internal error ({type(exc).__name__}: "
              f"{_one_line(exc)})"
              f"{_input_note(args)}; run again with --debug for the traceback",
              file=sys.stderr)
        return 1


#: Positional inputs of the sub-commands, named in the one-line report of an error.
_INPUTS = ("scenario", "cdrfile", "run_dir", "files")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 200 else line[:197] + "..."


def _input_note(args: argparse.Namespace) -> str:
    found = []
    for name in _INPUTS:
        value = getattr(args, name, None)
        if isinstance(value, list | tuple):
            found.extend(str(v) for v in value)
        elif value is not None:
            found.append(str(value))
    return f" while processing {', '.join(found)}" if found else ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
