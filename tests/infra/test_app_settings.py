"""App settings: every setting the code reads is set in Azure (Bicep) and locally
(local.settings*.json.example), and nothing else is, apart from a few platform settings.

The list of names comes from settings.setting_names(), never from a list kept here.
"""

from __future__ import annotations

import secrets

import pytest

import settings as app_settings
from tests.infra import bicep
from tests.infra.project import HOSTING_PLANS, LOCAL_EXAMPLES, bicep_settings, local_values, variant_settings

# Settings the Functions platform reads (not the code). Small and explicit on purpose.
PLATFORM_AZURE = {
    "AzureWebJobsStorage__credential",  # identity-based host storage
    "AzureWebJobsStorage__blobServiceUri",  # host state and timer leases
    "ServiceBusConnection__credential",  # identity-based trigger connection
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",  # Entra auth for telemetry
    "PYTHON_ENABLE_INIT_INDEXING",  # HTTP streaming (FastAPI extension)
}
PLATFORM_LOCAL = {"FUNCTIONS_WORKER_RUNTIME", "PYTHON_ENABLE_INIT_INDEXING"}
# What a Dedicated (App Service) plan needs as app settings and Flex takes from functionAppConfig
# (the Functions app settings reference, "Flex Consumption plan deprecations", refuses them on Flex).
PLATFORM_DEDICATED = {
    "FUNCTIONS_EXTENSION_VERSION": "~4",  # the Functions host, 4.x
    "FUNCTIONS_WORKER_RUNTIME": "python",  # the language worker
    "SCM_DO_BUILD_DURING_DEPLOYMENT": "true",  # the zip deploy builds requirements.txt remotely
    "ENABLE_ORYX_BUILD": "true",  # with Oryx, as a Linux remote build needs
}
# Settings of other plans that never belong on Flex (deprecated there, or Azure Files content
# shares, which Flex and Dedicated do not use).
NEVER_ON_FLEX = set(PLATFORM_DEDICATED) | {
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
}


def names(where: str) -> set[str]:
    return {name for name, w in app_settings.setting_names().items() if w == where}


def test_the_module_receives_main_app_settings() -> None:
    params = bicep.module_params(bicep.load(bicep.MAIN), "functionApp")
    assert bicep.text(params["appSettings"]) == "appSettings"


def test_every_setting_the_code_reads_in_azure_is_in_bicep() -> None:
    in_bicep = bicep_settings()
    required = names("both") | names("azure")
    missing = required - set(in_bicep)
    assert not missing, f"settings the code reads but Bicep does not set: {sorted(missing)}"
    conditional = sorted(n for n in required if in_bicep[n][1])
    assert not conditional, f"always-needed settings set only conditionally: {conditional}"


def test_optional_settings_are_set_only_for_their_mode() -> None:
    in_bicep = bicep_settings()
    for name in names("optional"):
        assert name in in_bicep, f"optional setting {name} cannot be set from Bicep"
        assert in_bicep[name][1], f"optional setting {name} should be set only when its mode is used"
    variables = bicep.load(bicep.MAIN).variables
    bearer = bicep.text(variables["bearerAppSettings"].value)
    rotation = bicep.text(variables["rotationAppSettings"].value)
    assert bearer.startswith("authMode == 'bearer' ?") and "AUTH_BEARER_ISSUER" in bearer
    assert rotation.startswith("!empty(streamTokenPreviousKey) ?") and "STREAM_TOKEN_PREVIOUS_KEY_UNTIL" in rotation


def test_bicep_sets_nothing_the_code_does_not_read_except_platform_settings() -> None:
    # a `tuning` setting may be added to change it; left out, the code default applies
    known = names("both") | names("azure") | names("optional") | names("tuning") | PLATFORM_AZURE
    extra = set(bicep_settings()) - known - set(PLATFORM_DEDICATED)
    assert not extra, f"Bicep sets settings nobody reads: {sorted(extra)}"


@pytest.mark.parametrize("plan", HOSTING_PLANS)
def test_each_plan_gets_every_setting_the_code_reads_and_its_own_platform_settings(plan: str) -> None:
    """The same settings on both plans; only the Dedicated plan's platform settings differ."""
    deployed = variant_settings(plan)
    required = names("both") | names("azure")
    assert required <= set(deployed), sorted(required - set(deployed))
    assert deployed["PYTHON_ENABLE_INIT_INDEXING"] == "1"  # HTTP streaming, on both plans
    platform = {name: deployed.get(name) for name in PLATFORM_DEDICATED}
    if plan == "dedicated":
        assert platform == PLATFORM_DEDICATED
        local = local_values("storage")
        assert deployed["FUNCTIONS_WORKER_RUNTIME"] == local["FUNCTIONS_WORKER_RUNTIME"]
    else:
        assert not NEVER_ON_FLEX & set(deployed), sorted(NEVER_ON_FLEX & set(deployed))
    assert set(variant_settings("flex")) | set(PLATFORM_DEDICATED) == set(variant_settings("dedicated"))


def test_the_dedicated_settings_follow_the_hosting_plan_parameter() -> None:
    variables = bicep.load(bicep.MAIN).variables
    dedicated = bicep.text(variables["dedicatedAppSettings"].value)
    assert dedicated.startswith("hostingPlan == 'dedicated' ?")
    for name in PLATFORM_DEDICATED:
        assert bicep_settings()[name][1], f"{name} must be conditional: Flex refuses it"


def test_connection_strings_are_never_azure_settings() -> None:
    leaked = names("local") & set(bicep_settings())
    assert not leaked, f"connection-string settings in Bicep: {sorted(leaked)}"


def test_identity_based_connections_have_credential_and_client_id() -> None:
    """Each identity-based connection the host uses names the user-assigned identity."""
    in_bicep = bicep_settings()
    for prefix in names("local"):  # AzureWebJobsStorage, ServiceBusConnection
        assert bicep.literal(in_bicep[f"{prefix}__credential"][0]) == "managedidentity"
        client_id = bicep.text(in_bicep[f"{prefix}__clientId"][0])
        assert client_id == "identity.outputs.clientId", prefix
    auth = bicep.text(in_bicep["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"][0])
    assert auth == "'ClientId=${identity.outputs.clientId};Authorization=AAD'"


def resolve(node: bicep.Node, given: dict[str, str]) -> str:
    """A Bicep value as the app will see it, with parameter defaults (or `given`)."""
    main = bicep.load(bicep.MAIN)
    if node.type == "identifier":
        name = bicep.text(node)
        if name in given:
            return given[name]
        return str(main.param_default(name))
    if node.type == "call_expression" and bicep.text(bicep.named(node)[0]) == "string":
        return resolve(bicep.named(bicep.named(node)[1])[0], given)
    return str(bicep.literal(node))


AZURE_FAKES = {
    "AzureWebJobsStorage__tableServiceUri": "https://stexample.table.core.windows.net/",
    "AzureWebJobsStorage__queueServiceUri": "https://stexample.queue.core.windows.net/",
    "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
    "ServiceBusConnection__fullyQualifiedNamespace": "sb-example.servicebus.windows.net",
    "ServiceBusConnection__clientId": "00000000-0000-0000-0000-000000000001",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000002",
}


def clear_setting_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in app_settings.setting_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("WEBSITE_INSTANCE_ID", raising=False)


def test_bicep_settings_load_in_azure_with_parameter_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployed settings pass the app's own validation, with the Azure-only checks on."""
    clear_setting_env(monkeypatch)
    given = {"corsAllowedOrigins": "https://app.example.com"}
    for name, (value, conditional) in bicep_settings().items():
        if conditional or name not in app_settings.setting_names():
            continue
        if name in AZURE_FAKES:
            monkeypatch.setenv(name, AZURE_FAKES[name])
        elif bicep.is_interpolated(value) and bicep.text(value).startswith("'@Microsoft.KeyVault("):
            monkeypatch.setenv(name, secrets.token_urlsafe(48))  # what the platform resolves
        else:
            monkeypatch.setenv(name, resolve(value, given))
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "test-instance")  # running_in_azure()
    loaded = app_settings.load_settings()
    assert loaded.queue_backend is app_settings.QueueBackend.SERVICEBUS
    assert loaded.auth_mode is app_settings.AuthMode.EASYAUTH
    assert loaded.cors_origins == ["https://app.example.com"]
    assert loaded.token_key is not None


@pytest.mark.parametrize("backend", sorted(LOCAL_EXAMPLES))
def test_local_example_sets_every_setting_the_code_reads_locally(backend: str) -> None:
    values = local_values(backend)
    missing = names("both") - set(values)
    assert not missing, f"{LOCAL_EXAMPLES[backend].name} lacks {sorted(missing)}"
    assert "AzureWebJobsStorage" in values
    azure_only = names("azure") & set(values)
    assert not azure_only, f"Azure-only settings in a local example: {sorted(azure_only)}"
    extra = set(values) - set(app_settings.setting_names()) - PLATFORM_LOCAL  # `tuning` ones may be set
    assert not extra, f"local example sets settings nobody reads: {sorted(extra)}"
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["PYTHON_ENABLE_INIT_INDEXING"] == "1"


def test_each_connection_string_setting_is_in_a_local_example() -> None:
    present = set()
    for backend in LOCAL_EXAMPLES:
        present |= set(local_values(backend))
    assert names("local") <= present


@pytest.mark.parametrize("backend", sorted(LOCAL_EXAMPLES))
def test_local_example_loads_with_its_backend_and_only_public_development_values(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_setting_env(monkeypatch)
    values = local_values(backend)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    loaded = app_settings.load_settings()
    assert loaded.queue_backend.value == backend
    assert loaded.auth_mode is app_settings.AuthMode.NONE
    # public development values only: Azurite, the emulator's documented key, a placeholder signing key
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    if backend == "servicebus":
        assert "ServiceBusConnection" in values
    if "ServiceBusConnection" in values:
        assert "SharedAccessKey=SAS_KEY_VALUE;" in values["ServiceBusConnection"]
        assert "UseDevelopmentEmulator=true" in values["ServiceBusConnection"]
    assert "local-development-only" in values["STREAM_TOKEN_SIGNING_KEY"]
