"""Every Bicep file parses (tree-sitter-bicep; the Bicep CLI is not available here)."""

from __future__ import annotations

import pytest

from tests.infra import bicep


def test_there_is_a_main_template_and_modules() -> None:
    files = {p.relative_to(bicep.INFRA).as_posix() for p in bicep.bicep_files()}
    assert "main.bicep" in files
    assert {f"modules/{n}.bicep" for n in ("functionapp", "storage", "servicebus", "rbac", "keyvault")} <= files


@pytest.mark.parametrize("path", bicep.bicep_files(), ids=lambda p: p.relative_to(bicep.INFRA).as_posix())
def test_parses_without_errors(path) -> None:
    tree = bicep.parse(path.read_bytes())
    assert bicep.syntax_errors(tree) == []


def test_the_syntax_check_catches_a_broken_file() -> None:
    """The check above can fail: a missing brace and a stray token are reported."""
    broken = bicep.MAIN.read_bytes().replace(b"param location string", b"param location string = {", 1)
    assert bicep.syntax_errors(bicep.parse(broken))
    assert bicep.syntax_errors(bicep.parse(b"resource x 'a@1' = { name: 'x' \n"))


def test_every_module_reference_resolves() -> None:
    main = bicep.load(bicep.MAIN)
    for name, decl in main.modules.items():
        target = (bicep.INFRA / (decl.type_string or "")).resolve()
        assert target.is_file(), f"module {name}: {decl.type_string} does not exist"


def test_module_calls_pass_only_declared_params_and_every_required_one() -> None:
    main = bicep.load(bicep.MAIN)
    for name in main.modules:
        module = bicep.module_file(main, name)
        passed = set(bicep.module_params(main, name))
        declared = set(module.params)
        required = {p for p, d in module.params.items() if d.value is None}
        assert passed <= declared, f"{name}: unknown params {passed - declared}"
        assert required <= passed, f"{name}: missing params {required - passed}"
