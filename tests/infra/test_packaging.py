"""azd (azure.yaml + parameters), the deployment package (.funcignore) and the emulator
compose file."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import yaml

import settings as app_settings
from tests.infra import bicep
from tests.infra.project import local_values, run_probe

ROOT = bicep.ROOT


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# --- azd --------------------------------------------------------------------------------


def test_azure_yaml_deploys_one_python_function_app_from_the_root() -> None:
    azure = load_yaml(ROOT / "azure.yaml")
    assert azure["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert azure["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}
    # Bicep tags the site with the service name azd deploys to
    assert "'azd-service-name': 'api'" in (bicep.MODULES / "functionapp.bicep").read_text()


def test_azd_generates_a_long_enough_signing_key_once() -> None:
    hooks = load_yaml(ROOT / "azure.yaml")["hooks"]["preprovision"]
    posix, windows = hooks["posix"]["run"], hooks["windows"]["run"]
    assert "azd env get-value STREAM_TOKEN_SIGNING_KEY" in posix and "token_urlsafe(48)" in posix
    assert "azd env get-value STREAM_TOKEN_SIGNING_KEY" in windows and "GetBytes(48)" in windows
    main = bicep.load(bicep.MAIN)
    assert bicep.decorator_values(main.params["streamTokenSigningKey"], "minLength") == [32]


FAKE_AZD = """#!/bin/sh
# azd env get-value / azd env set over a KEY=value file, as the hooks use them
case "$1 $2" in
  "env get-value")
    value=$(grep "^$3=" "$FAKE_AZD_ENV" | cut -d= -f2-)
    [ -n "$value" ] || { echo "ERROR: key '$3' not found" >&2; exit 1; }
    printf '%s\\n' "$value" ;;
  "env set")
    grep -v "^$3=" "$FAKE_AZD_ENV" > "$FAKE_AZD_ENV.new"; mv "$FAKE_AZD_ENV.new" "$FAKE_AZD_ENV"
    printf '%s=%s\\n' "$3" "$4" >> "$FAKE_AZD_ENV" ;;
  *) exit 2 ;;
esac
"""


def parameter_variables() -> dict[str, str]:
    """main.bicep parameter -> the azd environment variable main.parameters.json reads it from.

    A plain ${VAR} each: azd uses the Bicep default when VAR is empty, so defaults live in
    main.bicep only (no ${VAR=default} copy to drift)."""
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    found = {}
    for name, entry in parameters.items():
        match = re.fullmatch(r"\$\{([A-Z_]+)\}", entry["value"])
        assert match, f"{name}: {entry['value']!r} is not one plain ${{VAR}} (the default lives in main.bicep)"
        found[name] = match.group(1)
    return found


# What azd itself sets before any hook runs: `azd env new <name> --location <region>`
# (or AZURE_ENV_NAME / AZURE_LOCATION in the shell) is the documented start.
AZD_OWN = {"AZURE_ENV_NAME": "dev", "AZURE_LOCATION": "swedencentral"}
# What the user must choose; the hook refuses to go on without it, naming it.
USER_INPUTS = {"CORS_ALLOWED_ORIGINS": "https://app.example.com"}


def posix_hook(tmp_path: Path, env_values: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run the posix preprovision hook against a fake azd: the process and the azd environment after it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    azd = bin_dir / "azd"
    azd.write_text(FAKE_AZD)
    azd.chmod(0o755)
    store = tmp_path / "azd.env"
    store.write_text("".join(f"{k}={v}\n" for k, v in env_values.items()))
    hook = load_yaml(ROOT / "azure.yaml")["hooks"]["preprovision"]["posix"]["run"]
    # azd hands the hook its environment's values as variables too
    inherited = {k: v for k, v in os.environ.items() if k not in set(parameter_variables().values())}
    env = {
        **inherited,
        **env_values,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_AZD_ENV": str(store),
    }
    result = subprocess.run(["sh", "-eu", "-c", hook], env=env, capture_output=True, text=True, timeout=30, check=False)
    return result, dict(line.split("=", 1) for line in store.read_text().splitlines() if line)


def run_posix_hook(tmp_path: Path, env_values: dict[str, str]) -> dict[str, str]:
    """The azd environment after a successful hook run, on top of azd's own values and the user's inputs."""
    result, after = posix_hook(tmp_path, {**AZD_OWN, **USER_INPUTS, **env_values})
    assert result.returncode == 0, result.stderr
    return after


def test_the_hook_keeps_the_signing_key_and_the_budget_start_date_once_set(tmp_path: Path) -> None:
    first = run_posix_hook(tmp_path, {})
    assert len(first["STREAM_TOKEN_SIGNING_KEY"]) == 64
    assert "BUDGET_START_DATE" not in first, "no budget, no start date (a past one is refused at creation)"
    with_budget = run_posix_hook(tmp_path, {**first, "BUDGET_CONTACT_EMAILS": "ops@example.com"})
    assert with_budget["STREAM_TOKEN_SIGNING_KEY"] == first["STREAM_TOKEN_SIGNING_KEY"]
    assert with_budget["BUDGET_START_DATE"] == datetime.now(UTC).strftime("%Y-%m-01")
    # a later month: the stored date stands (ARM refuses to change a budget's start date)
    later = run_posix_hook(tmp_path, {**with_budget, "BUDGET_START_DATE": "2020-01-01"})
    assert later["BUDGET_START_DATE"] == "2020-01-01"
    windows = load_yaml(ROOT / "azure.yaml")["hooks"]["preprovision"]["windows"]["run"]
    assert "azd env get-value BUDGET_CONTACT_EMAILS" in windows
    assert "-not (azd env get-value BUDGET_START_DATE" in windows and "ToString('yyyy-MM') + '-01'" in windows


def test_the_budget_start_date_comes_from_the_azd_environment() -> None:
    main = bicep.load(bicep.MAIN)
    # empty when no budget is made; a literal, never a computed date that would move
    assert main.param_default("budgetStartDate") == ""
    assert "utcNow" not in bicep.calls(main.tree.root_node)
    assert parameter_variables()["budgetStartDate"] == "BUDGET_START_DATE"
    assert parameter_variables()["budgetContactEmails"] == "BUDGET_CONTACT_EMAILS"
    assert bicep.text(bicep.module_params(main, "budget")["startDate"]) == "budgetStartDate"
    budget = bicep.load(bicep.MODULES / "budget.bicep")
    [resource] = budget.resources("Microsoft.Consumption/budgets@")
    assert bicep.text(bicep.path(resource.body, "properties", "timePeriod", "startDate")) == "startDate"
    # a budget asked for without its date fails on this parameter, not quietly later
    assert bicep.decorator_values(budget.params["startDate"], "minLength") == [len("2026-01-01")]
    assert budget.params["startDate"].value is None


def test_no_parameter_can_make_azd_prompt(tmp_path: Path) -> None:
    """azd prompts for a parameter without a default whose variable is empty or unset, and
    `azd up --no-prompt` then fails. So each one is azd's own, a checked user input, or set
    by the hook on every run."""
    main = bicep.load(bicep.MAIN)
    variables = parameter_variables()
    after = run_posix_hook(tmp_path, {})
    for name, decl in main.params.items():
        if decl.value is not None:
            continue
        assert name in variables, f"{name} has no default and no value in main.parameters.json: azd would prompt"
        var = variables[name]
        assert after.get(var), f"{name}: {var} is empty after the hook, so azd would prompt"
    # the checked inputs really are checked: without one the hook stops and names it
    for var in USER_INPUTS:
        result, _ = posix_hook(tmp_path, {**AZD_OWN, **{k: v for k, v in USER_INPUTS.items() if k != var}})
        assert result.returncode != 0 and var in result.stderr, result


def test_the_hook_refuses_a_wildcard_origin(tmp_path: Path) -> None:
    for origins in ("*", "https://app.example.com,*", "https://*.example.com"):
        result, after = posix_hook(tmp_path, {**AZD_OWN, "CORS_ALLOWED_ORIGINS": origins})
        assert result.returncode != 0 and "CORS_ALLOWED_ORIGINS" in result.stderr, origins
        assert "STREAM_TOKEN_SIGNING_KEY" not in after, "stopped before doing anything"
    windows = load_yaml(ROOT / "azure.yaml")["hooks"]["preprovision"]["windows"]["run"]
    assert "$env:CORS_ALLOWED_ORIGINS" in windows and ".Contains('*')" in windows and "exit 1" in windows


def test_parameters_file_covers_main_bicep() -> None:
    main = bicep.load(bicep.MAIN)
    variables = parameter_variables()  # each a plain ${VAR}: from the azd environment, not the file
    assert set(variables) <= set(main.params), set(variables) - set(main.params)
    required = {name for name, d in main.params.items() if d.value is None}
    assert required <= set(variables), required - set(variables)
    assert main.secure_params() <= set(variables)


def test_api_base_url_is_an_output() -> None:
    outputs = bicep.load(bicep.MAIN).outputs
    assert bicep.text(outputs["API_BASE_URL"].value) == "'https://${functionApp.outputs.defaultHostName}/api'"
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["http"]["routePrefix"] == "api"


# --- the deployment package --------------------------------------------------------------


def funcignore_patterns() -> list[str]:
    lines = (ROOT / ".funcignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        directory = pattern.endswith("/")
        pat = pattern.rstrip("/")
        candidates = parts[:-1] if directory else parts
        if any(fnmatch.fnmatch(part, pat) for part in candidates):
            return True
        if "/" in pat and fnmatch.fnmatch(path, pat + ("/*" if directory else "")):
            return True
    return False


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def test_the_matcher_can_fail() -> None:
    patterns = ["tests/", "*.pyc", "local.settings*.example"]
    assert ignored("tests/infra/test_x.py", patterns)
    assert ignored("jobs/__pycache__/x.pyc", patterns)
    assert ignored("local.settings.servicebus.json.example", patterns)
    assert not ignored("jobs/store.py", patterns)


def test_package_excludes_everything_but_the_app() -> None:
    patterns = funcignore_patterns()
    shipped = [f for f in tracked_files() if not ignored(f, patterns)]
    for prefix in (
        "tests/",
        "client/",
        "bench/",
        "node_modules/",
        ".venv/",
        ".local/",
        "infra/",
        "docs/",
        "scripts/",
        "emulation/",
        "local_host/",
        ".ci/",
    ):
        assert not [f for f in shipped if f.startswith(prefix)], prefix
    for name in ("local.settings.json.example", "azure.yaml", "Makefile", "requirements-dev.txt", "package.json"):
        assert name not in shipped, name
    for pattern in ("node_modules/", ".venv/", ".local/", "local.settings.json"):
        assert pattern in patterns, pattern


def test_package_keeps_everything_the_app_imports() -> None:
    probe = (
        "import json, os, sys, function_app\n"
        "root = os.getcwd()\n"
        "files = sorted({os.path.relpath(m.__file__, root) for m in list(sys.modules.values())\n"
        "    if getattr(m, '__file__', None) and os.path.abspath(m.__file__).startswith(root + os.sep)\n"
        "    and '.venv' not in m.__file__})\n"
        "print(json.dumps(files))\n"
    )
    for backend in ("storage", "servicebus"):
        imported = run_probe(backend, probe)
        assert isinstance(imported, list)
        assert "function_app.py" in imported and "settings.py" in imported
        patterns = funcignore_patterns()
        dropped = [f for f in imported if ignored(f, patterns)]
        assert not dropped, f"the package would miss {dropped}"
    for needed in ("host.json", "requirements.txt", "function_app.py"):
        assert not ignored(needed, funcignore_patterns()), needed


# --- local emulation -------------------------------------------------------------------


def test_compose_runs_azurite_and_the_service_bus_emulator_with_its_config() -> None:
    compose = load_yaml(ROOT / "emulation" / "compose.yaml")
    services = compose["services"]
    assert {"azurite", "servicebus", "sqledge"} <= set(services)
    assert {"10000:10000", "10001:10001", "10002:10002"} <= set(services["azurite"]["ports"])
    emulator = services["servicebus"]
    assert "./Config.json:/ServiceBus_Emulator/ConfigFiles/Config.json:ro" in emulator["volumes"]
    assert "5672:5672" in emulator["ports"]  # the sb://localhost of the local connection string
    assert emulator["environment"]["SQL_SERVER"] == "sqledge"
    assert emulator["depends_on"] == ["sqledge"]
    for service in ("servicebus", "sqledge"):
        password = services[service]["environment"]["MSSQL_SA_PASSWORD"]
        assert password.startswith("${SQL_PASSWORD"), "no password is stored in the file"


def test_init_storage_creates_what_the_app_expects() -> None:
    sys.path.insert(0, str(ROOT / "emulation"))
    try:
        import init_storage
    finally:
        sys.path.pop(0)

    def names(values: dict[str, str]) -> tuple[list[str], list[str]]:
        with mock.patch.dict(os.environ):  # names() loads the settings from the environment
            for name in app_settings.setting_names():
                os.environ.pop(name, None)
            os.environ.pop("WEBSITE_INSTANCE_ID", None)
            return init_storage.names(values)

    storage, servicebus = local_values("storage"), local_values("servicebus")
    tables, queues = names({**storage, "JOBS_TABLE_PREFIX": "jobs"})
    assert tables == ["jobs", "jobsfeed", "jobsactive"]
    assert queues == ["jobs", "jobs-poison"]
    assert names(servicebus)[1] == []
    assert names({**storage, "JOBS_TABLE_PREFIX": "demo"})[0] == ["demo", "demofeed", "demoactive"]
    without_prefix = {k: v for k, v in servicebus.items() if k != "JOBS_TABLE_PREFIX"}
    assert names(without_prefix)[0] == ["jobs", "jobsfeed", "jobsactive"]  # the settings.py default
