"""Scenario files (``circuits/*.yml``): one OptINC configuration each, validated by pydantic.

A scenario names the gradient width, the server count, the ONN widths, which layers are
block-approximated (1-based, as in the paper), an optional two-level cascade, the training seed
and layout/device options. Every validation failure becomes one line that names the file and the
field.

The same file may carry the recipe that trains the ONN (``training:``, and a cascade's
``level2_training:``). It is not part of the chip: the scenario keeps those blocks unread
(:attr:`Scenario.recipe_blocks`) and :mod:`optinc_pdk.training.recipe` validates them when a
network is trained (this module, below the training code, does not import it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from optinc_pdk.errors import OptincError, located
from optinc_pdk.paths import CIRCUITS_DIR
from optinc_pdk.spec import limits
from optinc_pdk.spec.budget import BudgetSpec
from optinc_pdk.spec.conventions import group_size
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import DeviceGeometry

# a scenario's name (its output folder layouts/NAME, its weights weights/NAME.npz) and its weights: name are plain
# file names: they cannot climb out of their folder ("..") or hide (".x"), nor read as an option ("-x")
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
PLAIN_NAME_RULE = ("a plain file name: 1 to 100 letters, digits, '_', '.' or '-', starting with a letter, digit or '_' "
                   "(it names a file or folder, so no path separators and no '..')")


class CascadeOptions(BaseModel):
    """Two-level cascade of Sec. III-C: ``groups`` level-1 OptINCs feed one level-2 OptINC."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    levels: Literal[2] = 2
    servers_per_optinc: int = Field(gt=1, description="servers (inputs) of every basic OptINC")
    link_tolerance: list[float] | None = Field(
        None,
        description="level-1 analog outputs reach level 2 unquantised: level 1 trains to keep every output within "
        "this many PAM4 levels of its grid value (LSB first); level 2 trains against level 1's actual errors",
    )


class LayoutOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    labels: bool = Field(False, description="write per-MZI phase labels (small designs only)")
    formats: list[Literal["gds", "oas"]] = Field(default_factory=lambda: ["gds", "oas"])


class PaperRow(BaseModel):
    """What the paper publishes for this configuration (Table I / II), for side-by-side reports."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    table: str
    area_ratio: float | None = Field(None, description="published normalised area, as a fraction")
    accuracy: float | None = Field(None, description="published ONN accuracy, as a fraction")
    overhead: float | None = Field(None, description="published hardware overhead (cascade), as a fraction")


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(description="plain file name: layouts/NAME, weights/NAME.npz")
    description: str = ""
    bits: int = Field(description=f"gradient width b: even, {limits.BITS_MIN}..{limits.BITS_MAX}")
    servers: int = Field(description=f"servers N: {limits.SERVERS_MIN}..{limits.SERVERS_MAX}")
    group_size: int | None = Field(None, gt=0, description="PAM4 digits per ONN input, G = b/(2M)")
    widths: list[int] = Field(min_length=2, description="ONN widths, input first")
    approx_layers: list[int] = Field(default_factory=list, description="1-based layers to block-approximate")
    cascade: CascadeOptions | None = None
    seed: int = Field(0, ge=0, lt=2**32, description="training / random-weights seed, 0..2^32-1")
    layout: LayoutOptions = Field(default_factory=LayoutOptions)
    device: DeviceGeometry = Field(default_factory=DeviceGeometry)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    fixed_phases: FixedPhaseSpec = Field(default_factory=FixedPhaseSpec)  # how --phases fixed draws a phase
    paper: PaperRow | None = None
    weights: str | None = Field(None, description="shipped weights name under weights/, default: the scenario name")
    # the file's training recipe blocks (RECIPE_KEYS), unread: optinc_pdk.training.recipe reads them
    _recipe_blocks: dict[str, Any] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr("<dict>")

    @field_validator("name", "weights")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and not PLAIN_NAME.fullmatch(value):
            raise ValueError(f"must be {PLAIN_NAME_RULE}; got {value!r}")
        return value

    @field_validator("bits")
    @classmethod
    def _supported_bits(cls, bits: int) -> int:
        if not limits.BITS_MIN <= bits <= limits.BITS_MAX or bits % 2:
            raise ValueError(f"must be even and {limits.BITS_MIN}..{limits.BITS_MAX} ({limits.BITS_REASON}); got {bits}")
        return bits

    @field_validator("servers")
    @classmethod
    def _supported_servers(cls, servers: int) -> int:
        if not limits.SERVERS_MIN <= servers <= limits.SERVERS_MAX:
            raise ValueError(f"must be {limits.SERVERS_MIN}..{limits.SERVERS_MAX} ({limits.SERVERS_REASON}); got {servers}")
        return servers

    @field_validator("widths")
    @classmethod
    def _positive_widths(cls, widths: list[int]) -> list[int]:
        for index, width in enumerate(widths):
            if width <= 0:
                raise ValueError(f"must be positive: widths[{index}] = {width}")
        return widths

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        inputs = self.widths[0]
        if self.bits % 2:
            raise ValueError(f"bits: must be even, PAM4 carries 2 bits per symbol (got {self.bits})")
        if self.bits % (2 * inputs):
            raise ValueError(
                f"bits: must be a multiple of 2M = {2 * inputs} (M = widths[0] ONN inputs), got {self.bits}"
            )
        derived = group_size(self.bits, inputs)
        if self.group_size is not None and self.group_size != derived:
            raise ValueError(f"group_size: must be b/(2M) = {derived} (got {self.group_size})")
        if self.widths[-1] != self.bits // 2:
            raise ValueError(
                f"widths: the last width must be the {self.bits // 2} PAM4 output digits of a {self.bits}-bit gradient "
                f"(got {self.widths[-1]})"
            )
        n_layers = len(self.widths) - 1
        for layer in self.approx_layers:
            if not 1 <= layer <= n_layers:
                raise ValueError(f"approx_layers: layer {layer} does not exist (layers are 1..{n_layers})")
        if len(set(self.approx_layers)) != len(self.approx_layers):
            raise ValueError("approx_layers: a layer is listed twice")
        if self.cascade is not None:
            per = self.cascade.servers_per_optinc
            if self.servers != per**2:
                raise ValueError(
                    f"servers: a two-level cascade of {per}-server OptINCs serves {per ** 2} servers (got {self.servers})"
                )
            tolerance = self.cascade.link_tolerance
            if tolerance is not None:
                if len(tolerance) != self.bits // 2:
                    raise ValueError(f"cascade.link_tolerance: needs one value per output digit ({self.bits // 2})")
                # level-2 input j is the mean of N level-1 outputs: LSB on a 1/N² grid, the others on 1/N
                bounds = [0.5 / per**2] + [0.5 / per] * (self.bits // 2 - 1)
                for index, (value, limit) in enumerate(zip(tolerance, bounds)):
                    if not 0 < value < limit:
                        raise ValueError(
                            f"cascade.link_tolerance[{index}]: must be in (0, {limit:g}), half the level-2 input grid "
                            f"(got {value})"
                        )
        problem = limits.memory_problem(limits.scenario_memory_bytes(self.widths), "building this chip")
        if problem:
            raise ValueError(f"widths: {problem}")
        return self

    # Derived quantities used everywhere -------------------------------------------------
    @property
    def onn_inputs(self) -> int:
        return self.widths[0]

    @property
    def digits(self) -> int:
        """PAM4 digits per gradient, b/2."""
        return self.bits // 2

    @property
    def group(self) -> int:
        return group_size(self.bits, self.onn_inputs)

    @property
    def n_layers(self) -> int:
        return len(self.widths) - 1

    @property
    def optinc_servers(self) -> int:
        """Servers seen by one basic OptINC (all of them unless cascaded)."""
        return self.cascade.servers_per_optinc if self.cascade else self.servers

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of every weight matrix, layer 1 first."""
        return [(self.widths[i + 1], self.widths[i]) for i in range(self.n_layers)]

    @property
    def weights_name(self) -> str:
        return self.weights or self.name

    def level_scenario(self, level: int) -> Scenario:
        """The basic OptINC of one cascade level as a plain scenario (its servers: the level's inputs)."""
        if self.cascade is None:
            raise OptincError(f"{self.name}: level {level}: the scenario is not a cascade")
        if level not in (1, 2):
            raise OptincError(f"{self.name}: a cascade has levels 1 and 2 (got {level})")
        data = self.model_dump()
        level2 = self._recipe_blocks.get("level2_training") if level == 2 else None
        data.update(name=f"{self.name}-level{level}", servers=self.cascade.servers_per_optinc, cascade=None,
                    weights=None, paper=None, training=level2 or self._recipe_blocks.get("training"))
        return scenario_from_dict(data, f"{self.name} (level {level})")

    @property
    def recipe_blocks(self) -> dict[str, Any]:
        """The file's training recipe blocks as written (``training``, ``level2_training``), unvalidated
        here; :func:`optinc_pdk.training.recipe.recipe_for` turns them into a recipe."""
        return dict(self._recipe_blocks)

    @property
    def source(self) -> str:
        """Where the scenario was read from (its file), for error messages."""
        return self._source

    def with_updates(self, **changes: Any) -> Scenario:
        """A validated copy with some fields replaced (used by area sweeps); the recipe blocks travel along
        unless ``changes`` replaces them (``training={...}``)."""
        data = {**self.model_dump(), **self._recipe_blocks}
        data.update(changes)
        return scenario_from_dict(data, f"{self.name} (with {', '.join(sorted(changes))} changed)")


def _field_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts)


def _validation_message(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    field = _field_path(tuple(first.get("loc", ())))
    message = first.get("msg", "invalid")
    message = message.removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":  # pydantic says "Extra inputs are not permitted"
        message = "unknown field (not part of a scenario; check the spelling)"
    if ": " in message and not field:
        # model-level errors put the field name first in the message
        field, message = message.split(": ", 1)
    return field, message


RECIPE_KEYS = ("training", "level2_training")  # a scenario file's training recipe, not part of the chip


def scenario_from_dict(data: Any, source: str | Path = "<dict>") -> Scenario:
    """The chip of ``data``. Its recipe blocks (RECIPE_KEYS) are kept on it unread, checked here only
    for their shape; their fields are the recipe module's (optinc_pdk.training.recipe), which checks
    them when a network is trained, as one line naming the file and the field too."""
    if not isinstance(data, dict):
        raise located(source, "", "a scenario must be a YAML mapping")
    if isinstance(data.get("cascade"), dict) and "level2_training" in data["cascade"]:
        raise located(source, "cascade.level2_training", "moved: the level-2 training recipe is the top-level "
                                                         "key level2_training: now")
    for key in RECIPE_KEYS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise located(source, key, f"must be a mapping of training settings (got {data[key]!r})")
    if data.get("level2_training") is not None and data.get("cascade") is None:
        raise located(source, "level2_training", "only a cascade has a level 2 (this scenario has no cascade:); "
                                                 "its recipe is training:")
    chip = {key: value for key, value in data.items() if key not in RECIPE_KEYS}
    try:
        scenario = Scenario.model_validate(chip)
    except ValidationError as error:
        field, message = _validation_message(error)
        raise located(source, field, message) from None
    scenario._recipe_blocks = {key: data[key] for key in RECIPE_KEYS if key in data}
    scenario._source = str(source)
    return scenario


def _scenario_text(path: Path) -> str:
    """The file's text: UTF-8 (a BOM is allowed), at most SCENARIO_FILE_MAX_BYTES; else one line naming the file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(limits.SCENARIO_FILE_MAX_BYTES + 1)
    except OSError as error:
        raise located(path, "", f"cannot read scenario file ({error.strerror or error})") from None
    if len(raw) > limits.SCENARIO_FILE_MAX_BYTES:
        raise located(path, "", f"larger than {limits.SCENARIO_FILE_MAX_BYTES} bytes: not a scenario file")
    if not raw.strip():
        raise located(path, "", "is empty: a scenario is a YAML mapping (name:, bits:, servers:, widths:, ...)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise located(path, "", "is UTF-16 or UTF-32 text (it starts with a byte-order mark): save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise located(path, "", f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}): "
                                "a scenario file is UTF-8 YAML") from None


def load_scenario_file(path: str | Path) -> Scenario:
    path = Path(path)
    text = _scenario_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or (str(error).splitlines() or [type(error).__name__])[0]
        raise located(path, "", f"malformed YAML: {where}{problem}") from None
    except RecursionError:
        raise located(path, "", "malformed YAML: nested too deeply") from None
    return scenario_from_dict(data, path)


def scenario_names() -> list[str]:
    return sorted(p.stem for p in CIRCUITS_DIR.glob("*.yml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``b8n4``) or any YAML file by path."""
    text = str(name_or_path)
    candidate = Path(text)
    if text.endswith((".yml", ".yaml")) or candidate.is_file():
        return load_scenario_file(candidate)
    shipped = CIRCUITS_DIR / f"{text}.yml"
    if PLAIN_NAME.fullmatch(text) and shipped.is_file():  # a name, never a path out of circuits/
        return load_scenario_file(shipped)
    known = ", ".join(scenario_names())
    raise OptincError(f"unknown scenario '{text}' (shipped: {known}; or give a path to a .yml file)")


def all_scenarios() -> list[Scenario]:
    return [load_scenario(name) for name in scenario_names()]
