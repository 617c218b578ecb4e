"""Every example of README.md runs as pasted.

The fenced blocks are found generically, so sections added later are run too:

* a ``python`` block is saved as a script and run with ``python block.py`` (as a user
  pasting it into a file would; a sweep without its main guard would fail here);
* a block without a language, or ``sh``/``bash``/``console``/``shell``, whose lines are
  commands (``dialsim ...``, ``python ...``) is run line by line through ``sh`` (``\\``
  continues a line; ``&&`` chains). In a transcript (a block with lines starting with
  ``$ ``) only those lines are commands, and the lines after each up to the next ``$``
  must appear in its output, whatever its exit code. Other commands must exit 0;
* other blocks (TOML, output samples) are not code and are skipped;
* a block right after ``<!-- no-run: reason -->`` is skipped for that reason, which
  must be stated (use it only for placeholders of the user's own files).

Installing the package (``pip install``) and running the test suite itself
(``python -m pytest``) are left out of command chains. Everything runs in a temporary
folder holding a copy of ``scenarios/``, with ``DIALSIM_QUICK=1`` (every scenario
scaled down, see ``sim.scenario.quick``), ``dialsim`` and ``python`` on the PATH as this
checkout, and the files the README's transcripts name (``bad.toml``, ``Master.csv``).
Blocks run in README order, so a later block may use what an earlier one wrote (the
README's first command makes ``runs/baseline-001``).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

README = ROOT / "README.md"
SHELL_LANGS = {"", "sh", "bash", "console", "shell"}
COMMAND = re.compile(r"^(\$ )?(dialsim|python)\b")
FENCE = re.compile(r"^(?P<skip><!--\s*no-run:(?P<why>[^>]*)-->\s*\n)?^```(?P<lang>[\w-]*)[ \t]*\n"
                   r"(?P<body>.*?)^```[ \t]*$", re.S | re.M)
LEFT_OUT = (re.compile(r"^python -m pip install\b"), re.compile(r"^python -m pytest\b"))
TIMEOUT_S = 240


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    body: str
    skip: str | None

    @property
    def kind(self) -> str:
        if self.lang == "python":
            return "python"
        lines = [x for x in self.body.splitlines() if x.strip()]
        if self.lang in SHELL_LANGS and lines and COMMAND.match(lines[0]):
            return "shell"
        return "text"


def readme_blocks(text: str) -> list[Block]:
    out = []
    for m in FENCE.finditer(text):
        why = m.group("why")
        if m.group("skip") is not None:
            assert why and why.strip(), f"README line {text.count(chr(10), 0, m.start()) + 1}:" \
                                        " a no-run marker must say why"
        out.append(Block(line=text.count("\n", 0, m.start("body")), lang=m.group("lang"),
                         body=m.group("body"), skip=why.strip() if why else None))
    return out


def shell_steps(body: str) -> list[tuple[str, list[str] | None]]:
    """(command, expected output lines or None) for each command of a shell block."""
    joined = re.sub(r"\s*\\\n\s*", " ", body)
    steps: list[tuple[str, list[str] | None]] = []
    transcript = any(line.startswith("$ ") for line in joined.splitlines())
    for line in joined.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif COMMAND.match(line) and not transcript:
            steps.append((line, None))
        elif line.strip() and steps and steps[-1][1] is not None:
            steps[-1][1].append(line)  # type: ignore[union-attr]
        elif line.strip():
            raise AssertionError(f"not a command: {line!r}")
    return steps


def _keep(command: str) -> str:
    parts = [p.strip() for p in command.split("&&")]
    return " && ".join(p for p in parts if not any(r.match(p) for r in LEFT_OUT))


def _shim(folder: Path, name: str, target: str) -> None:
    path = folder / name
    path.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _fixtures(ws: Path, env: dict[str, str]) -> None:
    """The files the README's transcripts name, made fresh (nothing from the checkout
    but the scenarios)."""
    text = (ws / "scenarios" / "baseline.toml").read_text(encoding="utf-8")
    bad = (text.replace("count = 30", "count = -3", 1)
               .replace("[agents]\n", "[agents]\nwrapup = 10\n", 1)
               .replace('mode = "progressive"', 'mode = "predictve"', 1))
    (ws / "bad.toml").write_text(bad, encoding="utf-8")
    shutil.copytree(ws / "scenarios" / "plans", ws / "plans")  # bad.toml names them
    subprocess.run([sys.executable, "-m", "sim", "run", "scenarios/baseline.toml", "-q",
                    "--asterisk", "--out", str(ws / "_fixture")], cwd=ws, env=env,
                   check=True, capture_output=True, timeout=TIMEOUT_S)
    shutil.copy(ws / "_fixture" / "Master.csv", ws / "Master.csv")


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[str, str]]:
    """Run every block in README order; block line -> ("ok" | failure, output)."""
    ws = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "scenarios", ws / "scenarios")
    bin_dir = ws / "_bin"
    bin_dir.mkdir()
    _shim(bin_dir, "dialsim", f"{sys.executable} -m sim")
    _shim(bin_dir, "python", sys.executable)
    env = {**os.environ, "DIALSIM_QUICK": "1", "MPLBACKEND": "Agg",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    _fixtures(ws, env)
    out: dict[int, tuple[str, str]] = {}
    for b in BLOCKS:
        if b.skip is not None or b.kind == "text":
            continue
        if b.kind == "python":
            script = ws / f"readme_line{b.line}.py"
            script.write_text(b.body, encoding="utf-8")
            p = subprocess.run([sys.executable, script.name], cwd=ws, env=env,
                               capture_output=True, text=True, timeout=TIMEOUT_S)
            out[b.line] = ("ok" if p.returncode == 0 else f"exit {p.returncode}",
                           p.stdout + p.stderr)
            continue
        status, log = "ok", ""
        for command, expected in shell_steps(b.body):
            command = _keep(command)
            if not command:
                continue
            p = subprocess.run(["sh", "-c", command], cwd=ws, env=env, capture_output=True,
                               text=True, timeout=TIMEOUT_S)
            text = p.stdout + p.stderr
            log += f"$ {command}\n{text}"
            if expected is None and p.returncode != 0:
                status = f"{command!r} exited {p.returncode}"
                break
            missing = [e for e in expected or () if e.strip() not in text]
            if missing:
                status = f"{command!r}: output lacks {missing}"
                break
        out[b.line] = (status, log)
    return out


def test_the_readme_has_runnable_examples():
    kinds = [b.kind for b in BLOCKS if b.skip is None]
    assert kinds.count("python") >= 2 and kinds.count("shell") >= 3
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert len(skipped) <= 2, [b.skip for b in skipped]  # sparingly


def test_block_parsing():
    blocks = readme_blocks("x\n<!-- no-run: needs your file -->\n```\ndialsim rate a.csv \\\n"
                           "  --plans p.toml\n```\n```python\nprint(1)\n```\n```toml\na = 1\n```\n")
    assert [(b.kind, b.skip) for b in blocks] == [("shell", "needs your file"),
                                                  ("python", None), ("text", None)]
    assert shell_steps(blocks[0].body) == [("dialsim rate a.csv --plans p.toml", None)]
    assert shell_steps("$ dialsim validate x\nerror: y\n") == [("dialsim validate x",
                                                                ["error: y"])]
    assert _keep("python -m pip install -e . && dialsim run s.toml") == "dialsim run s.toml"


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind != "text" and b.skip is None],
                         ids=lambda b: f"line{b.line}-{b.kind}")
def test_readme_block_runs(block: Block, results: dict[int, tuple[str, str]]):
    status, log = results[block.line]
    assert status == "ok", f"README line {block.line}: {status}\n{log[-3000:]}"


def test_a_sweep_script_without_a_main_guard_fails_at_once_with_the_fix(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import sim\n"
        f"s = sim.load_scenario({str(ROOT / 'scenarios' / 'baseline.toml')!r})\n"
        "res = sim.sweep(s, grid={'agents.count': [2, 3]}, workers=2, plans=())\n")
    env = {**os.environ, "DIALSIM_QUICK": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert f"{script}, line 3: sim.sweep(workers=2)" in p.stderr
    assert 'if __name__ == "__main__":' in p.stderr and "workers=1" in p.stderr
    assert "keep dying" not in p.stderr and p.stderr.count("Traceback") == 1  # no workers


def test_the_guard_is_recognised(tmp_path):
    import ast

    from sim.sweeps.guard import _guards

    tree = ast.parse("import sim\nif __name__ == '__main__':\n    x = 1\n    y = 2\n"
                     "if '__main__' == __name__:\n    z = 3\n")
    assert _guards(tree) == [(2, 4), (5, 6)]
