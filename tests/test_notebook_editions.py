"""The four notebooks: one source per code cell, the student edition's shape, and three executions.

The slow tests run the student notebook (tiny synthetic data) with the TP's solutions filled in
(every check cell passes) and with one bug filled in (its check cell names it), and run the setup
cell in a fresh virtual environment that installs the package from a locally built wheel.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
builder = importlib.import_module("build_notebooks")

PAIRS = {"instructor": ("tp_mlp_gan.ipynb", "tp_mlp_gan_en.ipynb"),
         "student": ("tp_mlp_gan_etudiant.ipynb", "tp_mlp_gan_student.ipynb")}
_PLACEHOLDER = re.compile(r"^([ \t]*)# TODO \(([\w-]+)\):[^\n]*\n[ \t]*raise NotImplementedError\(\"TODO \(\2\)\"\)\n?",
                          re.M)


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code_tokens(source: str) -> list[tuple[int, str]]:
    """The code's tokens without comments and string contents: what translation may not change."""
    prose = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in prose]


def fill(source: str, overrides: dict[str, str] | None = None, language: str = "fr") -> str:
    """A student cell with each TODO placeholder replaced by its solution (or by ``overrides``)."""
    solutions = {**builder.solutions(language), **(overrides or {})}
    return _PLACEHOLDER.sub(lambda match: solutions[match.group(2)], source)


def test_notebooks_on_disk_are_the_builders_output():
    for (edition, language), name in builder.NOTEBOOKS.items():
        built = builder.build(edition, language)
        stored = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
        assert [_text(c) for c in stored["cells"]] == [c.source for c in built.cells], \
            f"{name} is stale: run python notebooks/build_notebooks.py"


@pytest.mark.parametrize("edition", list(PAIRS))
def test_code_cells_have_one_source_only_prose_translated(edition):
    french, english = (_cells(name) for name in PAIRS[edition])
    assert [(c["cell_type"], c["metadata"].get("tags")) for c in french] == \
        [(c["cell_type"], c["metadata"].get("tags")) for c in english]
    for fr_cell, en_cell in zip(french, english):
        if fr_cell["cell_type"] == "code":
            assert _code_tokens(_text(fr_cell)) == _code_tokens(_text(en_cell)), _text(fr_cell)[:200]
    assert not [c for c in french + english if "⟨" in _text(c) or "‖" in _text(c)]


@pytest.mark.parametrize("name", [n for pair in PAIRS.values() for n in pair])
def test_every_edition_starts_with_the_setup_cell_and_has_the_2d_section(name):
    cells = _cells(name)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code[0]["metadata"].get("tags") == ["setup"]
    setup = _text(code[0])
    assert setup.count("PACKAGE_SOURCE = ") == 1 and "data\", \"fetch\"" in setup and "cuda" in setup
    toy = [c for c in code if "toy2d" in c["metadata"].get("tags", [])]
    assert len(toy) == 1 and "from gan_atelier.toy2d import run_scenario" in _text(toy[0]) and "run_scenario(\"mode-collapse\"" in _text(toy[0])
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("name", PAIRS["student"])
def test_student_edition_has_todos_checks_answers_and_experiments(name):
    cells = _cells(name)
    tags = [c["metadata"].get("tags", []) for c in cells]
    todos = [i for i, t in enumerate(tags) if "todo" in t]
    assert len(todos) == 3  # Generator, Discriminator, train_gan (its D step and G step)
    for index in todos:
        assert "check" in tags[index + 1], _text(cells[index])[:80]
        assert "raise NotImplementedError(\"TODO (" in _text(cells[index])
    assert "D(fake_images.detach())" not in "".join(_text(c) for c in cells)  # the answers are not given
    questions = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                 and re.search(r"^### (Question|\d\. )", _text(c), re.M)]
    assert len(questions) == 7
    for index in questions:
        assert _text(cells[index + 1]) in ("*Votre réponse :*", "*Your answer:*")
    assert sum("experiment" in t for t in tags) == 8  # the seven lab experiments and the 2-D scenario


@pytest.mark.parametrize("language", [0, 1])
def test_student_experiment_cells_are_the_instructors(language):
    """What lets the student executions below leave them out: test_notebooks.py runs these very cells."""
    instructor, student = (_cells(PAIRS[edition][language]) for edition in ("instructor", "student"))
    shared = [_text(c) for c in instructor if "experiment" in c["metadata"].get("tags", [])]
    assert shared == [_text(c) for c in student if "experiment" in c["metadata"].get("tags", [])]


def test_filling_the_solutions_gives_back_the_tps_code():
    student = "".join(_text(c) for c in _cells("tp_mlp_gan_etudiant.ipynb") if c["cell_type"] == "code")
    filled = fill(student)
    assert "NotImplementedError" not in filled
    for line in ("D_fake_pred = D(fake_images.detach())", "G_loss = criterion(G_pred, real_labels)",
                 "nn.Linear(256, 1)", "nn.Sigmoid()", "D_optimizer.zero_grad()", "G_optimizer.step()"):
        assert line in filled


def _execute(notebook, tmp_path: Path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("GAN_ATELIER_NB_TINY", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()


def _student(name: str, overrides: dict[str, str] | None = None, drop_tag: str | None = None):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    language = "fr" if name == PAIRS["student"][0] else "en"
    if drop_tag:
        notebook.cells = [c for c in notebook.cells if drop_tag not in c.metadata.get("tags", [])]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = fill(cell.source, overrides, language)
    return notebook


@pytest.mark.slow
def test_student_notebook_with_the_solutions_passes_every_check(tmp_path, monkeypatch):
    # The experiment cells are left out: they are the same source as the instructor edition's,
    # which test_notebooks.py executes (with them, this test took 136 s instead of ~20 s).
    notebook = _student("tp_mlp_gan_etudiant.ipynb", drop_tag="experiment")
    _execute(notebook, tmp_path, monkeypatch)
    checks = [c for c in notebook.cells if "check" in c.metadata.get("tags", [])]
    printed = "".join(o.get("text", "") for c in checks for o in c.outputs)
    assert printed.count("✓ check_") == 5 and "✗" not in printed
    trained = next(c for c in notebook.cells if "train" in c.metadata.get("tags", []))
    assert any("image/png" in o.get("data", {}) for o in trained.outputs)


@pytest.mark.slow
def test_student_notebook_with_a_bug_names_it_in_its_check_cell(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    buggy = builder.solutions("en")["d-step"].replace("D(fake_images.detach())", "D(fake_images)")
    notebook = _student("tp_mlp_gan_student.ipynb", {"d-step": buggy}, drop_tag="experiment")
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        _execute(notebook, tmp_path, monkeypatch)
    executed = [c for c in notebook.cells if c.cell_type == "code" and c.get("execution_count")]
    failing = executed[-1]
    assert "check" in failing.metadata["tags"] and "check_d_step(train_gan" in failing.source
    error = next(o for o in failing.outputs if o["output_type"] == "error")
    assert error["ename"] == "CheckFailed"
    shown = "\n".join(error["traceback"])  # what the student sees: the message, no traceback
    assert "✗ check_d_step: 1 mistake(s)" in shown and "no .detach()" in shown and "File " not in shown
    earlier = "".join(o.get("text", "") for c in executed[:-1] for o in c.outputs)
    assert "✓ check_generator" in earlier and "✓ check_discriminator" in earlier


def _shared_dependencies(target: Path) -> Path:
    """The shared environment's site-packages minus gan-atelier itself, as a folder of links."""
    import torch  # any installed dependency tells where site-packages is

    site = Path(torch.__file__).resolve().parent.parent
    target.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(("gan_atelier", "__editable__", "_gan_atelier")) and entry.suffix != ".pth":
            (target / entry.name).symlink_to(entry)
    return target


@pytest.mark.slow
def test_setup_cell_installs_the_package_from_a_local_wheel_in_a_fresh_venv(tmp_path):
    from conftest import write_idx_dataset

    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, env=env, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("gan_atelier-*.whl")

    # A fresh venv: no gan_atelier; its dependencies (torch…) and pip come from the shared
    # environment through a .pth, so nothing is downloaded (PIP_NO_INDEX) and pip resolves them.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "shared-dependencies.pth").write_text(str(_shared_dependencies(tmp_path / "deps")) + "\n")
    probe = "import importlib.util; print(importlib.util.find_spec('gan_atelier'))"
    assert subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True,
                          env=env, cwd=tmp_path).stdout.strip() == "None"

    setup = next(_text(c) for c in _cells("tp_mlp_gan_student.ipynb") if c["metadata"].get("tags") == ["setup"])
    setup = setup.replace('PACKAGE_SOURCE = "gan-atelier"', f'PACKAGE_SOURCE = "{wheel}"')
    data = write_idx_dataset(tmp_path / "data" / "fashion-mnist")
    env.update(GAN_ATELIER_DATA=str(data.parent), GAN_ATELIER_NB_TINY="0")
    done = subprocess.run([python, "-c", setup], check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    (line,) = done.stdout.strip().splitlines()  # one line says what it did
    assert line.startswith(f"setup: gan-atelier installed from {wheel}; Fashion-MNIST found in ") and \
        line.endswith("; device cpu"), line
    rest = ("import gan_atelier; from gan_atelier import get_config, train, load_generator, sample, show_grid, "
            "make_grid; from gan_atelier.checks import check_d_step; print(gan_atelier.__file__)")
    imported = subprocess.run([python, "-c", rest], check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert Path(imported.stdout.strip()).is_relative_to(venv)
