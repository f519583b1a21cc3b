"""Scenario files: every shipped one loads; every bad one fails with ONE line naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from optinc_pdk.errors import OptincError
from optinc_pdk.paths import CIRCUITS_DIR
from optinc_pdk.spec.scenario import all_scenarios, load_scenario, scenario_names

# The paper's rows (Table I with their unapproximated twins, Table II, Sec. III-C's cascade)
PAPER_ROWS = {
    "b8n4", "b8n4_full", "b8n8", "b8n8_full", "b8n16", "b8n16_full", "b16n4", "b16n4_full",
    "b16n4_l4-7", "b16n4_l4-8", "b16n4_l3-6", "b16n4_l3-7", "cascade16",
}
DEMONSTRATOR = "demo"  # not a paper row: the scenario that fits one CORNERSTONE full cell (docs/demo.md)
SHIPPED = PAPER_ROWS | {DEMONSTRATOR}


def test_the_paper_rows_and_the_demonstrator_ship():
    assert {p.stem for p in CIRCUITS_DIR.glob("*.yml")} == SHIPPED
    assert set(scenario_names()) == SHIPPED
    assert {s.name for s in all_scenarios()} == SHIPPED


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_scenario_loads_by_name_and_by_path(name):
    by_name = load_scenario(name)
    by_path = load_scenario(CIRCUITS_DIR / f"{name}.yml")
    assert by_name == by_path
    assert by_name.name == name  # the file stem and the name inside agree
    assert by_name.digits == by_name.bits // 2 == by_name.widths[-1]
    assert by_name.group * 2 * by_name.onn_inputs == by_name.bits
    assert (by_name.paper is not None) == (name in PAPER_ROWS)


def test_cascade_scenario_is_four_by_four():
    cascade = load_scenario("cascade16")
    assert cascade.cascade is not None and cascade.cascade.servers_per_optinc == 4
    assert cascade.servers == 16 and cascade.optinc_servers == 4


# --- bad input -----------------------------------------------------------------------------


def base_scenario() -> dict:
    return yaml.safe_load((CIRCUITS_DIR / "b8n4.yml").read_text())


def with_changes(**changes) -> dict:
    data = base_scenario()
    data.update(changes)
    return data


def without(field: str) -> dict:
    data = base_scenario()
    del data[field]
    return data


# (case id, file content: a mapping to dump or raw text, field the message must name, phrase it must contain)
BAD = [
    ("bits-not-multiple-of-2M", with_changes(bits=12), "bits", "multiple of 2M"),
    ("bits-odd", with_changes(bits=7), "bits", "even"),
    ("negative-width", with_changes(widths=[4, 64, -128, 256, 128, 64, 4]), "widths", "-128"),
    ("zero-width", with_changes(widths=[4, 0, 4]), "widths", "positive"),
    ("approx-layer-missing", with_changes(approx_layers=[1, 7]), "approx_layers", "layer 7 does not exist"),
    ("approx-layer-zero", with_changes(approx_layers=[0]), "approx_layers", "layer 0 does not exist"),
    ("unknown-field", with_changes(colour="red"), "colour", "unknown field"),
    ("unknown-nested-field", with_changes(device={"bogus": 1}), "device.bogus", "unknown field"),
    ("wrong-type", with_changes(servers="four"), "servers", "integer"),
    ("missing-field", without("widths"), "widths", "required"),
    ("last-width", with_changes(widths=[4, 64, 5]), "widths", "last width"),
    ("cascade-servers", with_changes(cascade={"servers_per_optinc": 4}, servers=8), "servers", "cascade"),
    # the training recipe's shape is checked on loading; its fields when training (BAD_RECIPES)
    ("training-not-a-mapping", with_changes(training=[1, 2]), "training", "mapping"),
    ("level2-training-without-cascade", with_changes(level2_training={"epochs": 5}), "level2_training",
     "only a cascade"),
    ("level2-training-in-cascade-block", with_changes(cascade={"servers_per_optinc": 2, "level2_training": {}}),
     "cascade.level2_training", "moved"),
    ("malformed-yaml", "name: broken\nbits: [8\nservers: 4\n", "line 3", "malformed YAML"),
    ("not-a-mapping", "- b8n4\n- b8n8\n", "", "mapping"),
]


def write_bad(tmp_path: Path, case: str, content) -> Path:
    path = tmp_path / f"{case}.yml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def assert_one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2, (code, out, err)
    assert out == ""
    line = err.strip()
    assert line and "\n" not in line, f"expected one line, got: {err!r}"
    assert "Traceback" not in line
    assert line.startswith("optinc: error: ")
    return line


@pytest.mark.parametrize("case,content,field,phrase", BAD, ids=[c[0] for c in BAD])
def test_bad_scenario_gives_one_line_naming_file_and_field(tmp_path, run_cli, case, content, field, phrase):
    path = write_bad(tmp_path, case, content)
    line = assert_one_line_error(*run_cli(["area", path]))
    assert f"{path}: " in line
    if field:
        assert f": {field}" in line
    assert phrase in line
    # the Python API raises the same message
    with pytest.raises(OptincError) as raised:
        load_scenario(path)
    assert line == f"optinc: error: {raised.value}"


# the recipe (optinc_pdk/training/recipe.py) is read when a network trains: same one-line errors
BAD_RECIPES = [
    ("importance-length", with_changes(training={"importance": [1.0, 2.0]}), "training.importance", "one weight"),
    ("training-typo", with_changes(training={"epoch": 5}), "training.epoch", "unknown field"),
    ("training-bad-value", with_changes(training={"lr": -1}), "training.lr", "greater than 0"),
    ("hard-region-input", with_changes(training={"hard_example_repeats": 1, "hard_region_inputs": [4]}),
     "training.hard_region_inputs", "input 4 does not exist"),
]


@pytest.mark.parametrize("case,content,field,phrase", BAD_RECIPES, ids=[c[0] for c in BAD_RECIPES])
def test_bad_training_recipe_gives_one_line_naming_file_and_field(tmp_path, run_cli, case, content, field, phrase):
    from optinc_pdk.training.recipe import recipe_for

    path = write_bad(tmp_path, case, content)
    line = assert_one_line_error(*run_cli(["train", path, "-o", tmp_path / "never.npz"]))
    assert line.startswith(f"optinc: error: {path}: {field}: ") and phrase in line
    assert not (tmp_path / "never.npz").exists()
    with pytest.raises(OptincError) as raised:
        recipe_for(load_scenario(path))
    assert line == f"optinc: error: {raised.value}"
    code, _, err = run_cli(["area", path])  # the chip's verbs do not read the recipe
    assert code == 0, err


def test_unknown_scenario_name(run_cli):
    line = assert_one_line_error(*run_cli(["area", "b8n5"]))
    assert "unknown scenario 'b8n5'" in line
    assert "b8n4" in line  # lists what does ship


def test_missing_scenario_file(tmp_path, run_cli):
    path = tmp_path / "nowhere.yml"
    line = assert_one_line_error(*run_cli(["area", path]))
    assert f"{path}: " in line and "cannot read" in line


def test_good_file_outside_circuits_loads(tmp_path, run_cli):
    data = with_changes(name="mine", approx_layers=[2, 3])
    path = write_bad(tmp_path, "mine", data)
    code, out, err = run_cli(["area", path, "--json"])
    assert code == 0, err
    assert '"scenario": "mine"' in out


def test_the_chip_has_no_training_fields_and_the_recipe_lives_beside_it():
    """The file's training: and level2_training: blocks are a recipe (optinc_pdk/training/recipe.py), not chip fields."""
    from optinc_pdk.spec.scenario import Scenario
    from optinc_pdk.training.recipe import recipe_for

    assert not {"training", "level2_training"} & set(Scenario.model_fields)
    cascade = load_scenario("cascade16")
    assert not {"training", "level2_training"} & set(cascade.model_dump())
    assert recipe_for(cascade, 1).epochs == 600 and recipe_for(cascade, 2).epochs == 250
    assert recipe_for(cascade, 2).noise_gain == 1.5 and recipe_for(cascade, 1).noise_gain == 1.0
    assert recipe_for(cascade.level_scenario(2)).epochs == 250  # a level's plain scenario keeps its recipe
    assert recipe_for(load_scenario("b8n8")).orthogonality_weight == 1000
