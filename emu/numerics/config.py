"""MacConfig: every field of the numerics contract (docs/numerics.md), presets, TOML.

The dataclass is made from the FIELDS table (:mod:`emu.numerics.fields`): one
attribute per row, with the row's default (the default machine).  Field names are
the contract's, everywhere: Python, TOML, ``--set field=value``, the ISA's ``cfg``.
Per-field checks come from the rows; the rules that tie fields together are the
list :data:`RULES` below.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import fields, make_dataclass

from emu.errors import UsageError
from emu.numerics.fields import FIELD_NAMES, FIELDS, check_value, coerce
from emu.numerics.formats import get_format
from emu.numerics.presets import PRESETS

_Fields = make_dataclass(
    "_Fields",
    [(f.name, object, dataclasses.field(default=f.default)) for f in FIELDS],
    frozen=True,
    # the generated __init__ calls __post_init__ only if the class has one here;
    # MacConfig's own (normalise, validate) overrides it
    namespace={"__post_init__": lambda self: None},
)
_Fields.__module__ = __name__


class MacConfig(_Fields):
    """One tensor-core configuration.  Defaults are the default machine (the
    hypothetical domestic UE8M0 accelerator); see :func:`preset` for the others."""

    def __post_init__(self):
        # names are case-insensitive everywhere (as in TOML and --set): store them
        # stripped and lower-cased so that equal configs compare equal
        for name in FIELD_NAMES:
            v = getattr(self, name)
            if isinstance(v, str):
                object.__setattr__(self, name, v.strip().lower())
        validate(self)

    def replace(self, **changes) -> MacConfig:
        """A copy with some fields changed (validated)."""
        unknown = sorted(set(changes) - set(FIELD_NAMES))
        if unknown:
            raise UsageError(
                f"unknown config field {unknown[0]!r} (fields: {', '.join(FIELD_NAMES)})"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_toml(self) -> str:
        """The config as a flat TOML table (one ``field = value`` per line)."""
        return "".join(f"{k} = {_toml_value(v)}\n" for k, v in self.to_dict().items())

    @classmethod
    def from_dict(cls, d: dict, base: MacConfig | None = None) -> MacConfig:
        base = base or cls()
        return base.replace(**{k: coerce(k, v) for k, v in d.items()})

    @classmethod
    def from_toml(cls, path) -> MacConfig:
        """Load a flat TOML table; fields not given keep the default machine's values.
        A key ``preset = "name"`` starts from that preset instead."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as e:
            raise UsageError(f"{path}: cannot read config: {e.strerror or e}") from None
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"{path}: malformed TOML: {e}") from None
        except UnicodeDecodeError as e:
            raise UsageError(f"{path}: malformed TOML: not UTF-8 text (byte {e.start})") from None
        except ValueError:  # tomllib lets int() refuse an integer of over 4300 digits
            raise UsageError(f"{path}: malformed TOML: an integer of over 4300 digits") from None
        try:
            base = None
            if "preset" in data:
                name = data.pop("preset")
                if not isinstance(name, str):
                    raise UsageError(f"preset: expected a preset name, got {name!r}")
                base = preset(name)
            return cls.from_dict(data, base)
        except UsageError as e:
            raise UsageError(f"{path}: {e}") from None

    def with_sets(self, assignments) -> MacConfig:
        """Apply ``field=value`` strings (the CLI's ``--set``)."""
        changes = {}
        for a in assignments:
            if "=" not in a:
                raise UsageError(f"--set {a!r}: expected field=value")
            k, v = a.split("=", 1)
            k = k.strip()
            if k not in FIELD_NAMES:
                raise UsageError(
                    f"--set {a!r}: unknown field {k!r} (fields: {', '.join(FIELD_NAMES)})"
                )
            try:
                changes[k] = coerce(k, v.strip())
            except UsageError as e:
                raise UsageError(f"--set {a!r}: {e}") from None
        if not changes:
            return self
        try:
            return self.replace(**changes)
        except UsageError as e:
            given = " ".join(f"{k}={v}" for k, v in changes.items())
            raise UsageError(f"--set {given}: {e}") from None

    # derived views used by the kernels
    @property
    def k_fused(self) -> bool:
        return self.fused == "k"

    @property
    def exact_align(self) -> bool:
        return self.align_bits == "exact"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return f'"{v}"'


def _fused_multiple(c):
    if c.fused == "k":
        if c.promote_every:
            return "fused = 'k' (whole K in one step) cannot be combined with promote_every > 0"
        return None
    if c.promote_every % c.fused:
        return f"promote_every ({c.promote_every}) must be a multiple of fused ({c.fused})"
    bs = c.scale_block
    if bs % c.fused and not (c.scale_apply == "product" and c.fused % bs == 0):
        text = f"scale_block ({bs}) must be a multiple of fused ({c.fused})"
        if c.scale_apply == "product":  # scales on products: blocks may split a step
            text += " or divide it"
        return text
    return None


def _b_tile(c):
    if c.scale_b_tile and c.scale_block != 128:
        return f"scale_b_tile = 128 requires scale_block = 128, got {c.scale_block}"
    return None


def _promotion_scales(c):
    if c.scale_apply == "promotion" and c.scale_block and c.promote_every != c.scale_block:
        return (
            f"scale_apply = 'promotion' requires promote_every == scale_block "
            f"({c.promote_every} != {c.scale_block})"
        )
    return None


def _group(c):
    if c.group == 1:
        return None
    if c.fused == "k" or c.fused % c.group:
        return f"group ({c.group}) must divide fused ({c.fused})"
    if c.scale_block and c.scale_block % c.group:
        return f"group ({c.group}) must divide scale_block ({c.scale_block})"
    if c.lanes != 1 or c.join_bits != "exact":
        return "group > 1 cannot be combined with lanes > 1 or an integer join_bits"
    bits = c.group.bit_length()
    for name in ("a_format", "b_format"):
        f = get_format(getattr(c, name))
        bits += f.mbits + 1 + f.emax - f.emin
        if c.scale_block and c.scale_apply == "product":
            bits += get_format(c.scale_format).mbits + 1
    if bits > 62:
        return (
            f"group > 1 with {c.a_format} x {c.b_format}: a group sum needs {bits} bits as "
            "a fixed-point integer, more than the 62 the kernels keep"
        )
    return None


def _lanes(c):
    if c.lanes == 1:
        return None
    if c.c_in_alignment:
        return "lanes > 1 requires c_in_alignment = false (C joins after the lanes)"
    if c.align_bits == "exact" or c.align_bits > MAX_LANE_ALIGN:
        return f"lanes > 1 requires an integer align_bits <= {MAX_LANE_ALIGN}, got {c.align_bits!r}"
    return None


def _join(c):
    if c.join_bits == "exact":
        return None
    if c.c_in_alignment:
        return "join_bits requires c_in_alignment = false (it is how C joins the dot part)"
    if c.align_bits == "exact" or c.align_bits > MAX_LANE_ALIGN:
        return (
            f"join_bits requires an integer align_bits <= {MAX_LANE_ALIGN} (C is cut at "
            f"align_bits), got {c.align_bits!r}"
        )
    if c.join_bits > MAX_JOIN_BITS:
        return f"join_bits must be at most {MAX_JOIN_BITS}, got {c.join_bits}"
    return None


def _scale_format(c):
    name = get_format(c.scale_format).name  # a rule may be handed Format rows
    if name == "ue8m0":
        return None
    if not c.scale_block:
        return f"scale_format = {name!r} requires scale_block > 0"
    if c.scale_apply != "product":
        return f"scale_format = {name!r} requires scale_apply = 'product'"
    return None


# lanes > 1 and join_bits keep their sums in 64-bit integers: a lane or joined sum of
# at most 2**30 terms below 2**(align_bits + 2) (and C, cut at align_bits).
MAX_LANE_ALIGN = 30
MAX_JOIN_BITS = 56

# The rules across fields (docs/numerics.md, "Rules across fields"): each returns
# an error message or None.  Checked in this order after every field on its own.
RULES = (_fused_multiple, _b_tile, _promotion_scales, _group, _lanes, _join, _scale_format)


def validate(c: MacConfig) -> None:
    """Raise UsageError with a clear message for any illegal value or combination."""
    for f in FIELDS:
        check_value(f, getattr(c, f.name))
    for rule in RULES:
        msg = rule(c)
        if msg:
            raise UsageError(msg)


# ---------------------------------------------------------------- presets
def register_preset(p) -> None:
    """Add a row to the PRESETS table (:mod:`emu.numerics.presets`), checked."""
    if p.name in presets():
        raise UsageError(f"preset {p.name!r} exists already")
    MacConfig(**p.values)  # its values must be a legal configuration
    PRESETS.append(p)


def presets() -> dict:
    """{name: one-line claim} of every preset, in table order."""
    return {p.name: p.claim for p in PRESETS}


def preset(name: str) -> MacConfig:
    """The MacConfig of a named preset (see :func:`presets`)."""
    key = str(name).strip().lower()
    for p in PRESETS:
        if p.name == key:
            return MacConfig(**p.values)
    raise UsageError(f"unknown preset {name!r} (presets: {', '.join(presets())})")


def resolve(preset_name=None, config_path=None, sets=()) -> MacConfig:
    """The CLI's rule: --preset or --config (not both; neither = default), then --set."""
    if preset_name and config_path:
        raise UsageError("give --preset or --config, not both")
    if config_path:
        c = MacConfig.from_toml(config_path)
    else:
        c = preset(preset_name or "default")
    return c.with_sets(sets)
