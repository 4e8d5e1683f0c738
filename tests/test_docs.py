"""The READMEs point at tests that exist: a promise's proof cannot silently move away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "bench/README.md", "client/README.md", "infra/README.md", "docs/observability.md", "docs/cost.md"]
# `tests/a/test_b.py`, optionally `::test_name` (a trailing `…` or `_…` means "starting with")
REFERENCE = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+)(…)?)?")
SHORT = re.compile(r"`(…/)?(test_\w+\.py)(?:::(\w+)(…)?)?`")


def _references() -> list[tuple[str, str, str | None, bool]]:
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for m in REFERENCE.finditer(text):
            found.append((doc, m.group(1), m.group(2), bool(m.group(3))))
    return found


@pytest.mark.parametrize(("doc", "path", "name", "prefix"), _references())
def test_each_referenced_test_exists(doc, path, name, prefix):
    file = ROOT / path
    assert file.is_file(), f"{doc} names {path}, which does not exist"
    if name:
        names = re.findall(r"^(?:async )?def (test_\w+)", file.read_text(), re.M)
        wanted = name.rstrip("_")
        ok = any(n.startswith(wanted) for n in names) if prefix else name in names
        assert ok, f"{doc} names {path}::{name}, which is not a test there"


def test_short_references_name_an_existing_test_file():
    """`…/test_x.py` and bare `test_x.py` mentions: some file of that name exists under tests/."""
    files = {p.name for p in (ROOT / "tests").rglob("test_*.py")}
    for doc in DOCS:
        for m in SHORT.finditer((ROOT / doc).read_text()):
            assert m.group(2) in files, f"{doc} names {m.group(2)}, which does not exist"
