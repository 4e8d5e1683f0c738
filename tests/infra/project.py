"""The project's files as the infra tests read them: the local settings examples, the app
settings Bicep deploys, the function app resource, the cost model, durations, and a probe
that imports the app the way the host would.

bicep.py reads Bicep in general; this module knows where this project keeps things.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from functools import cache
from types import ModuleType

import settings as app_settings
from tests.infra import bicep

ROOT = bicep.ROOT
FUNCTIONAPP = bicep.MODULES / "functionapp.bicep"

# --- local settings --------------------------------------------------------------------

LOCAL_EXAMPLES = {
    "storage": ROOT / "local.settings.json.example",
    "servicebus": ROOT / "local.settings.servicebus.json.example",
}


def local_values(backend: str) -> dict[str, str]:
    """The Values of the local settings example for a queue backend."""
    return json.loads(LOCAL_EXAMPLES[backend].read_text())["Values"]


def run_probe(backend: str, code: str) -> object:
    """Run `code` in a fresh interpreter at the repository root with the environment `func
    start` gives the app for `backend` (its example's Values); the JSON of its last line."""
    env = {k: v for k, v in os.environ.items() if k not in app_settings.setting_names()}
    env.pop("WEBSITE_INSTANCE_ID", None)  # not in Azure
    env.update(local_values(backend))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the function app in Bicep -----------------------------------------------------------


def functionapp() -> bicep.BicepFile:
    return bicep.load(FUNCTIONAPP)


def site() -> bicep.Decl:
    """The Microsoft.Web/sites resource of the function app."""
    [decl] = functionapp().resources("Microsoft.Web/sites@")
    return decl


# The two hosting plans main.bicep takes (`hostingPlan`): the same app on either.
HOSTING_PLANS = ("flex", "dedicated")


def variant_scope(plan: str, **given: object) -> dict[str, object]:
    """Parameter values of one deployment variant: `plan`, the other parameters at their defaults."""
    main = bicep.load(bicep.MAIN)
    scope: dict[str, object] = {name: main.param_default(name) for name in ("dedicatedSku", "authMode")}
    scope.update(hostingPlan=plan, streamTokenPreviousKey="")
    scope.update(given)
    return scope


def site_properties(plan: str) -> dict:
    """The function app's `properties` as deployed on `plan` (bicep.resolve: conditionals taken)."""
    value = bicep.resolve(bicep.path(site().body, "properties"), variant_scope(plan), functionapp().variables)
    assert isinstance(value, dict)
    return value


def plan_resource(plan: str) -> dict:
    """The Microsoft.Web/serverfarms resource body as deployed on `plan`."""
    [decl] = functionapp().resources("Microsoft.Web/serverfarms@")
    value = bicep.resolve(decl.body, variant_scope(plan), functionapp().variables)  # type: ignore[arg-type]
    assert isinstance(value, dict)
    return value


def variant_settings(plan: str, **given: object) -> dict[str, object]:
    """The app settings deployed on `plan` (names -> resolved values), the module's own included."""
    main = bicep.load(bicep.MAIN)
    value = bicep.resolve(main.variables["appSettings"].value, variant_scope(plan, **given), main.variables)
    assert isinstance(value, dict)
    [config] = [
        r
        for r in functionapp().resources("Microsoft.Web/sites/config")
        if r.body is not None and bicep.literal(bicep.path(r.body, "name")) == "appsettings"
    ]
    for obj in bicep.objects_in(bicep.path(config.body, "properties")):
        value.update(bicep.resolve(obj, {}, {}))  # type: ignore[arg-type]
    return value


def setting_objects(node: bicep.Node, conditional: bool = False) -> list[tuple[bicep.Node, bool]]:
    """Object literals an app-settings expression is made of, following main.bicep vars."""
    variables = bicep.load(bicep.MAIN).variables
    if node.type == "object":
        return [(node, conditional)]
    if node.type == "identifier" and bicep.text(node) in variables:
        return setting_objects(variables[bicep.text(node)].value, conditional)
    if node.type == "ternary_expression":
        _, *branches = bicep.named(node)
        return [o for b in branches for o in setting_objects(b, True)]
    if node.type == "call_expression" and bicep.text(bicep.named(node)[0]) == "union":
        return [o for arg in bicep.named(bicep.named(node)[1]) for o in setting_objects(arg, conditional)]
    raise AssertionError(f"cannot follow app settings through {bicep.text(node)[:60]}")


def bicep_settings() -> dict[str, tuple[bicep.Node, bool]]:
    """name -> (value node, conditional?) over every object literal that becomes app settings."""
    found: dict[str, tuple[bicep.Node, bool]] = {}
    for obj, conditional in setting_objects(bicep.load(bicep.MAIN).variables["appSettings"].value):
        for key, value in bicep.properties(obj).items():
            assert key not in found, f"{key} is set twice"
            found[key] = (value, conditional)
    # the function app module adds what it reads from resources it references
    [config] = [
        r
        for r in functionapp().resources("Microsoft.Web/sites/config")
        if r.body is not None and bicep.literal(bicep.path(r.body, "name")) == "appsettings"
    ]
    props = bicep.path(config.body, "properties")
    assert bicep.text(props).startswith("union(appSettings"), "the module must keep every setting from main.bicep"
    for obj in bicep.objects_in(props):
        for key, value in bicep.properties(obj).items():
            assert key not in found, f"{key} is set twice"
            found[key] = (value, False)
    return found


# --- durations ---------------------------------------------------------------------------


def iso_duration(value: str) -> timedelta:
    """An ISO 8601 duration as Service Bus takes it (P1DT2H3M4S)."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", value)
    assert match and value not in ("P", "PT"), value
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def hms(value: str) -> timedelta:
    """A host.json hh:mm:ss duration."""
    hours, minutes, seconds = (int(p) for p in value.split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


# --- the cost model ------------------------------------------------------------------------


@cache
def _cost_model() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cost_model", ROOT / "infra" / "cost_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["cost_model"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cost_model = _cost_model()
