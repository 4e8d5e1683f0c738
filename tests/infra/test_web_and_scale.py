"""The function app: Flex Consumption, web hardening, CORS from one list, streaming-aware
scale settings, Easy Auth that lets the code decide, and telemetry kept within budget."""

from __future__ import annotations

import pytest

import settings as app_settings
from tests.infra import bicep
from tests.infra.project import FUNCTIONAPP, bicep_settings, functionapp, local_values, site


def main_params() -> dict[str, bicep.Node]:
    return bicep.module_params(bicep.load(bicep.MAIN), "functionApp")


def test_flex_consumption_plan_on_linux() -> None:
    [plan] = functionapp().resources("Microsoft.Web/serverfarms@")
    sku = bicep.path(plan.body, "sku")
    assert bicep.literal(bicep.path(sku, "name")) == "FC1"
    assert bicep.literal(bicep.path(sku, "tier")) == "FlexConsumption"
    assert bicep.literal(bicep.path(plan.body, "properties", "reserved")) is True
    assert bicep.literal(bicep.path(site().body, "kind")) == "functionapp,linux"
    assert bicep.text(bicep.path(site().body, "properties", "serverFarmId")) == "plan.id"


def test_python_runtime_matches_the_project() -> None:
    runtime = bicep.path(site().body, "properties", "functionAppConfig", "runtime")
    assert bicep.literal(bicep.path(runtime, "name")) == "python"
    pyproject = (bicep.ROOT / "pyproject.toml").read_text()
    assert f'">={bicep.literal(bicep.path(runtime, "version"))}' in pyproject


def test_web_hardening() -> None:
    props = bicep.path(site().body, "properties")
    assert bicep.literal(bicep.path(props, "httpsOnly")) is True
    config = bicep.path(props, "siteConfig")
    assert bicep.literal(bicep.path(config, "http20Enabled")) is True
    assert bicep.literal(bicep.path(config, "ftpsState")) == "Disabled"
    assert bicep.literal(bicep.path(config, "minTlsVersion")) == "1.2"
    policies = {
        bicep.literal(bicep.path(r.body, "name")): bicep.literal(bicep.path(r.body, "properties", "allow"))
        for r in functionapp().resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    }
    assert policies == {"ftp": False, "scm": False}


def test_platform_cors_and_the_app_setting_come_from_one_parameter() -> None:
    cors = bicep.path(site().body, "properties", "siteConfig", "cors")
    assert bicep.text(bicep.path(cors, "allowedOrigins")) == "corsAllowedOrigins"
    # credentials on: the stream cookie crosses origins only with them (tested below: never with '*')
    assert bicep.literal(bicep.path(cors, "supportCredentials")) is True
    assert bicep.text(main_params()["corsAllowedOrigins"]) == "corsOrigins"
    assert bicep.text(bicep_settings()["CORS_ALLOWED_ORIGINS"][0]) == "corsAllowedOrigins"
    main = bicep.load(bicep.MAIN)
    assert main.params["corsAllowedOrigins"].value is None, "no default: an origin must be chosen"
    params = {n for var in ("corsOrigins", "corsEntries") for n in bicep.identifiers(main.variables[var].value)}
    assert params & set(main.params) == {"corsAllowedOrigins"}


@pytest.mark.parametrize(
    "given",
    [
        "https://app.example.com",
        "https://a.example.com, https://b.example.com",
        " https://a.example.com/ ,, https://b.example.com:8443//, ",
        "http://localhost:4200,http://localhost:7071",
        "https://a.example.com,\thttps://b.example.com\n",
        ",",
        "",
    ],
)
def test_platform_cors_is_the_list_the_app_makes(given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same string gives the same origins to platform CORS (Bicep) and to the app."""
    main = bicep.load(bicep.MAIN)
    platform = bicep.evaluate(main.variables["corsOrigins"].value, {"corsAllowedOrigins": given}, main.variables)
    for name in app_settings.setting_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in local_values("storage").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", given)
    assert platform == app_settings.load_settings().cors_origins


@pytest.mark.parametrize(
    "given",
    ["*", " * ", "https://app.example.com,*", "*,https://app.example.com", "https://*.example.com", "http://*"],
)
def test_credentialed_cors_never_allows_a_wildcard(given: str) -> None:
    """With supportCredentials on, an origin list holding '*' would hand the stream cookie to
    any site that asks; such entries never reach platform CORS, whatever the parameter says."""
    cors = bicep.path(site().body, "properties", "siteConfig", "cors")
    assert bicep.literal(bicep.path(cors, "supportCredentials")) is True
    main = bicep.load(bicep.MAIN)
    platform = bicep.evaluate(main.variables["corsOrigins"].value, {"corsAllowedOrigins": given}, main.variables)
    assert isinstance(platform, list)
    assert not [origin for origin in platform if "*" in origin], platform
    named = [o.strip() for o in given.split(",") if o.strip() and "*" not in o]
    assert platform == named  # the named origins stay


def test_budget_contacts_are_split_like_the_origins() -> None:
    main = bicep.load(bicep.MAIN)

    def emails(given: str) -> object:
        return bicep.evaluate(main.variables["budgetEmails"].value, {"budgetContactEmails": given}, main.variables)

    assert emails("") == [] and emails(" , ") == []  # no budget
    assert emails(" ops@example.com, ,finance@example.com ") == ["ops@example.com", "finance@example.com"]
    decl = main.modules["budget"]
    assert bicep.text(decl.condition) == "(!empty(budgetEmails))"
    assert bicep.text(bicep.module_params(main, "budget")["contactEmails"]) == "budgetEmails"


def test_scale_settings_are_parameters() -> None:
    scale = bicep.path(site().body, "properties", "functionAppConfig", "scaleAndConcurrency")
    assert bicep.text(bicep.path(scale, "instanceMemoryMB")) == "instanceMemoryMB"
    assert bicep.text(bicep.path(scale, "maximumInstanceCount")) == "maximumInstanceCount"
    http = bicep.path(scale, "triggers", "http", "perInstanceConcurrency")
    assert bicep.text(http) == "httpPerInstanceConcurrency"
    for name in ("instanceMemoryMB", "maximumInstanceCount", "httpPerInstanceConcurrency"):
        assert bicep.text(main_params()[name]) == name


def test_per_instance_concurrency_is_set_high_and_explained() -> None:
    main = bicep.load(bicep.MAIN)
    concurrency = main.param_default("httpPerInstanceConcurrency")
    max_streams = app_settings.Settings.model_fields["sse_max_streams"].default
    # far above the platform default (a handful per instance), at most the platform maximum,
    # and below the app's own stream cap so the platform scales out before the app says 503
    assert 100 <= concurrency <= 1000
    assert concurrency <= max_streams
    assert "SSE_MAX_STREAMS" not in bicep_settings(), "the code default (max_streams) is the deployed value"
    source = FUNCTIONAPP.read_text()
    comment = source[: source.index("perInstanceConcurrency: httpPerInstanceConcurrency")].rsplit("http: {", 1)[1]
    for word in ("bills", "SSE", "async", "instance"):
        assert word in comment, f"the default's comment should mention {word!r}"


def test_instance_memory_default_is_the_budget_size() -> None:
    main = bicep.load(bicep.MAIN)
    assert main.param_default("instanceMemoryMB") == 512
    assert bicep.decorator_values(main.params["instanceMemoryMB"], "allowed") == [[512, 2048, 4096]]


def test_deployment_package_container_is_the_one_storage_creates() -> None:
    main = bicep.load(bicep.MAIN)
    assert bicep.text(bicep.module_params(main, "storage")["deploymentContainerName"]) == "deploymentContainerName"
    assert bicep.text(main_params()["deploymentContainerName"]) == "deploymentContainerName"
    storage = bicep.path(site().body, "properties", "functionAppConfig", "deployment", "storage")
    assert bicep.literal(bicep.path(storage, "type")) == "blobContainer"
    assert "deploymentContainerName" in bicep.identifiers(bicep.path(storage, "value"))


def test_app_starts_after_its_role_assignments() -> None:
    decl = bicep.load(bicep.MAIN).modules["functionApp"]
    assert "rbac" in bicep.identifiers(bicep.path(decl.body, "dependsOn"))


def test_auth_mode_never_none_and_easy_auth_lets_the_code_decide() -> None:
    main = bicep.load(bicep.MAIN)
    assert main.param_default("authMode") == "easyauth"
    [allowed] = bicep.decorator_values(main.params["authMode"], "allowed")
    assert "none" not in allowed
    assert set(allowed) <= {m.value for m in app_settings.AuthMode}
    [auth] = [
        r
        for r in functionapp().resources("Microsoft.Web/sites/config")
        if bicep.literal(bicep.path(r.body, "name")) == "authsettingsV2"
    ]
    assert bicep.text(auth.condition) == "(authMode == 'easyauth')"
    validation = bicep.path(auth.body, "properties", "globalValidation")
    # the SSE stream authenticates with its own query token, /api/health is public
    assert bicep.literal(bicep.path(validation, "unauthenticatedClientAction")) == "AllowAnonymous"
    assert bicep.literal(bicep.path(validation, "requireAuthentication")) is False
    assert bicep.literal(bicep.path(auth.body, "properties", "platform", "enabled")) is True


@pytest.mark.parametrize("name", ["maximumInstanceCount"])
def test_scale_is_capped(name: str) -> None:
    main = bicep.load(bicep.MAIN)
    assert bicep.decorator_values(main.params[name], "maxValue") == [1000]
    assert main.param_default(name) <= 100


def test_telemetry_is_workspace_based_capped_and_identity_only() -> None:
    mon = bicep.load(bicep.MODULES / "monitoring.bicep")
    [workspace] = mon.resources("Microsoft.OperationalInsights/workspaces@")
    props = bicep.path(workspace.body, "properties")
    assert bicep.text(bicep.path(props, "workspaceCapping", "dailyQuotaGb")) == "json(dailyCapGb)"
    assert bicep.text(bicep.path(props, "retentionInDays")) == "retentionInDays"
    assert mon.param_default("retentionInDays") <= 31  # inside the free retention
    main = bicep.load(bicep.MAIN)
    cap = float(str(main.param_default("logDailyCapGb")))
    assert 0 < cap * 31 <= 10
    [appi] = mon.resources("Microsoft.Insights/components@")
    assert bicep.text(bicep.path(appi.body, "properties", "WorkspaceResourceId")) == "workspace.id"
