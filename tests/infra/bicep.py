"""Reading Bicep without the Bicep CLI: a tree-sitter parse and a few helpers over it.

The helpers work on syntax only (declarations, object literals, literal values). Where a
test needs a value, it resolves literals and parameter defaults; anything computed at
deployment time stays an expression node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import tree_sitter as ts
import tree_sitter_bicep

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
MODULES = INFRA / "modules"

_PARSER = ts.Parser(ts.Language(tree_sitter_bicep.language()))

Node = ts.Node


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def parse(source: bytes) -> ts.Tree:
    return _PARSER.parse(source)


def syntax_errors(tree: ts.Tree) -> list[str]:
    """Every ERROR or MISSING node, as 'line:col: text'."""
    return [
        f"{node.start_point[0] + 1}:{node.start_point[1] + 1}: "
        f"{'missing' if node.is_missing else 'error'} near {text(node)[:40]!r}"
        for node in walk(tree.root_node)
        if node.type == "ERROR" or node.is_missing
    ]


def text(node: Node) -> str:
    return node.text.decode() if node.text is not None else ""


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def named(node: Node) -> list[Node]:
    return [c for c in node.children if c.is_named and c.type != "comment"]


# --- literals -------------------------------------------------------------------------


class NotLiteral(Exception):
    pass


def string_value(node: Node) -> str:
    """The value of a string without interpolation."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.children):
        raise NotLiteral(text(node))
    return "".join(text(c) for c in node.children if c.type in ("string_content", "escape_sequence"))


def literal(node: Node) -> object:
    if node.type == "string":
        return string_value(node)
    if node.type == "number":
        return int(text(node))
    if node.type == "boolean":
        return text(node) == "true"
    if node.type == "null":
        return None
    if node.type == "array":
        return [literal(c) for c in named(node)]
    raise NotLiteral(text(node))


def is_interpolated(node: Node) -> bool:
    return node.type == "string" and any(c.type == "interpolation" for c in node.children)


def key_of(prop: Node) -> str | None:
    parts = named(prop)
    if len(parts) != 2:
        return None  # a nested resource declaration, not key: value
    key = parts[0]
    if key.type == "identifier":
        return text(key)
    if key.type == "string":
        try:
            return string_value(key)
        except NotLiteral:
            return text(key)
    return None


def properties(obj: Node) -> dict[str, Node]:
    """key -> value node of an object literal (first level)."""
    result: dict[str, Node] = {}
    for prop in named(obj):
        if prop.type == "object_property":
            key = key_of(prop)
            if key is not None:
                result[key] = named(prop)[1]
    return result


def path(obj: Node, *keys: str) -> Node:
    node = obj
    for key in keys:
        if node.type != "object":
            raise KeyError(f"{key}: {text(node)[:60]} is not an object")
        node = properties(node)[key]
    return node


def objects_in(node: Node) -> Iterator[Node]:
    """Object literals in an expression (e.g. every branch of union(...) and ternaries)."""
    if node.type == "object":
        yield node
        return
    for child in named(node):
        yield from objects_in(child)


# --- declarations ---------------------------------------------------------------------


@dataclass
class Decl:
    kind: str  # param, var, resource, module, output
    name: str
    node: Node
    decorators: list[str] = field(default_factory=list)
    type_string: str | None = None  # resource type / module path
    body: Node | None = None  # the object literal
    condition: Node | None = None  # `if (...)`
    loop: Node | None = None  # `[for ...]`
    value: Node | None = None  # param default, var/output value


def _decl(node: Node, decorators: list[str]) -> Decl | None:
    kinds = {
        "parameter_declaration": "param",
        "variable_declaration": "var",
        "resource_declaration": "resource",
        "module_declaration": "module",
        "output_declaration": "output",
    }
    if node.type not in kinds:
        return None
    parts = named(node)
    decl = Decl(kinds[node.type], text(parts[0]), node, decorators)
    rest = parts[1:]
    if decl.kind in ("resource", "module"):
        decl.type_string = string_value(rest[0])
        target = rest[-1]
        if target.type == "if_statement":
            decl.condition = named(target)[0]
            target = named(target)[-1]
        elif target.type == "for_statement":
            decl.loop = target
            target = named(target)[-1]
            if target.type == "if_statement":
                decl.condition = named(target)[0]
                target = named(target)[-1]
        decl.body = target if target.type == "object" else None
    elif decl.kind in ("param", "output"):
        rest = [r for r in rest if r.type != "type"]
        decl.value = rest[-1] if rest else None
    else:
        decl.value = rest[-1]
    return decl


@dataclass
class BicepFile:
    path: Path
    tree: ts.Tree
    decls: list[Decl]

    def of(self, kind: str) -> dict[str, Decl]:
        return {d.name: d for d in self.decls if d.kind == kind}

    @property
    def params(self) -> dict[str, Decl]:
        return self.of("param")

    @property
    def variables(self) -> dict[str, Decl]:
        return self.of("var")

    @property
    def outputs(self) -> dict[str, Decl]:
        return self.of("output")

    @property
    def modules(self) -> dict[str, Decl]:
        return self.of("module")

    def resources(self, type_prefix: str = "") -> list[Decl]:
        return [d for d in self.decls if d.kind == "resource" and (d.type_string or "").startswith(type_prefix)]

    def secure_params(self) -> set[str]:
        return {d.name for d in self.params.values() if "secure" in d.decorators}

    def param_default(self, name: str) -> object:
        value = self.params[name].value
        if value is None:
            raise KeyError(f"param {name} has no default")
        return literal(value)


def _decorator_calls(decl: Decl) -> list[tuple[str, Node]]:
    """(name, arguments node) of each decorator on a declaration."""
    calls = []
    prev = decl.node.prev_named_sibling
    if prev is not None and prev.type == "decorators":
        for dec in named(prev):
            call = named(dec)[0]
            if call.type == "call_expression":
                calls.append((text(named(call)[0]), named(call)[1]))
    return calls


@cache
def load(path: Path) -> BicepFile:
    tree = parse(path.read_bytes())
    decls: list[Decl] = []
    pending: list[str] = []
    for node in named(tree.root_node):
        if node.type == "decorators":
            pending = [text(named(named(d)[0])[0]) for d in named(node) if named(d)]
            continue
        decl = _decl(node, pending)
        pending = []
        if decl is not None:
            decls.append(decl)
    return BicepFile(path, tree, decls)


def module_file(main: BicepFile, module_name: str) -> BicepFile:
    decl = main.modules[module_name]
    assert decl.type_string
    return load((main.path.parent / decl.type_string).resolve())


def module_params(main: BicepFile, module_name: str) -> dict[str, Node]:
    decl = main.modules[module_name]
    assert decl.body is not None
    return properties(path(decl.body, "params"))


def identifiers(node: Node) -> set[str]:
    return {text(n) for n in walk(node) if n.type == "identifier"}


def calls(node: Node) -> set[str]:
    return {text(named(n)[0]) for n in walk(node) if n.type == "call_expression"}


def member_names(node: Node) -> set[str]:
    return {text(n) for n in walk(node) if n.type == "property_identifier"}


def decorator_values(decl: Decl, decorator: str) -> list[object]:
    """The literal first argument of each @decorator(...) on a declaration."""
    return [literal(named(args)[0]) for name, args in _decorator_calls(decl) if name == decorator and named(args)]


# --- evaluating simple expressions ----------------------------------------------------

FUNCTIONS: dict[str, Callable[..., object]] = {
    "split": lambda value, sep: value.split(sep),
    "join": lambda items, sep: sep.join(items),
    "take": lambda items, n: items[:n],
    "trim": lambda value: value.strip(),
    "empty": lambda value: len(value) == 0,
    "length": len,
    "map": lambda items, fn: [fn(x) for x in items],
    "filter": lambda items, fn: [x for x in items if fn(x)],
    "contains": lambda container, item: item in container,
}

# Operators evaluated strictly (Bicep's && and || short-circuit; no test relies on either way).
OPERATORS: dict[str, Callable[[object, object], object]] = {
    "&&": lambda a, b: bool(a) and bool(b),
    "||": lambda a, b: bool(a) or bool(b),
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def evaluate(node: Node, scope: dict[str, object], variables: dict[str, Decl] | None = None) -> object:
    """The value of an expression made of literals, names in `scope`, `variables` (followed
    to their declarations), the FUNCTIONS and OPERATORS above, lambdas, `!` and `?:`. Anything else raises
    NotLiteral: a test then learns that it checks less than it thinks."""
    variables = variables or {}
    kind = node.type
    if kind in ("string", "number", "boolean", "null"):
        return literal(node)
    if kind == "identifier":
        name = text(node)
        if name in scope:
            return scope[name]
        if name in variables:
            return evaluate(variables[name].value, scope, variables)  # type: ignore[arg-type]
        raise NotLiteral(f"unknown name {name}")
    if kind == "parenthesized_expression":
        return evaluate(named(node)[0], scope, variables)
    if kind == "unary_expression" and text(node).startswith("!"):
        return not evaluate(named(node)[0], scope, variables)
    if kind == "binary_expression":
        left, right = named(node)
        operator = next(text(c) for c in node.children if not c.is_named)
        if operator not in OPERATORS:
            raise NotLiteral(f"no evaluator for {operator}")
        return OPERATORS[operator](evaluate(left, scope, variables), evaluate(right, scope, variables))
    if kind == "ternary_expression":
        condition, yes, no = named(node)
        return evaluate(yes if evaluate(condition, scope, variables) else no, scope, variables)
    if kind == "lambda_expression":
        parameter, body = named(node)
        return lambda value: evaluate(body, {**scope, text(parameter): value}, variables)
    if kind == "call_expression":
        function, arguments = named(node)
        if text(function) not in FUNCTIONS:
            raise NotLiteral(f"no evaluator for {text(function)}()")
        return FUNCTIONS[text(function)](*(evaluate(a, scope, variables) for a in named(arguments)))
    raise NotLiteral(text(node))


# --- resolving a variant (conditionals with known parameters) -------------------------


@dataclass(frozen=True)
class Unresolved:
    """An expression left as written: a deployment-time value (`plan.id`), or a name not in scope."""

    text: str


def _union(*parts: object) -> dict[str, object]:
    """Bicep's union() of objects, for keys that appear once (anything else is refused: the
    deep merge ARM does for nested objects is not modelled, so no test may rely on it)."""
    merged: dict[str, object] = {}
    for part in parts:
        if not isinstance(part, dict):
            raise NotLiteral(f"union() of a non-object: {part!r}")
        for key, value in part.items():
            if key in merged:
                raise NotLiteral(f"union() sets {key} twice")
            merged[key] = value
    return merged


def resolve(node: Node, scope: dict[str, object], variables: dict[str, Decl] | None = None) -> object:
    """The value of `node` for one variant: like evaluate(), but object and array literals
    become dicts and lists, `union()` of objects merges them, ternaries take the branch their
    condition (which must evaluate) picks, variables are followed, and whatever cannot be known
    before deployment stays Unresolved (compare its `.text`)."""
    variables = variables or {}
    kind = node.type
    if kind == "object":
        return {key: resolve(value, scope, variables) for key, value in properties(node).items()}
    if kind == "array":
        return [resolve(item, scope, variables) for item in named(node)]
    if kind in ("string", "number", "boolean", "null") and not is_interpolated(node):
        return literal(node)
    if kind == "identifier":
        name = text(node)
        if name in scope:
            return scope[name]
        if name in variables:
            return resolve(variables[name].value, scope, variables)  # type: ignore[arg-type]
        return Unresolved(name)
    if kind == "parenthesized_expression":
        return resolve(named(node)[0], scope, variables)
    if kind == "ternary_expression":
        condition, yes, no = named(node)
        return resolve(yes if evaluate(condition, scope, variables) else no, scope, variables)
    if kind == "call_expression" and text(named(node)[0]) == "union":
        return _union(*(resolve(a, scope, variables) for a in named(named(node)[1])))
    if kind == "subscript_expression":
        container, index = (resolve(part, scope, variables) for part in named(node))
        if isinstance(container, dict | list) and not isinstance(index, Unresolved):
            return container[index]  # type: ignore[index]
        return Unresolved(text(node))
    try:
        return evaluate(node, scope, variables)
    except NotLiteral:
        return Unresolved(text(node))
