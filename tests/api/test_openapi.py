"""The client's payload types (client/.../lib/models.ts) checked against the OpenAPI document.

models.ts is written by hand (readonly, documented, part of the library's public API); the
backend's pydantic models generate the OpenAPI document (api/openapi.py). This test keeps the
two equal, both ways: every schema of the document is paired with a declaration of models.ts
or listed below as one the client does not model, and every paired field agrees in name,
optionality and type, and the status union in its values.

"Optional" means what the client sees on the wire: a field the document does not require is
still always sent when its default is not null (pydantic dumps defaults, so `progress` is
always there), and is left out when its default is null (the status body and every SSE
`data:` line are dumped with exclude_none).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest

from api.openapi import openapi_document
from jobs.registry import job_types
from tests.support import typescript

MODELS_TS = typescript.LIBRARY / "models.ts"

# models.ts declaration -> the OpenAPI schema it mirrors.
PAIRS = {
    "JobState": "JobState",
    "JobEvent": "JobStatus",
    "JobStarted": "StartAccepted",
    "WatchToken": "WatchToken",
    "JobRef": "JobRef",
    "JobList": "JobList",
}

# Schemas the library has no type for, and why. A new schema fails the test until it is
# paired above or listed here.
NOT_MODELLED = {
    "StreamToken": "the library mints stream tokens with POST /watch (WatchToken), never POST .../token",
    "WatchRequest": "stream-pool.ts sends `{jobs: JobRef[]}` inline; its JobRef is paired",
    "Problem": "the library reads only an error's HTTP status (the demo reads `detail`)",
}

# Declarations of models.ts that are the client's own, not payloads.
CLIENT_ONLY = {"JobTransport": "how the library is watching a job right now"}


@cache
def schemas() -> dict[str, Any]:
    found: dict[str, Any] = openapi_document()["components"]["schemas"]
    return found


@cache
def client() -> dict[str, Any]:
    return typescript.declarations(MODELS_TS)


def input_schemas() -> set[str]:
    # Job type inputs are what the caller posts; the library never builds them.
    return {t.input_model.__name__ for t in job_types().values()}


def ts_type(schema: dict[str, Any]) -> tuple[str, bool]:
    """The TypeScript type a property schema means, and whether it allows null."""
    if "anyOf" in schema:
        others = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(others) == 1 and len(others) < len(schema["anyOf"]):
            return ts_type(others[0])[0], True
        return f"<unsupported anyOf {schema['anyOf']}>", False
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        paired = [ts for ts, s in PAIRS.items() if s == name]
        return (paired[0] if paired else f"<unpaired schema {name}>"), False
    kind = str(schema.get("type"))
    if kind == "array":
        return ts_type(schema["items"])[0] + "[]", False
    simple = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}
    return simple.get(kind, f"<unsupported type {kind}>"), False


def normalise(ts: str) -> tuple[str, bool]:
    """A TypeScript type without `readonly` and `| null`, and whether it had `| null`."""
    parts = [p.strip() for p in ts.split("|")]
    nullable = "null" in parts
    text = " | ".join(p for p in parts if p != "null")
    text = text.removeprefix("readonly ")
    if text.startswith("ReadonlyArray<") and text.endswith(">"):
        text = text[len("ReadonlyArray<") : -1] + "[]"
    return text, nullable


def field_problems(ts_name: str, fields: dict[str, Any], schema_name: str, schema: dict[str, Any]) -> list[str]:
    """Every disagreement between an interface of models.ts and its schema, one line each."""
    where = f"models.ts {ts_name} vs OpenAPI {schema_name}"
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    problems = []
    for name in sorted(set(properties) - set(fields)):
        problems.append(f"{where}: field {name!r} is in the OpenAPI document but not in models.ts")
    for name in sorted(set(fields) - set(properties)):
        problems.append(f"{where}: field {name!r} is in models.ts but not in the OpenAPI document")
    for name in sorted(set(fields) & set(properties)):
        prop, field = properties[name], fields[name]
        always_sent = name in required or prop.get("default") is not None
        if field["optional"] == always_sent:
            wire = "always sent" if always_sent else "may be absent (not required, default null)"
            mark = "optional (?)" if field["optional"] else "required"
            problems.append(f"{where}: field {name!r} is {mark} in models.ts but {wire} on the wire")
        want, schema_null = ts_type(prop)
        have, ts_null = normalise(field["type"])
        if want != have:
            problems.append(f"{where}: field {name!r} is `{have}` in models.ts but `{want}` in the OpenAPI document")
        # A null that is sent (required and nullable) must be in the TypeScript type.
        if schema_null and name in required and not ts_null:
            problems.append(f"{where}: field {name!r} can be null on the wire but models.ts has no `| null`")
        if ts_null and not schema_null:
            problems.append(f"{where}: field {name!r} is `| null` in models.ts but never null in the document")
    return problems


def test_every_schema_is_paired_or_listed() -> None:
    known = set(PAIRS.values()) | set(NOT_MODELLED) | input_schemas()
    new = sorted(set(schemas()) - known)
    assert not new, f"OpenAPI schemas with no models.ts type: {new}; pair them in PAIRS or list them in NOT_MODELLED"
    gone = sorted((set(PAIRS.values()) | set(NOT_MODELLED)) - set(schemas()))
    assert not gone, f"paired or listed schemas no longer in the OpenAPI document: {gone}"


def test_every_declaration_of_models_ts_is_paired_or_client_only() -> None:
    declared = set(client()["interfaces"]) | set(client()["aliases"])
    unknown = sorted(declared - set(PAIRS) - set(CLIENT_ONLY))
    assert not unknown, f"models.ts exports {unknown} with no OpenAPI schema; pair them in PAIRS or CLIENT_ONLY"
    gone = sorted((set(PAIRS) | set(CLIENT_ONLY)) - declared)
    assert not gone, f"models.ts no longer exports {gone}"


def test_status_union_matches_the_enum() -> None:
    literals = client()["aliases"]["JobState"]["literals"]
    assert literals is not None, "models.ts JobState is no longer a union of string literals"
    enum = schemas()["JobState"]["enum"]
    assert sorted(literals) == sorted(enum), (
        f"models.ts JobState {literals} vs OpenAPI JobState {enum}: "
        f"only in models.ts {sorted(set(literals) - set(enum))}, "
        f"only in the document {sorted(set(enum) - set(literals))}"
    )


@pytest.mark.parametrize("ts_name", [n for n in PAIRS if n != "JobState"])
def test_fields_agree(ts_name: str) -> None:
    interface = client()["interfaces"][ts_name]
    assert not interface["extends"], f"models.ts {ts_name} extends {interface['extends']}: teach this test to follow it"
    problems = field_problems(ts_name, interface["fields"], PAIRS[ts_name], schemas()[PAIRS[ts_name]])
    assert not problems, "\n".join(problems)


# The check itself must catch a drift on either side: here on edited copies of a fixed pair
# (not the live files, so that a real drift fails the tests above and not these).
SAMPLE_SCHEMA: dict[str, Any] = {
    "properties": {
        "jobId": {"type": "string"},
        "status": {"$ref": "#/components/schemas/JobState"},
        "progress": {"default": 0.0, "type": "number"},
        "message": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "resultRef": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "version": {"type": "integer"},
    },
    "required": ["jobId", "status", "version"],
}
SAMPLE_FIELDS: dict[str, Any] = {
    "jobId": {"optional": False, "type": "string"},
    "status": {"optional": False, "type": "JobState"},
    "progress": {"optional": False, "type": "number"},
    "message": {"optional": True, "type": "string"},
    "resultRef": {"optional": True, "type": "string"},
    "version": {"optional": False, "type": "number"},
}


def _introduced(edit_client: Any = None, edit_backend: Any = None) -> list[str]:
    fields, schema = copy.deepcopy(SAMPLE_FIELDS), copy.deepcopy(SAMPLE_SCHEMA)
    assert field_problems("JobEvent", fields, "JobStatus", schema) == []
    if edit_client:
        edit_client(fields)
    if edit_backend:
        edit_backend(schema)
    return field_problems("JobEvent", fields, "JobStatus", schema)


def test_check_reports_a_field_added_on_the_backend() -> None:
    def add(schema: dict[str, Any]) -> None:
        schema["properties"]["startedAt"] = {"type": "string", "format": "date-time"}
        schema["required"].append("startedAt")

    assert _introduced(edit_backend=add) == [
        "models.ts JobEvent vs OpenAPI JobStatus: field 'startedAt' is in the OpenAPI document but not in models.ts"
    ]


def test_check_reports_a_field_renamed_in_the_client() -> None:
    def rename(fields: dict[str, Any]) -> None:
        fields["resultUrl"] = fields.pop("resultRef")

    assert _introduced(edit_client=rename) == [
        "models.ts JobEvent vs OpenAPI JobStatus: field 'resultRef' is in the OpenAPI document but not in models.ts",
        "models.ts JobEvent vs OpenAPI JobStatus: field 'resultUrl' is in models.ts but not in the OpenAPI document",
    ]


def test_check_reports_optionality_and_type() -> None:
    def edit(fields: dict[str, Any]) -> None:
        fields["progress"]["optional"] = True  # has a default: always sent
        fields["message"]["optional"] = False  # defaults to null: left out
        fields["version"]["type"] = "string"

    problems = _introduced(edit_client=edit)
    assert len(problems) == 3, problems
    assert "'message' is required in models.ts but may be absent" in problems[0]
    assert "'progress' is optional (?) in models.ts but always sent" in problems[1]
    assert "'version' is `string` in models.ts but `number`" in problems[2]


# --- the document itself ---------------------------------------------------------------------


def _documented_routes() -> set[tuple[str, str]]:
    names = set(job_types())
    routes = set()
    for path, operations in openapi_document()["paths"].items():
        parts = path.split("/")
        if len(parts) == 5 and parts[2] == "jobs" and parts[3] in names and parts[4] == "start":
            path = "/api/jobs/{jobType}/start"  # one documented path per job type
        routes |= {(path, method.upper()) for method in operations}
    return routes


def test_the_document_describes_every_http_function_and_nothing_else() -> None:
    import function_app
    from local_host.functions import read_functions

    registered = {(f.route, m) for f in read_functions(function_app.app).http for m in f.methods}
    # The document does not describe itself.
    assert _documented_routes() == registered - {("/api/openapi.json", "GET")}


def test_every_error_answer_is_problem_json_and_every_start_takes_its_model() -> None:
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                # Health's 503 is its report (which check failed), not an error.
                if status.startswith(("4", "5")) and path != "/api/health":
                    assert "application/problem+json" in answer["content"], (method, path, status)
    for name, job_type in job_types().items():
        body = document["paths"][f"/api/jobs/{name}/start"]["post"]["requestBody"]
        ref = body["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/" + job_type.input_model.__name__)
