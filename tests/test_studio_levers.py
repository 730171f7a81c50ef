"""The studio's levers change exactly what they say, relative to the file, and no more: each
lever's overrides applied to the bundled procurement node differ from the file in the fields
named here only. And the page is safe with hostile names: a Content-Security-Policy on every
answer, names from files sent as data (the page builds them as text nodes)."""
from __future__ import annotations

from typing import Any

import pytest

from conftest import INSTANCES, write_instance

NODE = INSTANCES / "zhengzhou-30k-procurement.yaml"


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}{key}."))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(_flat(item, f"{prefix}{i}."))
        return out or {prefix.rstrip("."): []}
    return {prefix.rstrip("."): value}


def _changed(levers: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """field -> (file's value, lever's value) for every field the levers change."""
    from optimizer import load_instance
    from optimizer.instance.loader import read_raw_instance
    from optimizer.studio.levers import lever_overrides
    overrides, changes = lever_overrides(read_raw_instance(NODE).raw, levers)
    assert changes, "a lever that changes something says so"
    before = _flat(load_instance(NODE).spec.model_dump(by_alias=True))
    after = _flat(load_instance(NODE, overrides=overrides).spec.model_dump(by_alias=True))
    return {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
            if before.get(k) != after.get(k)}


def test_a_price_lever_scales_the_price_path():
    # H200's path falls 32000 -> 27000 by half-year; 30000 for its first price scales it all
    # by 30000 / 32000: 2027H1's 30000 becomes 28125 (it does not become 30000 everywhere)
    changed = _changed({"price_per_card:H200-SXM": 30000})
    assert set(changed) == {f"accelerators.H200-SXM.price_per_card.{p}" for p in
                            ("2026H1", "2026H2", "2027H1", "2027H2", "2028H1", "2028H2")}
    assert changed["accelerators.H200-SXM.price_per_card.2027H1"] == (30000, 28125)


def test_the_domestic_share_lever_keeps_the_file_start():
    changed = _changed({"domestic_share": 0.6})
    assert changed == {"policies.min_share.0.share": (0.5, 0.6)}


def test_the_ban_lever_adds_to_the_file_bans():
    changed = _changed({"ban_imported_from": "2027H1"})
    assert set(changed) == {"policies.ban.1.tags.0", "policies.ban.1.from",
                            "policies.ban.1.installed", "policies.ban.1.accelerators"}
    assert changed["policies.ban.1.from"] == (None, "2027H1")


@pytest.mark.parametrize("levers, expected", [
    ({"grid_mw:zhengzhou": 80}, {"sites.zhengzhou.grid_mw": (45, 80)}),
    ({"max_cards:zhengzhou": 20000}, {"sites.zhengzhou.max_cards": (30000, 20000)}),
    ({"budget_per_period": 3e8}, {"policies.budget_per_period": (2e8, 3e8)}),
])
def test_site_and_budget_levers_change_their_field_only(levers, expected):
    assert _changed(levers) == expected


def test_the_demand_lever_scales_every_demand_figure_only():
    changed = _changed({"demand_scale": 1.5})
    assert changed and all(k.startswith("demand.") for k in changed)
    assert all(after == pytest.approx(before * 1.5) for before, after in changed.values())


def test_a_lever_out_of_range_names_itself():
    from optimizer import InstanceError
    from optimizer.instance.loader import read_raw_instance
    from optimizer.studio.levers import lever_overrides
    raw = read_raw_instance(NODE).raw
    for levers, field in (({"domestic_share": 1.5}, "domestic_share"),
                          ({"grid_mw:nowhere": 1}, "grid_mw:nowhere"),
                          ({"price_per_card:H200-SXM": float("nan")}, "price_per_card:H200-SXM"),
                          ({"ban_imported_from": "1999"}, "ban_imported_from")):
        with pytest.raises(InstanceError) as caught:
            lever_overrides(raw, levers)
        assert caught.value.field == field


fastapi = pytest.importorskip("fastapi", reason="the studio extra is not installed")


def test_every_answer_carries_a_content_security_policy(tmp_path):
    from fastapi.testclient import TestClient

    from optimizer.studio.app import create_app
    with TestClient(create_app([INSTANCES / "quickstart.yaml"], tmp_path / "studio")) as client:
        for path in ("/", "/static/app.js", "/api/instances"):
            policy = client.get(path).headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split(
                "script-src")[1].split(";")[0], (path, policy)
        page = client.get("/").text
        assert "onclick" not in page and "<script>" not in page
    script = (INSTANCES.parent / "optimizer" / "studio" / "static" / "app.js").read_text()
    assert "innerHTML" not in script and "onclick=" not in script


def test_a_hostile_name_reaches_the_page_as_data(tmp_path):
    # an instance and an accelerator named with markup: the API hands the names back as JSON
    # strings (the page makes text nodes of them; the browser test opens it)
    from fastapi.testclient import TestClient

    from conftest import base_instance
    from optimizer.studio.app import create_app
    data = base_instance()
    data["name"] = "<img src=x onerror=alert(1)>"
    data["accelerators"]["<b>A</b>"] = data["accelerators"].pop("A")
    path = write_instance(tmp_path, data)
    with TestClient(create_app([path], tmp_path / "studio")) as client:
        listed = client.get("/api/instances").json()
        assert listed[0]["name"] == "<img src=x onerror=alert(1)>"
        info = client.get(f"/api/instances/{listed[0]['id']}").json()
        assert "<b>A</b>" in [a["accelerator"] for a in info["levers"]["accelerators"]]


def test_the_cvar_lever_changes_the_weight_only():
    from optimizer import load_instance
    from optimizer.instance.loader import read_raw_instance
    from optimizer.studio.levers import lever_overrides
    path = INSTANCES / "zhengzhou-30k-scenarios.yaml"
    overrides, changes = lever_overrides(read_raw_instance(path).raw, {"cvar_weight": 0.4})
    before = _flat(load_instance(path).spec.model_dump(by_alias=True))
    after = _flat(load_instance(path, overrides=overrides).spec.model_dump(by_alias=True))
    changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
               if before.get(k) != after.get(k)}
    # the file has no risk block: the weight comes with the schema's default alpha, 0.9
    assert changed == {"scenarios.risk.cvar_weight": (None, 0.4),
                       "scenarios.risk.cvar_alpha": (None, 0.9)}
    assert overrides == {"scenarios.risk": {"cvar_weight": 0.4}}
    assert changes == ["scenarios.risk.cvar_weight: 0 -> 0.4 (CVaR at alpha 0.9)"]
