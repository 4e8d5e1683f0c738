"""The function app: Flex Consumption or a Dedicated plan (one parameter), web hardening, CORS
from one list, streaming-aware scale settings, Easy Auth that lets the code decide, and
telemetry kept within budget. Tests that hold on both plans run once per plan (`HOSTING_PLANS`),
on the site as bicep.resolve() reads it for that plan."""

from __future__ import annotations

import json

import pytest

import settings as app_settings
from tests.infra import bicep
from tests.infra.project import (
    FUNCTIONAPP,
    HOSTING_PLANS,
    bicep_settings,
    functionapp,
    local_values,
    plan_resource,
    site,
    site_properties,
)
from tests.infra.test_packaging import parameter_variables


def main_params() -> dict[str, bicep.Node]:
    return bicep.module_params(bicep.load(bicep.MAIN), "functionApp")


def test_the_hosting_plan_is_one_parameter_flex_by_default() -> None:
    main = bicep.load(bicep.MAIN)
    assert main.param_default("hostingPlan") == "flex"
    assert bicep.decorator_values(main.params["hostingPlan"], "allowed") == [list(HOSTING_PLANS)]
    assert main.param_default("dedicatedSku") == "B1"
    module = functionapp()
    for name in ("hostingPlan", "dedicatedSku"):
        assert bicep.text(main_params()[name]) == name
        assert bicep.decorator_values(main.params[name], "allowed") == bicep.decorator_values(
            module.params[name], "allowed"
        ), name
    # every SKU allowed has its tier
    [skus] = bicep.decorator_values(module.params["dedicatedSku"], "allowed")
    tiers = bicep.resolve(module.variables["dedicatedTiers"].value, {})
    assert isinstance(tiers, dict) and set(tiers) == set(skus)
    # set through the azd environment, with the Bicep default when unset (no prompt)
    assert parameter_variables()["hostingPlan"] == "HOSTING_PLAN"
    assert parameter_variables()["dedicatedSku"] == "DEDICATED_SKU"
    # nothing but the function app module knows the plan: identity, roles, Service Bus, tables,
    # Key Vault and telemetry are the same on both
    for name in main.modules:
        if name != "functionApp":
            assert "hostingPlan" not in bicep.identifiers(main.modules[name].body), name


def test_flex_consumption_plan_on_linux() -> None:
    plan = plan_resource("flex")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["kind"] == "functionapp"
    assert plan["properties"] == {"reserved": True}
    assert bicep.literal(bicep.path(site().body, "kind")) == "functionapp,linux"
    assert site_properties("flex")["serverFarmId"] == bicep.Unresolved("plan.id")


def test_dedicated_plan_is_one_linux_b1_instance() -> None:
    plan = plan_resource("dedicated")
    assert plan["sku"] == {"name": "B1", "tier": "Basic", "capacity": 1}
    assert plan["kind"] == "linux"
    assert plan["properties"] == {"reserved": True}
    assert site_properties("dedicated")["serverFarmId"] == bicep.Unresolved("plan.id")


def test_dedicated_site_has_no_function_app_config_and_is_always_on() -> None:
    """Flex takes runtime, scale and deployment from functionAppConfig; a Dedicated site has none
    of it, names its runtime stack instead, and stays on (the timer and Service Bus triggers
    stop when an App Service app idles out)."""
    props = site_properties("dedicated")
    assert "functionAppConfig" not in props
    config = props["siteConfig"]
    assert config["alwaysOn"] is True
    assert config["linuxFxVersion"] == "Python|3.11"
    flex = site_properties("flex")
    assert "functionAppConfig" in flex
    assert not {"alwaysOn", "linuxFxVersion"} & set(flex["siteConfig"]), "Flex refuses both"


def test_the_flex_variant_is_unchanged() -> None:
    """The Flex site as it was before the plan became a parameter, property for property."""
    u = bicep.Unresolved
    assert site_properties("flex") == {
        "serverFarmId": u("plan.id"),
        "httpsOnly": True,
        "clientAffinityEnabled": False,
        "publicNetworkAccess": "Enabled",
        "keyVaultReferenceIdentity": u("identityId"),
        "siteConfig": {
            "http20Enabled": True,
            "minTlsVersion": "1.2",
            "scmMinTlsVersion": "1.2",
            "ftpsState": "Disabled",
            "cors": {"allowedOrigins": u("corsAllowedOrigins"), "supportCredentials": True},
        },
        "functionAppConfig": {
            "deployment": {
                "storage": {
                    "type": "blobContainer",
                    "value": u("'${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'"),
                    "authentication": {
                        "type": "UserAssignedIdentity",
                        "userAssignedIdentityResourceId": u("identityId"),
                    },
                }
            },
            "scaleAndConcurrency": {
                "instanceMemoryMB": u("instanceMemoryMB"),
                "maximumInstanceCount": u("maximumInstanceCount"),
                "triggers": {"http": {"perInstanceConcurrency": u("httpPerInstanceConcurrency")}},
            },
            "runtime": {"name": "python", "version": "3.11"},
        },
    }


def test_the_resolver_takes_the_branch_the_plan_picks() -> None:
    """bicep.resolve can fail: an unknown plan or an unevaluable condition is refused."""
    node = bicep.parse(b"var x = hostingPlan == 'flex' ? { a: 1 } : { b: plan.id }\n").root_node
    value = bicep.named(bicep.named(node)[0])[1]
    assert bicep.resolve(value, {"hostingPlan": "flex"}) == {"a": 1}
    assert bicep.resolve(value, {"hostingPlan": "dedicated"}) == {"b": bicep.Unresolved("plan.id")}
    with pytest.raises(bicep.NotLiteral):
        bicep.resolve(value, {})  # the condition's name is unknown
    twice = bicep.parse(b"var y = union({ a: 1 }, { a: 2 })\n").root_node
    with pytest.raises(bicep.NotLiteral):
        bicep.resolve(bicep.named(bicep.named(twice)[0])[1], {})


@pytest.mark.parametrize("plan", HOSTING_PLANS)
def test_python_runtime_matches_the_project(plan: str) -> None:
    props = site_properties(plan)
    if plan == "flex":
        runtime = props["functionAppConfig"]["runtime"]
        assert runtime["name"] == "python"
        version = runtime["version"]
    else:
        stack, version = props["siteConfig"]["linuxFxVersion"].split("|")
        assert stack == "Python"
    pyproject = (bicep.ROOT / "pyproject.toml").read_text()
    assert f'">={version}' in pyproject
    assert version == "3.11"


@pytest.mark.parametrize("plan", HOSTING_PLANS)
def test_web_hardening(plan: str) -> None:
    props = site_properties(plan)
    assert props["httpsOnly"] is True
    config = props["siteConfig"]
    assert config["http20Enabled"] is True
    assert config["ftpsState"] == "Disabled"
    assert config["minTlsVersion"] == "1.2"
    policies = {
        bicep.literal(bicep.path(r.body, "name")): bicep.literal(bicep.path(r.body, "properties", "allow"))
        for r in functionapp().resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    }
    assert policies == {"ftp": False, "scm": False}
    for resource in functionapp().resources("Microsoft.Web/sites/"):
        assert resource.condition is None or "hostingPlan" not in bicep.text(resource.condition), resource.name


@pytest.mark.parametrize("plan", HOSTING_PLANS)
def test_platform_cors_and_the_app_setting_come_from_one_parameter(plan: str) -> None:
    cors = site_properties(plan)["siteConfig"]["cors"]
    assert cors["allowedOrigins"] == bicep.Unresolved("corsAllowedOrigins")
    # credentials on: the stream cookie crosses origins only with them (tested below: never with '*')
    assert cors["supportCredentials"] is True
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
    for plan in HOSTING_PLANS:
        assert site_properties(plan)["siteConfig"]["cors"]["supportCredentials"] is True
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
    scale = site_properties("flex")["functionAppConfig"]["scaleAndConcurrency"]
    assert scale["instanceMemoryMB"] == bicep.Unresolved("instanceMemoryMB")
    assert scale["maximumInstanceCount"] == bicep.Unresolved("maximumInstanceCount")
    http = scale["triggers"]["http"]["perInstanceConcurrency"]
    assert http == bicep.Unresolved("httpPerInstanceConcurrency")
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
    # Dedicated: no perInstanceConcurrency; the host's HTTP limit is unbounded there unless
    # host.json sets one, so one instance holds every stream up to SSE_MAX_STREAMS
    host = json.loads((bicep.ROOT / "host.json").read_text())["extensions"]["http"]
    assert "maxConcurrentRequests" not in host and "maxOutstandingRequests" not in host
    dedicated = source[: source.index("var dedicatedSiteConfig")].rsplit("\n\n", 1)[1]
    for word in ("maxConcurrentRequests", "unbounded", "SSE_MAX_STREAMS"):
        assert word in dedicated, f"the Dedicated comment should mention {word!r}"


def test_instance_memory_default_is_the_budget_size() -> None:
    main = bicep.load(bicep.MAIN)
    assert main.param_default("instanceMemoryMB") == 512
    assert bicep.decorator_values(main.params["instanceMemoryMB"], "allowed") == [[512, 2048, 4096]]


def test_deployment_package_container_is_the_one_storage_creates() -> None:
    main = bicep.load(bicep.MAIN)
    assert bicep.text(bicep.module_params(main, "storage")["deploymentContainerName"]) == "deploymentContainerName"
    assert bicep.text(main_params()["deploymentContainerName"]) == "deploymentContainerName"
    storage = site_properties("flex")["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert "deploymentContainerName" in storage["value"].text


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
