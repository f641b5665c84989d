"""What the notebooks' cells are made of: ``Cell`` and the helpers that append to ``CELLS``.

``md(french, english)`` adds a markdown cell; ``code(source)`` a code cell written once, its prose
as ``⟨français‖English⟩`` (see build_notebooks.py). ``editions`` says which notebooks get the cell
("instructor", "student" or both); ``tags`` end up in the cell's metadata (the tests use them:
setup, experiment, todo, check).
"""

from __future__ import annotations

from dataclasses import dataclass

BOTH = ("instructor", "student")
INSTRUCTOR = ("instructor",)
STUDENT = ("student",)


@dataclass(frozen=True)
class Cell:
    kind: str
    french: str = ""
    english: str = ""
    source: str = ""
    editions: tuple[str, ...] = BOTH
    tags: tuple[str, ...] = ()


CELLS: list[Cell] = []


def md(french: str, english: str, editions: tuple[str, ...] = BOTH) -> None:
    CELLS.append(Cell("markdown", french=french, english=english, editions=editions))


def code(source: str, editions: tuple[str, ...] = BOTH, tags: tuple[str, ...] = ()) -> None:
    CELLS.append(Cell("code", source=source, editions=editions, tags=tags))


def experiment(name: str) -> None:
    code(f'experiment("{name}");', tags=("experiment",))


def answer() -> None:
    """An empty answer cell (student edition): a markdown cell to write in."""
    md("*Votre réponse :*", "*Your answer:*", STUDENT)


def check(source: str) -> None:
    code(source, STUDENT, tags=("check",))
