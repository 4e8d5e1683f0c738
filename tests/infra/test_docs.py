"""The infra README documents what the tests check: parameters, settings, costs, steps."""

from __future__ import annotations

import re

import settings as app_settings
from tests.infra import bicep
from tests.infra.project import cost_model

README = bicep.INFRA / "README.md"


def readme() -> str:
    return README.read_text()


def section(title: str) -> str:
    body = readme()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", body, re.MULTILINE | re.DOTALL)
    assert match, f"no '## {title}' section"
    return match.group(1)


def test_deploy_section_has_the_required_parts() -> None:
    deploy = section("Deploy")
    for heading in ("Prerequisites", "`azd up`", "Parameters", "What gets created", "What it costs", "Tear-down"):
        assert f"### {heading}" in deploy, heading
    assert "azd up" in deploy and "azd down --purge" in deploy
    assert "API_BASE_URL" in deploy


def test_every_bicep_parameter_is_documented() -> None:
    deploy = section("Deploy")
    for name in bicep.load(bicep.MAIN).params:
        assert f"`{name}`" in deploy, name


def test_optional_settings_and_rotation_are_documented() -> None:
    deploy = section("Deploy")
    for name, where in app_settings.setting_names().items():
        if where == "optional":
            assert f"`{name}`" in deploy, name
    assert "### Rotating the stream-token signing key" in deploy


def test_rotation_and_leak_steps_refresh_the_version_less_key_vault_reference() -> None:
    """A version-less reference is re-read about once a day: both procedures force it."""
    vault = bicep.load(bicep.MODULES / "keyvault.bicep")
    assert bicep.text(vault.outputs["signingKeySecretUri"].value) == "signingKeySecret.properties.secretUri"
    deploy = section("Deploy")
    rotation = deploy.split("### Rotating the stream-token signing key", 1)[1].split("\n### ", 1)[0]
    refresh = "/config/configreferences/appsettings/refresh?api-version=2022-03-01"
    assert f'az rest --method post --url "$APP_ID{refresh}"' in rotation
    before_overlap_ends, leak = rotation.split("If a key leaks", 1)
    assert refresh in before_overlap_ends.split("After it:", 1)[0], "refresh before relying on the new key"
    assert "az rest" in leak, "a leaked key must not stay in use until the daily refetch"


def test_cost_figures_are_the_script_figures() -> None:
    """Per load: both plans' totals, the choice, its break-even and the old polling bill."""
    deploy = section("Deploy")
    names = {"flex": "Flex", "dedicated": "B1"}
    for load in cost_model.REFERENCE_LOADS:
        costs = cost_model.both_plans(load)
        row = next(line for line in deploy.splitlines() if line.startswith(f"| {load.name} |"))
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[2:] == [
            f"USD {costs['flex'].total:,.2f}",
            f"USD {costs['dedicated'].total:,.2f}",
            names[cost_model.recommend(load).plan],
            f"{cost_model.break_even(load).jobs_per_day:,.0f}",
            f"USD {cost_model.b1_polling(load):,.2f}",
        ], (load.name, row)
    assert f"B1's flat price is USD {cost_model.b1_flat():,.2f}" in deploy
    typical = next(x for x in cost_model.REFERENCE_LOADS if x.name == "typical")
    even = cost_model.break_even(typical)
    ratio = even.jobs_per_day / typical.jobs_per_day
    text = " ".join(deploy.split())
    assert f"about **{round(even.jobs_per_day, -2):,.0f} jobs a day** ({ratio:.1f} x typical)" in text
    share = cost_model.monthly_cost(typical).total / cost_model.b1_flat()
    assert f"typical load stays at {share * 100:.0f} % of B1's price" in text
    assert ("target of 50 % is not met" in text) == (share > 0.5)


def test_the_root_readme_quotes_the_script_figures() -> None:
    """The root README's deployment paragraph gives the small and typical totals and the break-even."""
    root = (bicep.ROOT / "README.md").read_text()
    deploy = root.split("## Deploy to Azure", 1)[1].split("\n## ", 1)[0]
    small, typical = (cost_model.monthly_cost(x).total for x in cost_model.REFERENCE_LOADS[:2])
    assert f"about ${small:,.2f}/month at the small reference load" in " ".join(deploy.split())
    assert f"${typical:,.2f}/month at the typical one" in " ".join(deploy.split())
    assert f"${cost_model.b1_flat():,.2f} for B1" in deploy
    even = cost_model.break_even(cost_model.REFERENCE_LOADS[1])
    assert f"roughly {round(even.jobs_per_day, -2):,.0f} jobs a day" in " ".join(deploy.split())
    assert "`azd env set HOSTING_PLAN dedicated` runs the same app on it" in " ".join(deploy.split())


def test_local_emulation_section_names_both_modes() -> None:
    local = section("Local emulation")
    assert local.count("func start") >= 2
    assert "local.settings.json.example" in local and "local.settings.servicebus.json.example" in local
    assert "emulation/compose.yaml" in local and "emulation/init_storage.py" in local
    assert "--profile servicebus" in local
