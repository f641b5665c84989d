"""Load the TP's definitions from a student's script without running its top-level code.

A student's script is the TP's cells pasted one after another: at top level it imports
torchvision, downloads Fashion-MNIST, builds the models and may train for 50 epochs. Only these
top-level statements are kept and run: imports (except ``torchvision`` and ``tqdm``, whose
``make_grid``/``trange``/``tqdm`` the checks supply), ``class`` and ``def`` statements, and
assignments of literal constants (``latent_dim = 100``, ``image_size = 28 * 28``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import CheckFailed, ConfigError
from .messages import LANGUAGES

SUPPLIED_MODULES = ("torchvision", "tqdm")
_LITERAL_NODES = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Tuple, ast.List, ast.operator, ast.unaryop,
                  ast.Load, ast.Name)


def _is_literal(node: ast.AST) -> bool:
    return all(isinstance(child, _LITERAL_NODES) for child in ast.walk(node))


def _is_supplied(node: ast.Import | ast.ImportFrom) -> bool:
    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    return any(name.split(".")[0] in SUPPLIED_MODULES for name in names)


def kept_statements(tree: ast.Module) -> list[ast.stmt]:
    """The top-level statements that define things and run nothing heavy."""
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not _is_supplied(node):
                kept.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _is_literal(node.value):
            kept.append(node)
    return kept


def load_definitions(path: str | Path) -> dict:
    """The namespace of ``path``'s definitions; ConfigError if unreadable, CheckFailed if not Python."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise CheckFailed(f"{path}:{error.lineno}: syntax error: {error.msg}") from None
    namespace: dict = {"__name__": "gan_atelier_student", "__file__": str(path)}
    for node in kept_statements(tree):
        code = compile(ast.Module(body=[node], type_ignores=[]), filename=str(path), mode="exec")
        try:
            exec(code, namespace)  # noqa: S102 - the student's own definitions, by request
        except (ImportError, NameError):
            continue  # an optional import or a constant built from skipped code: the checks say what lacks
    return namespace


# name the script must define → the checks that take it
CHECKED_NAMES = {
    "Generator": ("check_generator",),
    "Discriminator": ("check_discriminator",),
    "train_gan": ("check_d_step", "check_g_step", "check_training"),
}
MISSING = ("{path} ne définit pas `{name}` (TP : {where})", "{path} does not define `{name}` (TP: {where})")
WHERE = {"Generator": "2.2", "Discriminator": "2.3", "train_gan": "III"}


def run_checks(path, lang: str = "fr") -> tuple[bool, list[str]]:
    """(every check passed, the report's lines) for the script at ``path``."""
    from . import loop, models

    namespace = load_definitions(path)
    lines, ok = [], True
    for name, checks in CHECKED_NAMES.items():
        if name not in namespace:
            ok = False
            lines.append("✗ " + MISSING[LANGUAGES.index(lang)].format(path=path, name=name, where=WHERE[name]))
            continue
        for check in checks:
            function = getattr(models, check, None) or getattr(loop, check)
            result = function(namespace[name], lang=lang, raise_on_failure=False)
            ok = ok and result.ok
            lines += result.lines()
    return ok, lines
