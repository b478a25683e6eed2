"""The SDK's public surface is exactly what docs/sdk.md lists under "Public names"."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import coffer

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def documented() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Public names\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    names: set[str] = set()
    for line in block.splitlines():
        names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line.split(":", 1)[1] if ":" in line else line))
    return names


def test_all_is_the_documented_list():
    assert sorted(coffer.__all__) == sorted(documented())
    assert len(coffer.__all__) == len(set(coffer.__all__))


def test_dir_shows_only_documented_names_even_after_submodule_imports():
    import coffer.protocol  # sets coffer.protocol, which must stay unlisted
    import coffer.sdk

    public = {n for n in dir(coffer) if not n.startswith("_")}
    assert public == documented() - {"__version__"}


def test_every_documented_name_resolves_and_is_defined_in_the_sdk():
    for name in documented() - {"__version__"}:
        value = getattr(coffer, name)
        assert value.__module__.startswith("coffer.sdk."), name
    assert isinstance(coffer.__version__, str)


def test_a_fresh_import_lists_the_same_names():
    code = "import coffer; print(' '.join(n for n in dir(coffer) if not n.startswith('_')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(out.split()) == documented() - {"__version__"}
