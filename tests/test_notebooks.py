"""Both TP notebooks execute top to bottom (tiny mode: synthetic data) and are stored without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("tp_mlp_gan.ipynb", "tp_mlp_gan_en.ipynb")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, "no code cells"
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_notebooks_follow_the_same_cells():
    french, english = (json.loads((NOTEBOOKS / n).read_text())["cells"] for n in NAMES)
    assert [c["cell_type"] for c in french] == [c["cell_type"] for c in english]
    text = "".join("".join(c["source"]) for c in french)
    for heading in ("## I.", "## II.", "## III.", "## IV.", "(Q1.1)", "(Q2.1)", "(Q3.1)", "QUICK = True"):
        assert heading in text


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("GAN_ATELIER_NB_TINY", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    code = [c for c in notebook.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # every cell that draws shows its picture inline: the real-image grid, the live training grid
    # (after the lab's experiments have trained and saved figures: no backend was switched away)
    for marker in ("show_grid(", "LoopHooks(on_epoch="):
        cell = next(c for c in code if marker in c.source)
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), marker
