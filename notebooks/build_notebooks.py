"""Write the TP's four notebooks from one list of cells (``notebooks/cells.py``).

=============================  =========  ==========================================================
notebook                       language   edition
=============================  =========  ==========================================================
``tp_mlp_gan.ipynb``           French     instructor: the package's code shown, experiments, curves
``tp_mlp_gan_en.ipynb``        English    instructor
``tp_mlp_gan_etudiant.ipynb``  French     student: the TP's code to write (TODO), a check after each
``tp_mlp_gan_student.ipynb``   English    student
=============================  =========  ==========================================================

**One source per cell.** A markdown cell is written twice (French, English). A code cell is
written ONCE; only its prose is translated, inline, as ``⟨texte français‖English text⟩`` inside a
comment or a printed string, so the code itself cannot drift between languages (the tests check
that the two editions' code cells are token-for-token identical once comments and strings are
set aside). A part the student writes is marked in a code cell by::

    #<TODO name: hint>
    ...the TP's solution...
    #</TODO>

The instructor edition keeps the solution (markers removed); the student edition replaces it by
``# TODO (name): hint`` and ``raise NotImplementedError("TODO (name)")``, which the checks report
as "not complete yet". :func:`solutions` gives each part's solution (the tests fill them back in).

Edit ``cells.py``, then run ``python notebooks/build_notebooks.py``: the notebooks are written
without outputs (as they are kept in git), with stable cell ids.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
LANGUAGES = ("fr", "en")
EDITIONS = ("instructor", "student")
NOTEBOOKS = {  # (edition, language) → file name
    ("instructor", "fr"): "tp_mlp_gan.ipynb",
    ("instructor", "en"): "tp_mlp_gan_en.ipynb",
    ("student", "fr"): "tp_mlp_gan_etudiant.ipynb",
    ("student", "en"): "tp_mlp_gan_student.ipynb",
}
_TRANSLATED = re.compile(r"⟨(.*?)‖(.*?)⟩", re.S)
_TODO = re.compile(r"^(?P<indent>[ \t]*)#<TODO (?P<name>[\w-]+): (?P<hint>[^\n]*)>\n(?P<body>.*?)^[ \t]*#</TODO>\n?",
                   re.S | re.M)


def translate(source: str, language: str) -> str:
    """Keep the ``language`` half of every ``⟨français‖English⟩`` in ``source``."""
    index = LANGUAGES.index(language)
    return _TRANSLATED.sub(lambda match: match.group(index + 1), source)


def render_code(source: str, language: str, edition: str) -> str:
    """A code cell's text for one notebook: prose translated, TODO parts solved or left to write."""
    text = translate(source, language)

    def todo(match: re.Match) -> str:
        if edition == "instructor":
            return match.group("body")
        indent, name = match.group("indent"), match.group("name")
        return (f"{indent}# TODO ({name}): {match.group('hint')}\n"
                f"{indent}raise NotImplementedError(\"TODO ({name})\")\n")

    return _TODO.sub(todo, text).strip()


def solutions(language: str = "fr") -> dict[str, str]:
    """Each TODO part's solution, as the instructor edition has it (name → indented lines)."""
    from cells import CELLS

    found = {}
    for cell in CELLS:
        if cell.kind == "code":
            for match in _TODO.finditer(translate(cell.source, language)):
                found[match.group("name")] = match.group("body")
    return found


def build(edition: str, language: str) -> nbformat.NotebookNode:
    """One notebook: the cells of ``edition`` in ``language``, without outputs."""
    from cells import CELLS

    notebook = nbformat.v4.new_notebook()
    notebook.metadata.update({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    for cell in CELLS:
        if edition not in cell.editions:
            continue
        if cell.kind == "markdown":
            new = nbformat.v4.new_markdown_cell((cell.french if language == "fr" else cell.english).strip())
        else:
            new = nbformat.v4.new_code_cell(render_code(cell.source, language, edition))
        if cell.tags:
            new.metadata["tags"] = list(cell.tags)
        notebook.cells.append(new)
    prefix = language if edition == "instructor" else f"{language}-student"
    for index, cell in enumerate(notebook.cells):  # stable ids: clean diffs when rebuilt
        cell["id"] = f"{prefix}-{index:02d}"
    return notebook


def main() -> None:
    for (edition, language), name in NOTEBOOKS.items():
        nbformat.write(build(edition, language), HERE / name)
        print(f"wrote {HERE / name}")


sys.path.insert(0, str(HERE))  # cells.py sits next to this file

if __name__ == "__main__":
    main()
