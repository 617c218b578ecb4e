"""Refuse at once a local sweep started while ``__main__`` is being imported.

Worker processes are *spawned*: each imports the main script again. A script that calls
``sim.sweep(..., workers=N)`` at module level, outside ``if __name__ == "__main__":``,
would start the sweep again in every worker, and the workers would die one after the
other. :func:`check_main_guard` finds the script's line that led to the call and, when
it is not under such a guard, raises :class:`~sim.errors.SweepError` with the fix,
before any process starts.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType

from ..errors import SweepError

__all__ = ["check_main_guard", "unguarded_line"]


def _guards(tree: ast.AST) -> list[tuple[int, int]]:
    """Line spans of ``if __name__ == "__main__":`` blocks."""
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        t = node.test
        if (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)
                and {type(t.left), type(t.comparators[0])} == {ast.Name, ast.Constant}):
            names = {getattr(t.left, "id", None), getattr(t.comparators[0], "id", None)}
            values = {getattr(t.left, "value", None), getattr(t.comparators[0], "value", None)}
            if "__name__" in names and "__main__" in values:
                spans.append((node.lineno, node.end_lineno or node.lineno))
    return spans


def unguarded_line(frame: FrameType | None) -> tuple[str, int] | None:
    """``(script, line)`` when the call stack of ``frame`` passes through the main
    script's module-level code outside a ``__main__`` guard; else None."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None  # an interactive session or a notebook: workers do not re-run it
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is not None and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        return None  # `python -m package`: multiprocessing does not re-run its __main__
    while frame is not None:
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            try:
                tree = ast.parse(Path(path).read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                return None
            line = frame.f_lineno
            if any(lo <= line <= hi for lo, hi in _guards(tree)):
                return None
            return str(path), line
        frame = frame.f_back
    return None


def check_main_guard(workers: int) -> None:
    """Raise :class:`SweepError` if local workers would re-run an unguarded script."""
    if workers <= 1:
        return
    found = unguarded_line(sys._getframe(1))
    if found is None:
        return
    path, line = found
    raise SweepError(
        f"{path}, line {line}: sim.sweep(workers={workers}) runs while the script is being "
        "imported, and every worker process imports it again (workers are spawned), so "
        "each would start the sweep anew. Put the script's code under\n"
        '    if __name__ == "__main__":\n'
        "(see scenarios/sweep_example.py), or pass workers=1 to run in this process.")
