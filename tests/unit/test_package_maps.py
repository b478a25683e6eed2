"""Every package's `__init__` docstring is its local map: it names each of its modules and subpackages
(ARCHITECTURE.md keeps the top-level map). A module added without a line in its package's map fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import coffer

ROOT = Path(coffer.__file__).parent


def _unmapped(package: Path) -> list[str]:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    names = [p.stem for p in package.glob("*.py") if p.name != "__init__.py"]
    names += [p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    return sorted(n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", doc))


def test_every_package_docstring_maps_its_modules() -> None:
    gaps = {str(init.parent.relative_to(ROOT.parent)): missing
            for init in sorted(ROOT.rglob("__init__.py")) if (missing := _unmapped(init.parent))}
    assert gaps == {}


def test_a_module_missing_from_the_map_is_found(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text('"""A package.\n\nModules:\n  known  what it holds\n"""\n')
    (tmp_path / "known.py").write_text("")
    (tmp_path / "forgotten.py").write_text("")
    assert _unmapped(tmp_path) == ["forgotten"]
