"""Bad input never gives a traceback: exit code 2, the file and field named, nothing written.

Each case mutates the tiny valid instance of conftest (or replaces the file by raw text) and
names a fragment the error message must contain (the dotted field path, or what is wrong).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from cli import main
from conftest import base_instance, write_instance


def mutate(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = base_instance()
    fn(data)
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return apply


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[last]
    return apply


BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9))

CASES: list[tuple[str, Any, str]] = [
    # (case id, instance data or raw text, fragment the message must name)
    ("wrong-type-price", mutate(_set("accelerators.A.price_per_card", "cheap")),
     "accelerators.A.price_per_card"),
    ("nan-power", mutate(_set("accelerators.A.power_kw_per_card", float("nan"))),
     "accelerators.A.power_kw_per_card"),
    ("infinite-grid", mutate(_set("sites.s1.grid_mw", float("inf"))), "sites.s1.grid_mw"),
    ("negative-price", mutate(_set("accelerators.A.price_per_card", -5.0)),
     "accelerators.A.price_per_card"),
    ("negative-price-in-mapping", mutate(_set("accelerators.A.price_per_card",
                                              {"2026": 100.0, "2027": -1.0})),
     "accelerators.A.price_per_card.2027"),
    ("share-above-one", mutate(_set("policies", {"min_share": [{"tags": ["domestic"],
                                                                "share": 1.5}]})),
     "policies.min_share.0.share"),
    ("availability-above-one", mutate(_set("accelerators.A.availability", 1.2)),
     "accelerators.A.availability"),
    ("pue-below-one", mutate(_set("sites.s1.cooling.air.pue", 0.9)), "sites.s1.cooling.air.pue"),
    ("unknown-top-key", mutate(_set("horizn", {})), "horizn"),
    ("unknown-nested-key-typo", mutate(_set("sites.s1.grid_mv", 3)), "did you mean 'grid_mw'"),
    ("unknown-period-in-demand", mutate(_set("demand.chat.2031", 5.0)), "demand.chat.2031"),
    ("unknown-workload-in-demand", mutate(_set("demand.video", {"2026": 1.0})), "demand.video"),
    ("unknown-workload-in-throughput", mutate(_set("accelerators.A.throughput.video", 3.0)),
     "accelerators.A.throughput.video"),
    ("unknown-accelerator-in-fleet", mutate(_set("sites.s1.existing_fleet",
                                                 [{"accelerator": "Z", "cooling": "air",
                                                   "cards": 1}])),
     "sites.s1.existing_fleet.0.accelerator"),
    ("unknown-cooling-mode", mutate(_set("accelerators.A.cooling", ["immersoin"])),
     "accelerators.A.cooling.0"),
    ("unknown-cooling-in-fleet", mutate(_set("sites.s1.existing_fleet",
                                             [{"accelerator": "A", "cooling": "oil",
                                               "cards": 1}])),
     "sites.s1.existing_fleet.0.cooling"),
    ("unknown-available-from", mutate(_set("accelerators.A.available_from", "1999")),
     "accelerators.A.available_from"),
    ("duplicate-key", "format: 1\nformat: 1\n", "duplicate key 'format'"),
    ("empty-periods", mutate(_set("horizon.periods", [])), "horizon.periods"),
    ("duplicate-period", mutate(_set("horizon.periods", ["2026", "2026"])), "horizon.periods"),
    ("not-yaml", "format: 1\nhorizon: [unclosed\n", "not valid YAML"),
    ("binary-data", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    ("not-utf8", b"name: caf\xe9\n", "not UTF-8"),
    ("alias-bomb", BOMB, "alias bomb"),
    ("python-object-tag", "format: !!python/object/apply:os.system ['echo pwned']\n",
     "unsupported YAML construct"),
    ("top-level-list", "- 1\n- 2\n", "expected a YAML mapping"),
    ("empty-file", "", "empty file"),
    ("missing-required", mutate(_delete("accelerators.A.lifetime_years")),
     "accelerators.A.lifetime_years"),
    ("wrong-format-version", mutate(_set("format", 2)), "format"),
    ("boolean-as-number", mutate(_set("sites.s1.max_cards", True)), "sites.s1.max_cards"),
    ("string-number", mutate(_set("sites.s1.max_cards", "10")), "sites.s1.max_cards"),
    ("fractional-cards-per-unit", mutate(_set("accelerators.A.cards_per_unit", 2.5)),
     "accelerators.A.cards_per_unit"),
    ("probabilities-not-one", mutate(_set("scenarios", {"low": {"probability": 0.3},
                                                        "high": {"probability": 0.3}})),
     "scenarios"),
    ("unservable-workload", mutate(lambda d: [a["throughput"].clear()
                                              for a in d["accelerators"].values()]),
     "demand.chat"),
    ("incomplete-period-mapping", mutate(_set("sites.s1.grid_mw", {"2026": 1.0})),
     "sites.s1.grid_mw"),
    ("closed-site-with-capacity", mutate(_set("sites.s1.open", False)),
     "sites.s1.cooling.air.existing_it_mw"),
    ("tflops-policy-without-peak", mutate(_set("policies", {"min_share": [
        {"tags": ["domestic"], "share": 0.5, "by": "tflops"}]})), "policies.min_share.0.by"),
    ("unknown-policy-period", mutate(_set("policies", {"max_vendor_share":
                                                       {"share": 0.5, "from": "2040"}})),
     "policies.max_vendor_share.from"),
    ("negative-discount-rate", mutate(_set("horizon.discount_rate", -0.1)),
     "horizon.discount_rate"),
    ("zero-lifetime", mutate(_set("accelerators.B.lifetime_years", 0)),
     "accelerators.B.lifetime_years"),
    ("unknown-by", mutate(_set("policies", {"min_share": [{"tags": ["x"], "share": 0.5,
                                                           "by": "watts"}]})),
     "policies.min_share.0.by"),
    # the scenarios block's rules (uncertainty.md, "Fields")
    ("probabilities-off-by-1e-7", mutate(_set("scenarios", {
        "low": {"probability": 0.3}, "high": {"probability": 0.7 + 1e-7}})), "scenarios"),
    ("cvar-alpha-one", mutate(_set("scenarios", {
        "base": {"probability": 1.0}, "risk": {"cvar_alpha": 1.0}})), "scenarios.risk.cvar_alpha"),
    ("cvar-alpha-negative", mutate(_set("scenarios", {
        "base": {"probability": 1.0}, "risk": {"cvar_alpha": -0.1}})),
     "scenarios.risk.cvar_alpha"),
    ("cvar-weight-above-one", mutate(_set("scenarios", {
        "base": {"probability": 1.0}, "risk": {"cvar_weight": 1.2}})),
     "scenarios.risk.cvar_weight"),
    ("sample-count-zero", mutate(_set("scenarios", {"sample": {"count": 0}})),
     "scenarios.sample.count"),
    ("sigma-negative", mutate(_set("scenarios", {"sample": {
        "count": 3, "demand_growth": {"sigma": -0.1}}})), "scenarios.sample.demand_growth.sigma"),
    ("correlation-above-one", mutate(_set("scenarios", {"sample": {
        "count": 3, "demand_growth": {"correlation": 1.5}}})),
     "scenarios.sample.demand_growth.correlation"),
    ("named-and-sampled", mutate(_set("scenarios", {
        "base": {"probability": 1.0}, "sample": {"count": 3}})), "exclusive"),
    ("tree-and-commit-periods", mutate(_set("scenarios", {
        "commit_periods": 1, "sample": {"count": 2},
        "tree": {"stages": ["2026", "2027"], "branching": [2]}})), "exclusive"),
    ("unknown-stage", mutate(_set("scenarios", {
        "sample": {"count": 2}, "tree": {"stages": ["2026", "2031"], "branching": [2]}})),
     "scenarios.tree.stages.1"),
    ("stages-out-of-order", mutate(_set("scenarios", {
        "sample": {"count": 2}, "tree": {"stages": ["2027", "2026"], "branching": [2]}})),
     "scenarios.tree.stages"),
]


@pytest.mark.parametrize("case_id,data,fragment", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["validate", "solve"])
def test_bad_input_is_refused_cleanly(tmp_path: Path, case_id: str, data: Any, fragment: str,
                                      command: str) -> None:
    path = write_instance(tmp_path, data)
    out_dir = tmp_path / "results"
    args = [command, str(path)] + (["-o", str(out_dir)] if command == "solve" else [])
    result = CliRunner().invoke(main, args)
    message = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output, message)
    assert "Traceback" not in result.output + message
    assert str(path) in message, message                 # the file is named
    assert fragment in message, message                  # the field (or the fault) is named
    assert len(message.strip().splitlines()) == 1, message   # one clear line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance.yaml"]   # nothing written


def test_there_are_at_least_thirty_distinct_cases() -> None:
    assert len({c[0] for c in CASES}) >= 30


def test_error_carries_path_and_field(tmp_path: Path) -> None:
    from optimizer import InstanceError, load_instance
    path = write_instance(tmp_path, mutate(_set("sites.s1.cooling.air.pue", 0.5)))
    with pytest.raises(InstanceError) as err:
        load_instance(path)
    assert err.value.path == str(path)
    assert err.value.field == "sites.s1.cooling.air.pue"
    assert "0.5" in err.value.reason and ">= 1" in err.value.reason


def test_demand_csv_errors_name_the_csv(tmp_path: Path) -> None:
    data = base_instance()
    data["demand"] = {"chat": "chat.csv"}
    (tmp_path / "chat.csv").write_text("period,tokens_per_day\n2026,100\n2027,lots\n")
    path = write_instance(tmp_path, data)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "chat.csv: line 3.tokens_per_day" in result.stderr


def test_demand_csv_for_all_workloads_loads(tmp_path: Path) -> None:
    from optimizer import load_instance
    data = base_instance()
    data["demand"] = "demand.csv"
    (tmp_path / "demand.csv").write_text("workload,period,tokens_per_day\nchat,2026,5\nchat,2027,7\n")
    spec = load_instance(write_instance(tmp_path, data)).spec
    assert spec.demand == {"chat": {"2026": 5.0, "2027": 7.0}}
