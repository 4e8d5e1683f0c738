"""Identity: every data-plane access has a least-privilege role assignment, and no key,
connection string or secret value is created, stored in settings or output."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

import settings as app_settings
from tests.infra import bicep, functions
from tests.infra.project import HOSTING_PLANS, LOCAL_EXAMPLES, bicep_settings, site, site_properties

ROLES = {  # DESIGN.md, plus Key Vault Secrets User for the Key Vault reference
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Azure Service Bus Data Sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
    "Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
ROLE_NAMES = {v: k for k, v in ROLES.items()}

RBAC = bicep.MODULES / "rbac.bicep"


@dataclass(frozen=True)
class Assignment:
    name: str
    role: str  # role name
    scope_type: str  # resource type of the scope
    scope: str  # expression
    condition: str  # '' when unconditional
    principal_id: str
    principal_type: object


def _scope_type(file: bicep.BicepFile, scope: str) -> str:
    base, _, child = re.sub(r"\[.*\]$", "", scope).partition("::")
    [decl] = [d for d in file.decls if d.kind == "resource" and d.name == base]
    if not child:
        return (decl.type_string or "").split("@")[0]
    for node in bicep.walk(decl.body):
        if node.type == "resource_declaration" and bicep.text(bicep.named(node)[0]) == child:
            relative = bicep.string_value(bicep.named(node)[1])
            return f"{(decl.type_string or '').split('@')[0]}/{relative}"
    raise AssertionError(f"no child resource {scope}")


def assignments() -> list[Assignment]:
    file = bicep.load(RBAC)
    roles_var = bicep.properties(file.variables["roles"].value)
    out = []
    for decl in file.resources("Microsoft.Authorization/roleAssignments"):
        assert decl.body is not None
        props = bicep.properties(bicep.path(decl.body, "properties"))
        role_ref = props["roleDefinitionId"]
        assert bicep.calls(role_ref) == {"subscriptionResourceId"}, decl.name
        role_key = bicep.text(bicep.named(role_ref)[1]).split("roles.")[-1].rstrip(")").strip()
        guid = bicep.literal(roles_var[role_key])
        scope = bicep.text(bicep.path(decl.body, "scope"))
        out.append(
            Assignment(
                name=decl.name,
                role=ROLE_NAMES.get(str(guid), f"unknown role {guid}"),
                scope_type=_scope_type(file, scope),
                scope=scope,
                condition=bicep.text(decl.condition) if decl.condition is not None else "",
                principal_id=bicep.text(props["principalId"]),
                principal_type=bicep.literal(props["principalType"]),
            )
        )
    return out


def granted(role: str, backend: str) -> list[Assignment]:
    """Assignments of `role` that exist when JOBS_QUEUE_BACKEND is `backend`."""
    found = []
    for a in assignments():
        if a.role != role:
            continue
        if a.condition and "queueBackend" in a.condition and f"'{backend}'" not in a.condition:
            continue
        found.append(a)
    return found


# What each identity-based access needs. A new identity setting or trigger type in the
# code fails the tests below until its role is decided here.
SETTING_ROLES = {
    # the job tables and the host's monthly diagnostic-events tables: the account (see below)
    "AzureWebJobsStorage__tableServiceUri": ("Storage Table Data Contributor", "Microsoft.Storage/storageAccounts"),
    "AzureWebJobsStorage__queueServiceUri": ("Storage Queue Data Contributor", "storageAccounts"),
    "ServiceBusConnection__fullyQualifiedNamespace": ("Azure Service Bus Data Sender", "namespaces/queues"),
    "APPLICATIONINSIGHTS_CONNECTION_STRING": ("Monitoring Metrics Publisher", "Microsoft.Insights/components"),
}
TRIGGER_ROLES = {
    "serviceBusTrigger": ("Azure Service Bus Data Receiver", "namespaces/queues"),
    "queueTrigger": ("Storage Queue Data Contributor", "storageAccounts"),
    "timerTrigger": ("Storage Blob Data Owner", "Microsoft.Storage/storageAccounts"),  # host leases
    "httpTrigger": None,
}


def _backend_of(setting: str) -> str | None:
    if setting.startswith("ServiceBusConnection"):
        return "servicebus"
    if setting == "AzureWebJobsStorage__queueServiceUri":
        return "storage"
    return None


def test_every_identity_setting_the_code_reads_has_its_role() -> None:
    identity_settings = {
        n for n, w in app_settings.setting_names().items() if w == "azure" and not n.endswith("__clientId")
    }
    unknown = identity_settings - set(SETTING_ROLES)
    assert not unknown, f"decide the role for: {sorted(unknown)}"
    for setting, (role, scope_suffix) in SETTING_ROLES.items():
        backend = _backend_of(setting)
        for b in [backend] if backend else ["servicebus", "storage"]:
            found = granted(role, b)
            assert found, f"{setting} ({b} backend) needs {role}"
            assert all(a.scope_type.endswith(scope_suffix) for a in found), (setting, found)


@pytest.mark.parametrize("backend", ["servicebus", "storage"])
def test_every_trigger_connection_has_its_role(backend: str) -> None:
    for trigger in functions.triggers(backend):
        assert trigger["type"] in TRIGGER_ROLES, f"decide the role for a {trigger['type']}"
        needed = TRIGGER_ROLES[trigger["type"]]
        if needed is None:
            continue
        role, scope_suffix = needed
        found = granted(role, backend)
        assert found and all(a.scope_type.endswith(scope_suffix) for a in found), (trigger, found)
        if trigger["connection"]:
            # identity-based: the host must know which identity to use for this connection
            names = set(bicep_settings())
            assert f"{trigger['connection']}__credential" in names
            assert f"{trigger['connection']}__clientId" in names


def test_the_health_check_peek_and_the_start_send_are_covered() -> None:
    """ServiceBusJobQueue sends (start) and peeks (health): Sender + Receiver on the queue."""
    for role in ("Azure Service Bus Data Sender", "Azure Service Bus Data Receiver"):
        [a] = granted(role, "servicebus")
        assert a.scope == "serviceBus::jobsQueue"
        assert granted(role, "storage") == []


def test_the_table_role_covers_the_job_tables_and_the_host_diagnostic_tables() -> None:
    """The host writes diagnostic events through AzureWebJobsStorage__tableServiceUri into a table
    it creates each month (AzureFunctionsDiagnosticEvents<yyyyMM>): a role on the job tables
    alone gets 403 AuthorizationPermissionMismatch on each write. So the role is on the account,
    which holds this app's data only, for both backends and without condition."""
    for backend in ("servicebus", "storage"):
        [a] = granted("Storage Table Data Contributor", backend)
        assert (a.scope, a.scope_type, a.condition) == ("storage", "Microsoft.Storage/storageAccounts", ""), a
    # the host is told where tables live under the name it reads, so it finds them
    assert bicep.text(bicep_settings()["AzureWebJobsStorage__tableServiceUri"][0]) == "storage.outputs.tableEndpoint"
    rbac = bicep.load(RBAC)
    assert "tableNames" not in rbac.params, "no per-table scope left to keep in step with the code"
    # the same account the app settings point at, one used by nothing else in the template
    main = bicep.load(bicep.MAIN)
    assert bicep.text(bicep.module_params(main, "rbac")["storageAccountName"]) == "storage.outputs.name"
    storage_modules = [m for m in main.modules.values() if m.type_string == "modules/storage.bicep"]
    assert len(storage_modules) == 1


def test_the_tables_bicep_creates_are_the_ones_the_code_uses() -> None:
    from jobs.store import table_names

    main = bicep.load(bicep.MAIN)
    prefix = main.param_default("jobsTablePrefix")
    assert prefix == app_settings.Settings.model_fields["table_prefix"].default
    expected = table_names(str(prefix))
    in_bicep = [
        bicep.text(n).strip("'").replace("${jobsTablePrefix}", prefix)
        for n in bicep.named(main.variables["tableNames"].value)
    ]
    assert tuple(prefix if n == "jobsTablePrefix" else n for n in in_bicep) == tuple(expected)
    assert bicep.text(bicep.module_params(main, "storage")["tableNames"]) == "tableNames"


def test_key_vault_reference_identity_and_secret_reader() -> None:
    readers = {a.scope: a for a in assignments() if a.role == "Key Vault Secrets User"}
    assert set(readers) == {"vault::signingKey", "vault::previousKey"}
    assert readers["vault::signingKey"].condition == ""
    assert readers["vault::previousKey"].condition == "(hasPreviousSigningKey)"
    assert all(a.scope_type.endswith("vaults/secrets") for a in readers.values())
    for plan in HOSTING_PLANS:
        assert site_properties(plan)["keyVaultReferenceIdentity"] == bicep.Unresolved("identityId"), plan
    in_bicep = bicep_settings()
    for name in ("STREAM_TOKEN_SIGNING_KEY", "STREAM_TOKEN_PREVIOUS_KEY"):
        value = bicep.text(in_bicep[name][0])
        assert re.fullmatch(r"'@Microsoft\.KeyVault\(SecretUri=\$\{keyVault\.outputs\.\w+SecretUri\}\)'", value), value


def test_the_previous_key_exists_exactly_while_a_rotation_is_under_way() -> None:
    vault = bicep.load(bicep.MODULES / "keyvault.bicep")
    assert "hasPreviousSigningKey" not in vault.params, "derived from the key itself, not passed beside it"
    assert bicep.text(vault.variables["hasPreviousSigningKey"].value) == "!empty(previousSigningKey)"
    [secret] = [r for r in vault.resources("Microsoft.KeyVault/vaults/secrets") if r.name == "previousKeySecret"]
    assert bicep.text(secret.condition) == "(hasPreviousSigningKey)"
    main = bicep.load(bicep.MAIN)
    assert "hasPreviousSigningKey" not in bicep.module_params(main, "keyVault")
    # the reader role and the app settings follow the same key
    assert bicep.text(bicep.module_params(main, "rbac")["hasPreviousSigningKey"]) == "!empty(streamTokenPreviousKey)"
    assert bicep.text(bicep.module_params(main, "keyVault")["previousSigningKey"]) == "streamTokenPreviousKey"


def test_roles_are_least_privilege() -> None:
    all_assignments = assignments()
    assert {a.role for a in all_assignments} == set(ROLES), "every role is used, and no other"
    for a in all_assignments:
        assert a.principal_id == "principalId" and a.principal_type == "ServicePrincipal", a
        # explicit resource scope: never the resource group or the subscription
        assert a.scope and a.scope_type.startswith("Microsoft."), a
    main = bicep.load(bicep.MAIN)
    assert bicep.text(bicep.module_params(main, "rbac")["principalId"]) == "identity.outputs.principalId"


def test_the_app_runs_as_the_user_assigned_identity_only() -> None:
    app = site()
    identity = bicep.path(app.body, "identity")
    assert bicep.literal(bicep.path(identity, "type")) == "UserAssigned"
    assert bicep.text(bicep.path(identity, "userAssignedIdentities")).startswith("{\n      '${identityId}'")
    auth = site_properties("flex")["functionAppConfig"]["deployment"]["storage"]["authentication"]
    assert auth == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": bicep.Unresolved("identityId")}


def _all_files() -> list[bicep.BicepFile]:
    return [bicep.load(p) for p in bicep.bicep_files()]


SECRET_MEMBERS = {
    "ConnectionString",
    "connectionString",
    "primaryConnectionString",
    "secondaryConnectionString",
    "primaryKey",
    "secondaryKey",
    "InstrumentationKey",
    "keys",
}


def test_no_keys_are_listed_anywhere() -> None:
    for file in _all_files():
        listed = {c for c in bicep.calls(file.tree.root_node) if c.lower().startswith("list")}
        assert not listed, f"{file.path.name} calls {listed}"


def test_only_the_app_insights_connection_string_is_read_and_only_into_its_setting() -> None:
    for file in _all_files():
        for node in bicep.walk(file.tree.root_node):
            if node.type == "property_identifier" and bicep.text(node) in SECRET_MEMBERS:
                prop = node
                while prop.type != "object_property":
                    prop = prop.parent
                key = bicep.key_of(prop)
                assert (file.path.name, bicep.text(node), key) == (
                    "functionapp.bicep",
                    "ConnectionString",
                    "APPLICATIONINSIGHTS_CONNECTION_STRING",
                ), f"{file.path.name}: {bicep.text(prop)}"


def test_outputs_hold_no_key_secret_or_connection_string() -> None:
    for file in _all_files():
        secure = file.secure_params()
        for name, out in file.outputs.items():
            assert out.value is not None
            used = bicep.identifiers(out.value)
            assert not used & secure, f"{file.path.name} output {name} uses a secure parameter"
            assert not bicep.member_names(out.value) & SECRET_MEMBERS, f"{file.path.name} output {name}"
            assert "secretUriWithVersion" not in bicep.member_names(out.value)
            assert not re.search(r"connection|password|secret$|key$", name, re.IGNORECASE), name


def test_secure_parameters_reach_only_key_vault_secret_values() -> None:
    main = bicep.load(bicep.MAIN)
    for param in main.secure_params():
        uses = [n for n in bicep.walk(main.tree.root_node) if n.type == "identifier" and bicep.text(n) == param]
        for use in uses[1:]:  # [0] is the declaration
            context = use.parent
            while context.type not in ("object_property", "call_expression"):
                context = context.parent
            ok = bicep.text(context).startswith(("signingKey:", "previousSigningKey:", "empty(", "!empty("))
            assert ok, f"{param} used in {bicep.text(context)[:80]}"
    vault = bicep.load(bicep.MODULES / "keyvault.bicep")
    for param in vault.secure_params():
        secrets = [
            r for r in vault.resources("Microsoft.KeyVault/vaults/secrets") if param in bicep.identifiers(r.body)
        ]
        assert len(secrets) == 1
        assert bicep.text(bicep.path(secrets[0].body, "properties", "value")) == param


def test_local_auth_is_off_everywhere() -> None:
    storage = bicep.load(bicep.MODULES / "storage.bicep")
    [account] = storage.resources("Microsoft.Storage/storageAccounts@")
    props = bicep.path(account.body, "properties")
    assert bicep.literal(bicep.path(props, "allowSharedKeyAccess")) is False
    assert bicep.literal(bicep.path(props, "allowBlobPublicAccess")) is False
    assert bicep.literal(bicep.path(props, "minimumTlsVersion")) == "TLS1_2"
    assert bicep.literal(bicep.path(props, "supportsHttpsTrafficOnly")) is True
    sb = bicep.load(bicep.MODULES / "servicebus.bicep")
    [namespace] = sb.resources("Microsoft.ServiceBus/namespaces@")
    assert bicep.literal(bicep.path(namespace.body, "properties", "disableLocalAuth")) is True
    mon = bicep.load(bicep.MODULES / "monitoring.bicep")
    [appi] = mon.resources("Microsoft.Insights/components@")
    assert bicep.literal(bicep.path(appi.body, "properties", "DisableLocalAuth")) is True
    kv = bicep.load(bicep.MODULES / "keyvault.bicep")
    [vault] = kv.resources("Microsoft.KeyVault/vaults@")
    assert bicep.literal(bicep.path(vault.body, "properties", "enableRbacAuthorization")) is True


def test_no_file_of_the_deployment_holds_a_key() -> None:
    owned = [
        *bicep.INFRA.rglob("*"),
        *LOCAL_EXAMPLES.values(),
        bicep.ROOT / "azure.yaml",
        *(bicep.ROOT / "emulation").rglob("*"),
    ]
    for path in owned:
        if not path.is_file() or path.suffix in (".pyc",):
            continue
        body = path.read_text(errors="replace")
        assert not re.search(r"AccountKey=[A-Za-z0-9+/]{20,}", body), path
        assert not re.search(r"SharedAccessKey=(?!SAS_KEY_VALUE)[A-Za-z0-9+/=]{8,}", body), path
        assert not re.search(r"InstrumentationKey=[0-9a-f]{8}-", body), path
