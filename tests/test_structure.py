"""The package's shape: every module imports, no import cycle, modules and functions stay small,
the rooms import one way, ``gan_atelier.config`` needs no torch, and the public face still works."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import gan_atelier

ROOT = Path(gan_atelier.__file__).resolve().parent
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
LONG_FUNCTIONS: dict[str, int] = {}  # "module:function" → lines, for a function that must stay long (none)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def runtime_imports(name: str) -> set[str]:
    """The package modules ``name`` imports at run time (top level or inside functions; not TYPE_CHECKING)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    pending = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if _is_type_checking(node):
            continue
        pending.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    for target in list(found):  # importing a.b.c imports the packages a.b first (not our own ancestors)
        while target.count(".") > 1:
            target = target.rpartition(".")[0]
            if not name.startswith(target + "."):
                found.add(target)
    return {module for module in found if module in MODULES and module != name}


def test_every_module_imports():
    for info in pkgutil.walk_packages(gan_atelier.__path__, "gan_atelier."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def test_no_import_cycle():
    graph = {name: runtime_imports(name) for name in MODULES}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        stack.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[name] = 2

    for name in MODULES:
        if name not in state:
            visit(name, [])
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_modules_and_functions_stay_small():
    too_long = []
    for name, path in MODULES.items():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONG_FUNCTIONS.get(f"{name}:{node.name}", MAX_FUNCTION_LINES):
                    too_long.append(f"{name}:{node.name}: {lines} lines")
    assert not too_long, too_long


# Which room may import which (README "What is where"). A room is a top-level module or package.
FORBIDDEN = {
    "config": {"*"}, "config_checks": {"*"}, "presets": {"*"}, "errors": {"*"}, "objectives": {"*"},  # standard library only (+ errors)
    "files": {"*"},
    "losses": {"models", "training", "run", "sweep", "lab", "cli", "metrics", "viz", "inference"},
    "models": {"losses", "training", "run", "sweep", "lab", "cli", "metrics", "viz", "inference"},
    "data": {"models", "losses", "training", "run", "sweep", "lab", "cli", "metrics", "viz"},
    "clusters": {"models", "losses", "data", "training", "run", "sweep", "lab", "cli", "metrics", "viz", "inference"},
    "metrics": {"training", "run", "sweep", "lab", "cli", "viz"},
    "viz": {"training", "run", "sweep", "lab", "cli", "metrics", "models"},
    "training": {"run", "sweep", "lab", "cli", "viz", "inference"},
    "inference": {"training", "run", "sweep", "lab", "cli"},
    "run": {"sweep", "lab", "cli"},
    "sweep": {"lab", "cli"},
    "lab": {"cli"},
    "hub": {"training", "run", "sweep", "lab", "cli", "inference", "metrics"},
    "hub_card": {"*"},
    "compare": {"training", "run", "sweep", "lab", "cli", "models", "inference", "hub", "metrics"},
    "compare_report": {"training", "run", "sweep", "lab", "cli", "models", "inference", "hub", "metrics"},
}
ALLOWED_LEAVES = {"config": {"errors", "objectives", "config_checks", "presets"}, "config_checks": {"errors", "objectives"},
                  "objectives": {"errors"}, "files": {"errors"},
                  "errors": set(), "hub_card": {"config", "errors", "objectives", "config_checks", "presets"}}


def room(name: str) -> str:
    return name.split(".")[1] if name.count(".") else ""


def test_rooms_import_one_way():
    wrong = []
    for name in MODULES:
        source = room(name)
        for target in runtime_imports(name):
            target_room = room(target)
            if target_room in ("", source) or target_room == "__init__":
                continue
            forbidden = FORBIDDEN.get(source, set())
            if "*" in forbidden and target_room not in ALLOWED_LEAVES.get(source, set()):
                wrong.append(f"{name} -> {target}")
            elif target_room in forbidden:
                wrong.append(f"{name} -> {target}")
            if target_room == "cli" and source != "__main__":
                wrong.append(f"{name} -> {target} (nothing imports the CLI)")
    assert not wrong, wrong


def test_config_imports_without_torch():
    """``import gan_atelier.config`` with torch made unimportable (and nothing else of the package pulled in)."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['numpy'] = None\n"
            "import gan_atelier.config as c, gan_atelier\n"
            "assert c.get_config('quick').train.epochs == 10 and gan_atelier.__version__\n"
            "print(sorted(m for m in sys.modules if m.startswith('gan_atelier')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['gan_atelier', 'gan_atelier.config', 'gan_atelier.config_checks', 'gan_atelier.errors', 'gan_atelier.objectives', 'gan_atelier.presets']"


def test_the_public_face_resolves_lazily():
    code = ("import sys, gan_atelier\n"
            "assert 'torch' not in sys.modules\n"
            "from gan_atelier import get_config, train, load_generator, sample, make_grid, show_grid, load_toml\n"
            "import gan_atelier.run.driver as d, gan_atelier.inference as i\n"
            "assert train is d.train and gan_atelier.train is d.train and load_generator is i.load_generator\n"
            "from gan_atelier.train import Trainer, LoopHooks\n"  # the old path (notebooks) still works …
            "assert callable(gan_atelier.train)\n")  # … and gan_atelier.train stays callable
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_unknown_public_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gan_atelier.nope  # noqa: B018
