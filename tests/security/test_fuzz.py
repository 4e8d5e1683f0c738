"""Fuzz the HTTP API with schemathesis against the project's own OpenAPI document.

Rules: no 5xx, every error is problem+json, and every answer (status, headers,
content type, body) is one the document declares. Bounded and derandomized, so
it runs the same way in CI every time.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def api(azurite):
    from harness.processes import LocalHostProcess, isolated_settings

    host = LocalHostProcess(isolated_settings(azurite)).start()
    schema = schemathesis.openapi.from_url(f"{host.base_url}/api/openapi.json")
    schema.config.base_url = host.base_url
    yield host, schema
    host.close()


def test_api_answers_only_what_its_document_says(api):
    host, schema = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11  # every route of function_app.py, cancel and the job list among them
    calls: dict[str, int] = {}

    def fuzz(operation) -> None:
        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case):
            response = case.call_and_validate(base_url=host.base_url, timeout=10)
            calls[operation.label] = calls.get(operation.label, 0) + 1
            assert response.status_code < 500, response.text
            if response.status_code >= 400:
                content_type = response.headers.get("content-type") or [""]
                assert content_type[0].startswith("application/problem+json"), response.text
                body = response.json()
                assert body["status"] == response.status_code and body["detail"]
                assert "Traceback" not in response.text

        run()

    for operation in operations:
        fuzz(operation)
    assert sum(calls.values()) >= 100, calls
    print(f"fuzz: {sum(calls.values())} cases over {len(calls)} operations")
