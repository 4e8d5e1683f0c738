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


def resource_types() -> list[tuple[str, str]]:
    """(file, 'Type@version') of every resource declaration, nested ones included."""
    found = []
    for path in bicep.bicep_files():
        tree = bicep.load(path).tree
        for node in bicep.walk(tree.root_node):
            if node.type == "resource_declaration":
                found.append((path.name, bicep.string_value(bicep.named(node)[1])))
    return found


def test_no_resource_uses_a_preview_api_version() -> None:
    """Preview API versions can change or go away; every type used has a stable version."""
    declared = resource_types()
    assert any("Microsoft.ServiceBus/namespaces@" in t for _, t in declared)  # the walk sees the modules
    preview = [(f, t) for f, t in declared if "@" in t and "preview" in t.split("@", 1)[1].lower()]
    assert not preview, preview


def test_each_resource_type_has_one_api_version() -> None:
    """A type declared in two files (e.g. the namespace in servicebus.bicep and rbac.bicep) uses one version."""
    versions: dict[str, set[str]] = {}
    for _, declared in resource_types():
        if "@" in declared:  # nested children ('queues') inherit their parent's version
            kind, version = declared.split("@", 1)
            versions.setdefault(kind, set()).add(version)
    mixed = {kind: v for kind, v in versions.items() if len(v) > 1}
    assert not mixed, mixed
