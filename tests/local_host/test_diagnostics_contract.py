"""The demo's view of `GET /local/diagnostics` (client/src/app/diagnostics.ts) held to the
pydantic model the local host serves (local_host/diagnostics.py Diagnostics), both ways.

The same machinery as the OpenAPI contract (tests/support/typescript.py reads the TypeScript
with the client's own compiler): every schema of the model's JSON schema is paired with a
declaration of diagnostics.ts, every paired interface agrees field by field (name,
optionality, type with its nulls), the enums agree in their values, and the demo's metric
names are `telemetry.metrics.MetricName`, key for key.

Types are compared in a canonical form: `readonly`, `Readonly<>` and `Partial<>` dropped
(pydantic's schema cannot say that a metric is absent until recorded), union members sorted,
`integer` read as `number`, and the demo's own aliases (MetricPoint, MetricsView, Attributes)
expanded.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from local_host.diagnostics import Diagnostics
from notify.streams import CloseReason
from telemetry.metrics import MetricName
from tests.support import typescript

DIAGNOSTICS_TS = typescript.ROOT / "client" / "src" / "app" / "diagnostics.ts"
FAKE_ENTRY = Path(__file__).with_name("fake_diagnostics.ts")

# diagnostics.ts interface -> the schema ($defs, or the model itself) it mirrors.
INTERFACES = {
    "Diagnostics": "Diagnostics",
    "StreamFigures": "StreamFigures",
    "HubFigures": "HubFigures",
    "WatcherFigures": "WatcherFigures",
    "QueueFigures": "QueueFigures",
    "ProcessFigures": "ProcessFigures",
    "CounterPoint": "CounterPoint",
    "HistogramPoint": "HistogramPoint",
}
# diagnostics.ts union of string literals -> the enum schema it mirrors.
ENUMS = {"CloseReason": "CloseReason", "MetricName": "MetricName"}
# Aliases that only name a type of the model that has no schema of its own: expanded.
EXPANDED = {"Attributes", "MetricPoint", "MetricsView"}
# The panel's own declarations, not payloads.
CLIENT_ONLY = {
    "Reading": "the part of a body the panel reads (any Diagnostics is one)",
    "RunTime": "a figure the panel derives",
    "LatencyPath": "a figure the panel derives",
    "Figures": "what the panel shows from one reading",
    "Sample": "the panel's history",
    "History": "the panel's history",
    "Sparkline": "an SVG path",
}


@cache
def schema() -> dict[str, Any]:
    found: dict[str, Any] = Diagnostics.model_json_schema(by_alias=True)
    return found


def definitions(document: dict[str, Any]) -> dict[str, Any]:
    found = dict(document.get("$defs", {}))
    found[document["title"]] = {k: v for k, v in document.items() if k != "$defs"}
    return found


@cache
def client() -> dict[str, Any]:
    return typescript.declarations(DIAGNOSTICS_TS)


# --- TypeScript types in a canonical form -------------------------------------------------

TOKEN = re.compile(r"\s*(\.\.\.|[A-Za-z_$][\w$]*|'[^']*'|\[\]|[<>(),|&\[\]{}:?;])")


def tokens(text: str) -> list[str]:
    found, at = [], 0
    text = text.strip()
    while at < len(text):
        match = TOKEN.match(text, at)
        assert match, f"cannot read the TypeScript type {text!r} at {text[at:]!r}"
        found.append(match.group(1))
        at = match.end()
    return found


class Canon:
    """Parses the subset of TypeScript types the contract uses into one canonical string."""

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases  # name -> type text, expanded where met

    def __call__(self, text: str) -> str:
        self._tokens, self._at = tokens(text), 0
        result = self._union()
        assert self._at == len(self._tokens), f"unread rest of {text!r}: {self._tokens[self._at :]}"
        return result

    def _peek(self) -> str | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._tokens[self._at]
        assert expected is None or token == expected, f"expected {expected!r}, read {token!r}"
        self._at += 1
        return token

    def _union(self) -> str:
        if self._peek() == "|":
            self._take()
        members = [self._postfix()]
        while self._peek() == "|":
            self._take()
            members.append(self._postfix())
        flat = sorted({part for member in members for part in _split_union(member)})
        return " | ".join(flat)

    def _postfix(self) -> str:
        if self._peek() == "readonly":
            self._take()
        result = self._primary()
        while self._peek() == "[]":
            self._take()
            result = f"({result})[]" if " | " in result else f"{result}[]"
        return result

    def _primary(self) -> str:
        token = self._take()
        if token == "(":
            inner = self._union()
            self._take(")")
            return inner
        if token.startswith("'"):
            return token
        args: list[str] = []
        if self._peek() == "<":
            self._take()
            args.append(self._union())
            while self._peek() == ",":
                self._take()
                args.append(self._union())
            self._take(">")
        if token in ("Readonly", "Partial"):
            return args[0]
        if token == "ReadonlyArray":
            return f"({args[0]})[]" if " | " in args[0] else f"{args[0]}[]"
        if args:
            return f"{token}<{', '.join(args)}>"
        if token in self.aliases:
            return Canon(self.aliases)(self.aliases[token])
        return token


def _split_union(text: str) -> list[str]:
    """Top-level members of a canonical union (nested ones stay inside their brackets)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif depth == 0 and text.startswith(" | ", i):
            parts.append(text[start:i])
            start = i + 3
    parts.append(text[start:])
    return parts


def schema_type(prop: dict[str, Any], names: dict[str, str]) -> str:
    """The TypeScript a property schema means; `names` maps schema names to diagnostics.ts names."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return names.get(name, f"<unpaired schema {name}>")
    if "anyOf" in prop:
        return " | ".join(f"({schema_type(p, names)})" for p in prop["anyOf"])
    kind = prop.get("type")
    if kind == "array":
        return f"({schema_type(prop['items'], names)})[]"
    if kind == "object" and "additionalProperties" in prop:
        keys = schema_type(prop["propertyNames"], names) if "propertyNames" in prop else "string"
        return f"Record<{keys}, {schema_type(prop['additionalProperties'], names)}>"
    simple = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean", "null": "null"}
    return simple.get(str(kind), f"<unsupported schema {prop}>")


# --- the check --------------------------------------------------------------------------------


def problems(declared: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """Every disagreement between diagnostics.ts (`declared`) and the model's JSON schema."""
    defs = definitions(document)
    names = {s: ts for ts, s in {**INTERFACES, **ENUMS}.items()}
    found: list[str] = []
    for name in sorted(set(defs) - set(names)):
        found.append(f"schema {name} has no declaration in diagnostics.ts: pair it in INTERFACES or ENUMS")
    known = set(INTERFACES) | set(ENUMS) | EXPANDED | set(CLIENT_ONLY)
    for name in sorted((set(declared["interfaces"]) | set(declared["aliases"])) - known):
        found.append(f"diagnostics.ts {name} is neither paired nor listed as the panel's own")
    aliases = {n: a["type"] for n, a in declared["aliases"].items() if n in EXPANDED}
    canon = Canon(aliases)
    for ts_name, schema_name in INTERFACES.items():
        where = f"diagnostics.ts {ts_name} vs schema {schema_name}"
        interface, target = declared["interfaces"].get(ts_name), defs.get(schema_name)
        if interface is None or target is None:
            found.append(f"{where}: {'the interface' if interface is None else 'the schema'} is missing")
            continue
        fields, properties = interface["fields"], target.get("properties", {})
        required = set(target.get("required", []))
        for field in sorted(set(properties) - set(fields)):
            found.append(f"{where}: field {field!r} is in the schema but not in diagnostics.ts")
        for field in sorted(set(fields) - set(properties)):
            found.append(f"{where}: field {field!r} is in diagnostics.ts but not in the schema")
        for field in sorted(set(fields) & set(properties)):
            if fields[field]["optional"] == (field in required):
                found.append(f"{where}: field {field!r} is {'optional' if fields[field]['optional'] else 'required'}")
            have, want = canon(fields[field]["type"]), canon(schema_type(properties[field], names))
            if have != want:
                found.append(f"{where}: field {field!r} is `{have}` in diagnostics.ts but `{want}` in the schema")
    for ts_name, schema_name in ENUMS.items():
        values = sorted(defs.get(schema_name, {}).get("enum", []))
        literals = declared["aliases"].get(ts_name, {}).get("literals")
        if ts_name == "MetricName":
            literals = list(declared["constants"].get("METRIC", {}).values())
        if sorted(literals or []) != values:
            found.append(f"diagnostics.ts {ts_name} {sorted(literals or [])} vs schema {schema_name} {values}")
    return found


def test_diagnostics_ts_agrees_with_the_model() -> None:
    found = problems(client(), schema())
    assert not found, "\n".join(found)


def test_the_demo_metric_names_are_the_backend_s() -> None:
    # Key for key: METRIC.POLLS in the demo is MetricName.POLLS here.
    assert client()["constants"]["METRIC"] == {m.name: m.value for m in MetricName}


def test_the_enums_are_in_the_schema() -> None:
    # The enum pairs above compare against these: they must come from the live enums.
    defs = definitions(schema())
    assert defs["CloseReason"]["enum"] == [r.value for r in CloseReason]
    assert defs["MetricName"]["enum"] == [m.value for m in MetricName]


def test_the_demo_s_fake_body_is_a_diagnostics_body() -> None:
    # What the panel's unit tests read is what the host sends (extra fields refused).
    body = typescript.run(FAKE_ENTRY, None)
    diagnostics = Diagnostics.model_validate(body)
    assert diagnostics.total(MetricName.POLLS, fallback=True) == 5


# The check must catch a drift on either side: here on edited copies (not the live files).


def _introduced(edit_client: Any = None, edit_schema: Any = None) -> list[str]:
    declared, document = copy.deepcopy(client()), copy.deepcopy(schema())
    assert problems(declared, document) == []
    if edit_client:
        edit_client(declared)
    if edit_schema:
        edit_schema(document)
    return problems(declared, document)


def test_check_reports_a_field_added_to_the_model() -> None:
    def add(document: dict[str, Any]) -> None:
        document["$defs"]["WatcherFigures"]["properties"]["lagSeconds"] = {"type": "number"}
        document["$defs"]["WatcherFigures"]["required"].append("lagSeconds")

    assert _introduced(edit_schema=add) == [
        "diagnostics.ts WatcherFigures vs schema WatcherFigures: field 'lagSeconds' is in the schema "
        "but not in diagnostics.ts"
    ]


def test_check_reports_a_renamed_field_a_lost_null_and_a_wrong_type() -> None:
    def edit(declared: dict[str, Any]) -> None:
        fields = declared["interfaces"]["ProcessFigures"]["fields"]
        fields["rssKib"] = fields.pop("rssKiB")
        fields["openFiles"]["type"] = "number"
        declared["interfaces"]["Diagnostics"]["fields"]["queue"]["type"] = "readonly WatcherFigures[]"

    found = _introduced(edit_client=edit)
    assert len(found) == 4, found
    assert "Diagnostics: field 'queue' is `WatcherFigures[]` in diagnostics.ts but `QueueFigures[]`" in found[0]
    assert "'rssKiB' is in the schema but not in diagnostics.ts" in found[1]
    assert "'rssKib' is in diagnostics.ts but not in the schema" in found[2]
    assert "'openFiles' is `number` in diagnostics.ts but `null | number` in the schema" in found[3]


def test_check_reports_a_metric_or_a_close_reason_the_other_side_lacks() -> None:
    def edit(document: dict[str, Any]) -> None:
        document["$defs"]["MetricName"]["enum"].append("jobevents.new.metric")
        document["$defs"]["CloseReason"]["enum"].remove("rejected")

    found = _introduced(edit_schema=edit)
    assert len(found) == 2 and "CloseReason" in found[0] and "jobevents.new.metric" in found[1], found


def test_check_reports_a_new_schema_and_a_point_type_drift() -> None:
    def edit(document: dict[str, Any]) -> None:
        document["$defs"]["QueueLag"] = {"type": "object", "properties": {}}
        document["$defs"]["CounterPoint"]["properties"]["value"] = {"type": "string"}

    found = _introduced(edit_schema=edit)
    assert found[0] == "schema QueueLag has no declaration in diagnostics.ts: pair it in INTERFACES or ENUMS"
    assert "CounterPoint: field 'value' is `number` in diagnostics.ts but `string`" in found[1]
    assert len(found) == 2, found


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Readonly<Record<string, string | number | boolean>>", "Record<string, boolean | number | string>"),
        ("readonly (CounterPoint | HistogramPoint)[]", "(CounterPoint | HistogramPoint)[]"),
        ("ReadonlyArray<number>", "number[]"),
        ("| 'b' | 'a'", "'a' | 'b'"),
        ("number | null", "null | number"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert Canon({})(text) == canonical
