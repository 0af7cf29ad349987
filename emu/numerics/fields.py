"""The numerics fields as data: one row per field of :class:`emu.MacConfig`.

Everything about a field is declared here once: its type and allowed values, its
default (the default machine's value), a one-line meaning, the contract section it
belongs to, and its index in the ISA's ``cfg`` instruction.  From these rows come
the MacConfig dataclass itself, TOML and ``--set`` parsing (:func:`coerce`), the
per-field part of validation (:func:`check_value`), the ISA's ``cfg`` operand
encoding, and the field tables of README.md and docs/numerics.md (``make docs``).
Which kernels serve which values is declared by the kernels themselves
(:data:`emu.kernels.KERNELS`); the generated docs join the two.

Types:
  ``format``: a format name; ``values`` is the role the format must have
      (``element``: an operand format; ``scale``: a block-scale format; ``acc``: an
      IEEE-style format that fits fp32);
  ``enum``: one of ``values``;
  ``int``: an integer >= ``minimum`` (and <= ``maximum`` when set, or one of
      ``values`` when those are given); ``special`` names a value spelt as a word
      (``fused = "k"``, ``align_bits = "exact"``), encoded -1 in the ISA;
  ``bool``: true or false.
"""

from __future__ import annotations

from dataclasses import dataclass

from emu.errors import UsageError
from emu.numerics.formats import ROUND_MODES, formats_with_role, get_format

# Any align_bits >= 570 already keeps every bit (terms span at most 2**284 .. 2**-286:
# e5m2 products with two 2**127 / 2**-127 scales), so this bound only keeps the
# numbers sane; it is not a limit of the datapath model.
MAX_ALIGN_BITS = 1024
# The bound of the other integer fields (fused, scale_block, promote_every): far above
# any K that fits in memory, and within what the kernels take (int64 arithmetic, the
# products of a step in a float64 window) and the ISA's 32-bit ``cfg`` values.
MAX_INT = 1 << 30
# zero_exp d >= -1024: zero terms then sit below every real term's last place.
MAX_ZERO_EXP = 1024
# norm_bits <= 52: the normalised sum is a float64 (the kernels keep it so).
MAX_NORM_BITS = 52


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # format, enum, int, bool
    default: object
    meaning: str
    section: str  # of docs/numerics.md
    values: tuple | str = ()
    minimum: int = 0
    maximum: int | None = None
    special: str | None = None

    def allowed(self) -> str:
        """The allowed values, as the docs and error messages write them."""
        if self.type == "bool":
            return "true, false"
        if self.type == "enum":
            return ", ".join(self.values)
        if self.type == "format":
            if self.values in ("element", "scale"):
                return ", ".join(formats_with_role(self.values))
            return "fp32, fp16, bf16, eXmY (X <= 8, Y <= 23)"
        if self.values:
            text = ", ".join(map(str, self.values))
        elif self.maximum is not None:
            text = f"{self.minimum}..{self.maximum}"
        else:
            text = f">= {self.minimum}"
        return text + (f", {self.special!r}" if self.special else "")


FIELDS = (
    Field("a_format", "format", "e4m3", "operand format of A", "1", "element"),
    Field("b_format", "format", "e4m3", "operand format of B", "1", "element"),
    Field(
        "fused",
        "int",
        32,
        "products per fused step (`k`: the whole K)",
        "2.1",
        minimum=1,
        maximum=MAX_INT,
        special="k",
    ),
    Field(
        "align_bits",
        "int",
        25,
        "fraction bits kept below the largest term",
        "2.1 step 4",
        maximum=MAX_ALIGN_BITS,
        special="exact",
    ),
    Field(
        "align_round",
        "enum",
        "rz",
        "how each term is cut to the quantum",
        "2.1 step 4",
        ("rz", "rne", "rna", "rd"),
    ),
    Field("acc_format", "format", "fp32", "what a fused step rounds into", "2.1 step 5", "acc"),
    Field("acc_round", "enum", "rne", "rounding into acc_format", "2.1 step 5", ROUND_MODES),
    Field("acc_subnormals", "bool", True, "keep (true) or flush subnormal results", "2.1 step 5"),
    Field("c_in_alignment", "bool", True, "the accumulator joins the alignment", "2.1 step 2"),
    Field(
        "scale_block",
        "int",
        128,
        "K values sharing one UE8M0 scale (0: no scales)",
        "2.3",
        maximum=MAX_INT,
    ),
    Field("scale_apply", "enum", "product", "where scales act", "2.3", ("product", "promotion")),
    Field(
        "scale_b_tile", "int", 0, "0: B scales per column; 128: per 128x128 tile", "2.3", (0, 128)
    ),
    Field("promote_every", "int", 0, "promotion interval in k (0: never)", "2.4", maximum=MAX_INT),
    Field("promote_format", "format", "fp32", "the outer accumulator's format", "2.4", "acc"),
    Field("promote_round", "enum", "rne", "rounding into promote_format", "2.4", ROUND_MODES),
    # contract section 5.2 (appended: the order is the ISA's cfg index)
    Field("scale_format", "format", "ue8m0", "the block-scale format", "2.3", "scale"),
    Field(
        "zero_exp",
        "int",
        "drop",
        "zero terms: dropped, or entering e_max at emin(acc_format) + d",
        "2.1 step 3",
        minimum=-MAX_ZERO_EXP,
        maximum=0,
        special="drop",
    ),
    Field(
        "overflow",
        "enum",
        "ieee",
        "an overflowing step or promotion: IEEE rules, or always +-Inf",
        "2.1 step 5",
        ("ieee", "inf"),
    ),
    Field(
        "zero_sign",
        "enum",
        "ieee",
        "the sign of a zero result: IEEE 754 6.3, or always +0",
        "2.1 step 6",
        ("ieee", "positive"),
    ),
    Field(
        "group",
        "int",
        1,
        "products summed exactly into one term before the alignment",
        "2.1 step 1",
        minimum=1,
        maximum=MAX_INT,
    ),
    Field(
        "lanes",
        "int",
        1,
        "interleaved lanes (k mod lanes), each aligned on its own e_max",
        "2.1 step 4",
        minimum=1,
        maximum=MAX_INT,
    ),
    Field(
        "lane_round",
        "enum",
        "rz",
        "how lane sums are cut to align_bits below the largest lane",
        "2.1 step 4",
        ROUND_MODES,
    ),
    Field(
        "join_bits",
        "int",
        "exact",
        "C outside the alignment joins the dot part at this many bits",
        "2.1 step 5",
        maximum=MAX_ALIGN_BITS,
        special="exact",
    ),
    Field(
        "join_round",
        "enum",
        "rz",
        "how the join cuts the dot part and C",
        "2.1 step 5",
        ROUND_MODES,
    ),
    Field(
        "norm_bits",
        "int",
        "exact",
        "the joined sum is normalised and cut to this many fraction bits",
        "2.1 step 5",
        maximum=MAX_NORM_BITS,
        special="exact",
    ),
    Field("norm_round", "enum", "rz", "how the normalised sum is cut", "2.1 step 5", ROUND_MODES),
)
BY_NAME = {f.name: f for f in FIELDS}
FIELD_NAMES = tuple(BY_NAME)

_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _unknown(name) -> UsageError:
    return UsageError(f"unknown config field {name!r} (fields: {', '.join(FIELD_NAMES)})")


def field(name: str) -> Field:
    if name not in BY_NAME:
        raise _unknown(name)
    return BY_NAME[name]


def coerce(name: str, v):
    """Turn a TOML/CLI value into the field's type (strings from --set, TOML values),
    or raise UsageError.  The value is checked later by :func:`check_value`."""
    f = field(name)
    if f.type == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in _BOOL:
            return _BOOL[v.strip().lower()]
        raise UsageError(f"{name}: expected true or false, got {_show(v)}")
    if f.type == "int":
        extra = f" or {f.special!r}" if f.special else ""
        if isinstance(v, str) and f.special and v.strip().lower() == f.special:
            return f.special
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise UsageError(f"{name}: expected an integer{extra}, got {_show(v)}")
        if isinstance(v, str):
            text = v.strip()
            digits = text.replace("_", "").lstrip("+-")
            if len(digits) > 40 and digits.isdigit():  # int() refuses over 4300 digits
                _raise_range(f, text.startswith("-"), f"a {len(digits)}-digit number")
            for base in (10, 0):  # decimal with leading zeros, then 0x.., 0b..
                try:
                    v = int(text, base)
                    break
                except ValueError:
                    pass
            else:
                raise UsageError(f"{name}: expected an integer{extra}, got {_show(v)}")
        if v.bit_length() > 64:  # refused here: later messages would print all its digits
            _raise_range(f, v < 0, _show(v))
        return v
    if not isinstance(v, str):
        raise UsageError(f"{name}: expected a string, got {_show(v)}")
    return v.strip().lower()


def _raise_range(f: Field, negative: bool, shown: str):
    """The range error of int field f for a value shown as ``shown`` (as check_value
    words it)."""
    if f.values:
        raise UsageError(f"{f.name} must be {' or '.join(map(str, f.values))}, got {shown}")
    if negative or f.maximum is None:
        extra = f" or {f.special!r}" if f.special else ""
        raise UsageError(f"{f.name} must be an integer >= {f.minimum}{extra}, got {shown}")
    alt = f" (or {f.special!r})" if f.special else ""
    raise UsageError(f"{f.name} must be at most {f.maximum}{alt}, got {shown}")


def _show(v) -> str:
    """A value for an error message: repr, but a huge integer by its size (str() of
    one over 4300 digits raises) and a long text cut short."""
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 128:
        return f"an integer of {v.bit_length()} bits"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def check_value(f: Field, v) -> None:
    """Raise UsageError unless v is a legal value of field f (on its own)."""
    if f.type == "bool":
        if not isinstance(v, bool):
            raise UsageError(f"{f.name} must be true or false, got {v!r}")
    elif f.type == "int":
        if f.special and v == f.special:
            return
        extra = f" or {f.special!r}" if f.special else ""
        if isinstance(v, bool) or not isinstance(v, int) or v < f.minimum:
            raise UsageError(f"{f.name} must be an integer >= {f.minimum}{extra}, got {_show(v)}")
        if f.maximum is not None and v > f.maximum:
            alt = f" (or {f.special!r})" if f.special else ""
            raise UsageError(f"{f.name} must be at most {f.maximum}{alt}, got {_show(v)}")
        if f.values and v not in f.values:
            raise UsageError(f"{f.name} must be {' or '.join(map(str, f.values))}, got {_show(v)}")
    elif not isinstance(v, str):
        raise UsageError(f"{f.name} must be a name (string), got {v!r}")
    elif f.type == "enum":
        if v not in f.values:
            names = " or ".join(f.values) if len(f.values) == 2 else "one of " + ", ".join(f.values)
            raise UsageError(f"{f.name} must be {names}, got {v!r}")
    elif f.values in ("element", "scale"):
        names = formats_with_role(f.values)
        if v not in names:
            raise UsageError(f"{f.name} must be one of {', '.join(names)}, got {v!r}")
    elif not get_format(v).fits_fp32:
        raise UsageError(
            f"{f.name} {v!r}: must be an IEEE-style format "
            "that fits in fp32 (at most 8 exponent and 23 fraction bits)"
        )
