"""The client's TypeScript as data, for tests that pin Python to it (tests/support/typescript.mjs).

It runs under Node with the client's own `typescript` package, which `make test` installs
(client/node_modules, for the client build); nothing else is needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("typescript.mjs")
LIBRARY = ROOT / "client" / "projects" / "job-events" / "src" / "lib"
COMPILER = ROOT / "client" / "node_modules" / "typescript"


def _run(*args: str) -> Any:
    node = shutil.which("node")
    # Fail, never skip: a skipped contract test would hide a drift.
    assert node, "node is not on PATH (make test installs the client with npm)"
    assert COMPILER.is_dir(), f"{COMPILER} is missing: run `cd client && npm ci` (make test does)"
    done = subprocess.run([node, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"node {SCRIPT.name} {args[0]} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def declarations(path: Path) -> dict[str, Any]:
    """Exported interfaces `{name: {extends, fields: {field: {optional, type}}}}`, type
    aliases `{name: {type, literals}}` (`literals` for a union of string literals, else None),
    and constants `{name: {key: value}}` (objects of string literals, `as const`)."""
    found: dict[str, Any] = _run("declarations", str(path))
    return found


def call(path: Path, calls: list[list[Any]]) -> list[Any]:
    """Calls exported functions of a module without imports: `[[name, *args], ...]` -> results."""
    results: list[Any] = _run("call", str(path), json.dumps(calls))
    return results


def run(entry: Path, argument: Any) -> Any:
    """Bundles `entry` with its imports (the client's esbuild) and calls its default export."""
    return _run("run", str(entry), json.dumps(argument))
