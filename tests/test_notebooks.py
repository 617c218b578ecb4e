"""The notebooks run top to bottom (in quick mode), and are kept without outputs.

They are documentation that executes: a notebook that breaks is a broken example. The
test sets ``DIALSIM_QUICK=1`` so each one simulates scaled-down campaigns in seconds.
One kernel serves the three notebooks (starting one costs seconds on a busy machine);
its namespace is reset before each, so none can lean on another's variables. Outputs are
stripped before committing, so diffs stay readable and nothing stale ships.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator

import pytest
from conftest import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_quick_start", "02_script_optimisation", "03_plan_comparison"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        assert "execution" not in cell.metadata


@pytest.fixture(scope="module")
def kernel() -> Iterator[object]:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    env = {**os.environ, "DIALSIM_QUICK": "1", "MPLBACKEND": "Agg"}
    km.start_kernel(env=env, cwd=str(ROOT / "notebooks"))
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, kernel):
    book = nbformat.read(path, as_version=4)
    reset = nbformat.v4.new_code_cell(f"%reset -f\nimport os\nos.chdir({str(path.parent)!r})")
    reset.id = "test-reset"
    book.cells.insert(0, reset)
    client = nbclient.NotebookClient(book, timeout=300, km=kernel,
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        if client.kc is not None:  # the kernel is shared: close this client's sockets
            client.kc.stop_channels()
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # Tables are DataFrames (rendered as HTML), not wide text printed into a stream.
    tables = [o for o in outputs if "<table" in o.get("data", {}).get("text/html", "")]
    assert len(tables) >= 3
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert all(len(line) <= 100 for line in printed.splitlines()), "a wide printed table"
    # Money reads right in every table: no e-notation.
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert not re.search(r"\d[eE][+-]\d", re.sub(r"<style.*?</style>", "", html, flags=re.S))
    # Each notebook draws at least one figure (matplotlib inline: an image/png output).
    assert any("image/png" in o.get("data", {}) for o in outputs)


#: Modules a notebook may import from dialsim: the package and its documented modules.
PUBLIC = {"sim", "sim.fmt", "sim.analysis.plots"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_only_the_public_api(path):
    book = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    code = "\n".join(line for line in code.splitlines() if not line.startswith("%"))
    used = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sim"):
            used |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in PUBLIC
                     else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            used |= {a.name for a in node.names if a.name.startswith("sim")}
    assert used <= PUBLIC, used - PUBLIC
    names = {n.attr for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Attribute)
             and isinstance(n.value, ast.Name) and n.value.id == "sim"}
    import sim

    assert names <= set(sim.__all__), names - set(sim.__all__)


def test_the_custom_plan_is_ranked_against_every_plan():
    book = nbformat.read(ROOT / "notebooks" / "03_plan_comparison.ipynb", as_version=4)
    text = "\n".join(c.source for c in book.cells)
    assert "every = [*plans, *offer]" in text and "plans[:3]" not in text
    assert "cheapest" not in text.split("A plan of your own")[1].split("\n")[0].lower()
