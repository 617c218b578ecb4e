"""``dialsim validate FILE...``: check scenario (or plan) files without running anything."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import SimError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "validate", help="check scenario and plan files",
        description="Load and validate scenario files (and the plan files they name, or "
                    "plan files given directly) and report every problem found.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override applied before validating each scenario")
    p.set_defaults(func=run)


def _is_plan_file(path: Path) -> bool:
    import tomllib

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):  # the loader says why
        return False
    return "plan" in raw and "campaign" not in raw


def run(args: argparse.Namespace) -> int:
    from ..billing import load_plans
    from ..costing import load_plan_files
    from ..errors import ScenarioError
    from ..scenario import load_scenario
    from ._common import blame_set, overrides_from

    overrides = overrides_from(args.overrides)
    errors: list[str] = []
    for path in args.files:
        try:
            if _is_plan_file(path):
                plans = load_plans(path)
                print(f"{path}: ok ({len(plans)} plans: {', '.join(p.name for p in plans)})")
                continue
            try:
                scenario = load_scenario(path, overrides=overrides)
            except ScenarioError as exc:
                if not overrides:
                    raise
                load_scenario(path)  # the file alone is broken: report that
                raise blame_set(exc, path, args.overrides) from None
            if scenario.plans:
                load_plan_files(scenario.plans)
            extra = f", {len(scenario.variants)} variants" if scenario.variants else ""
            print(f"{path}: ok ({scenario.name}: {scenario.agents.count} agents, "
                  f"{scenario.list.size:,} leads, {scenario.dialer.mode}{extra})")
        except SimError as exc:
            errors.append(str(exc))
    if errors:
        raise SimError("\n".join(errors))
    return 0
