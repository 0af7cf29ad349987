"""MacConfig: every knob of the numerics contract (spec/numerics.md), presets, TOML.

The field names are the spec's, everywhere: Python, TOML, ``--set field=value``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields

from emu.errors import UsageError
from emu.numerics.formats import ELEMENT_FORMATS, ROUND_MODES, get_format


@dataclass(frozen=True)
class MacConfig:
    """One tensor-core configuration.  Defaults are the default machine (the
    hypothetical domestic UE8M0 accelerator); see :func:`preset` for the others."""

    a_format: str = "e4m3"
    b_format: str = "e4m3"
    fused: int | str = 32
    align_bits: int | str = 25
    align_round: str = "rz"
    acc_format: str = "fp32"
    acc_round: str = "rne"
    acc_subnormals: bool = True
    c_in_alignment: bool = True
    scale_block: int = 128
    scale_apply: str = "product"
    scale_b_tile: int = 0
    promote_every: int = 0
    promote_format: str = "fp32"
    promote_round: str = "rne"

    def __post_init__(self):
        # names are case-insensitive everywhere (as in TOML and --set): store them
        # stripped and lower-cased so that equal configs compare equal
        for name in _STR_FIELDS + ("fused", "align_bits"):
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


FIELD_NAMES = tuple(f.name for f in fields(MacConfig))
# Any align_bits >= 570 already keeps every bit (terms span at most 2**284 .. 2**-286:
# e5m2 products with two 2**127 / 2**-127 scales), so this bound only keeps the
# numbers sane; it is not a limit of the datapath model.
MAX_ALIGN_BITS = 1024
_STR_FIELDS = (
    "a_format",
    "b_format",
    "align_round",
    "acc_format",
    "acc_round",
    "scale_apply",
    "promote_format",
    "promote_round",
)
_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return f'"{v}"'


def coerce(name: str, v):
    """Turn a TOML/CLI value into the field's type, or raise UsageError."""
    if name not in FIELD_NAMES:
        raise UsageError(f"unknown config field {name!r} (fields: {', '.join(FIELD_NAMES)})")
    if name in ("acc_subnormals", "c_in_alignment"):
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in _BOOL:
            return _BOOL[v.lower()]
        raise UsageError(f"{name}: expected true or false, got {v!r}")
    if name in ("fused", "align_bits", "scale_block", "scale_b_tile", "promote_every"):
        special = {"fused": "k", "align_bits": "exact"}.get(name)
        if isinstance(v, str) and special and v.strip().lower() == special:
            return special
        if isinstance(v, bool):
            raise UsageError(f"{name}: expected an integer, got {v!r}")
        if isinstance(v, int):
            return v
        if not isinstance(v, str):
            extra = f" or {special!r}" if special else ""
            raise UsageError(f"{name}: expected an integer{extra}, got {v!r}")
        try:
            return int(v, 10)  # decimal, leading zeros allowed
        except ValueError:
            pass
        try:
            return int(v, 0)  # 0x.., 0b.. too
        except ValueError:
            extra = f" or {special!r}" if special else ""
            raise UsageError(f"{name}: expected an integer{extra}, got {v!r}") from None
    if not isinstance(v, str):
        raise UsageError(f"{name}: expected a string, got {v!r}")
    return v.strip().lower()


def _check_int(c, name, lo, special=None):
    v = getattr(c, name)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        extra = f" or {special!r}" if special else ""
        raise UsageError(f"{name} must be an integer >= {lo}{extra}, got {v!r}")


def validate(c: MacConfig) -> None:
    """Raise UsageError with a clear message for any illegal value or combination."""
    for name in _STR_FIELDS:
        if not isinstance(getattr(c, name), str):
            raise UsageError(f"{name} must be a name (string), got {getattr(c, name)!r}")
    for name in ("a_format", "b_format"):
        if getattr(c, name) not in ELEMENT_FORMATS:
            raise UsageError(
                f"{name} must be one of {', '.join(ELEMENT_FORMATS)}, got {getattr(c, name)!r}"
            )
    for name in ("acc_format", "promote_format"):
        f = get_format(getattr(c, name))
        if not f.fits_fp32:
            raise UsageError(
                f"{name} {getattr(c, name)!r}: must be an IEEE-style format "
                "that fits in fp32 (at most 8 exponent and 23 fraction bits)"
            )
    for name in ("acc_round", "promote_round"):
        if getattr(c, name) not in ROUND_MODES:
            raise UsageError(
                f"{name} must be one of {', '.join(ROUND_MODES)}, got {getattr(c, name)!r}"
            )
    if c.align_round not in ("rz", "rne"):
        raise UsageError(f"align_round must be rz or rne, got {c.align_round!r}")
    if c.fused != "k":
        _check_int(c, "fused", 1, "k")
    if c.align_bits != "exact":
        _check_int(c, "align_bits", 0, "exact")
        if c.align_bits > MAX_ALIGN_BITS:
            raise UsageError(
                f"align_bits must be at most {MAX_ALIGN_BITS} (or 'exact'), got {c.align_bits}"
            )
    for name in ("scale_block", "promote_every"):
        _check_int(c, name, 0)
    for name in ("acc_subnormals", "c_in_alignment"):
        if not isinstance(getattr(c, name), bool):
            raise UsageError(f"{name} must be true or false, got {getattr(c, name)!r}")
    if c.scale_apply not in ("product", "promotion"):
        raise UsageError(f"scale_apply must be product or promotion, got {c.scale_apply!r}")
    _check_int(c, "scale_b_tile", 0)
    if c.scale_b_tile not in (0, 128):
        raise UsageError(f"scale_b_tile must be 0 or 128, got {c.scale_b_tile!r}")
    if c.fused == "k":
        if c.promote_every:
            raise UsageError(
                "fused = 'k' (whole K in one step) cannot be combined with promote_every > 0"
            )
    else:
        if c.scale_block % c.fused:
            raise UsageError(
                f"scale_block ({c.scale_block}) must be a multiple of fused ({c.fused})"
            )
        if c.promote_every % c.fused:
            raise UsageError(
                f"promote_every ({c.promote_every}) must be a multiple of fused ({c.fused})"
            )
    if c.scale_b_tile and c.scale_block != 128:
        raise UsageError(f"scale_b_tile = 128 requires scale_block = 128, got {c.scale_block}")
    if c.scale_apply == "promotion" and c.scale_block and c.promote_every != c.scale_block:
        raise UsageError(
            f"scale_apply = 'promotion' requires promote_every == scale_block "
            f"({c.promote_every} != {c.scale_block})"
        )


# ---------------------------------------------------------------- presets
_PRESETS = {
    "default": (
        "the hypothetical domestic UE8M0 accelerator: 32-wide fused steps, "
        "25 alignment bits, fp32 rne, UE8M0 block 128 applied per product",
        {},
    ),
    "exact": (
        "the ideal: one rne rounding to fp32 of the exact result (C included)",
        dict(fused="k", align_bits="exact", scale_block=0),
    ),
    "fp32-seq": (
        "a chain of FP32 FMAs, one rounding per product (CUDA cores)",
        dict(fused=1, align_bits="exact", scale_block=0),
    ),
    "h100": (
        "Hopper wgmma FP8: 32 products + C aligned to 13 bits below the largest, "
        "truncated, e8m13 rz",
        dict(fused=32, align_bits=13, acc_format="e8m13", acc_round="rz", scale_block=0),
    ),
    "ada": (
        "Ada / L40S FP8 mma: 16-wide steps, 13 alignment bits, e8m13 rz",
        dict(fused=16, align_bits=13, acc_format="e8m13", acc_round="rz", scale_block=0),
    ),
    "b200": (
        "Blackwell B200 warp-level mma.sync FP8: 32-wide, 31 alignment bits, fp32 rne",
        dict(fused=32, align_bits=31, scale_block=0),
    ),
    "mxfp8": (
        "Blackwell mxf8f6f4.block_scale: UE8M0 block 32 per product, 25 bits, fp32 rz",
        dict(fused=32, align_bits=25, acc_round="rz", scale_block=32),
    ),
    "deepseek-v3": (
        "DeepSeek-V3 on H800: h100 numerics, 1x128 A and 128x128 B scales "
        "applied on promotion to fp32 every 128",
        dict(
            fused=32,
            align_bits=13,
            acc_format="e8m13",
            acc_round="rz",
            scale_block=128,
            scale_b_tile=128,
            scale_apply="promotion",
            promote_every=128,
        ),
    ),
}


def presets() -> dict:
    """{name: one-line description} of every preset."""
    return {k: v[0] for k, v in _PRESETS.items()}


def preset(name: str) -> MacConfig:
    """The MacConfig of a named preset (see :func:`presets`)."""
    key = str(name).strip().lower()
    if key not in _PRESETS:
        raise UsageError(f"unknown preset {name!r} (presets: {', '.join(_PRESETS)})")
    return MacConfig(**_PRESETS[key][1])


def resolve(preset_name=None, config_path=None, sets=()) -> MacConfig:
    """The CLI's rule: --preset or --config (not both; neither = default), then --set."""
    if preset_name and config_path:
        raise UsageError("give --preset or --config, not both")
    if config_path:
        c = MacConfig.from_toml(config_path)
    else:
        c = preset(preset_name or "default")
    return c.with_sets(sets)
