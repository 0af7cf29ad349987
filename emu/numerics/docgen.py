"""The generated tables of README.md and docs/numerics.md, made from the numerics
tables (FIELDS, FORMATS, PRESETS) and the kernels' declarations.

Each table sits between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` lines; ``python -m emu.numerics.docgen`` (run by
``make docs``) rewrites them in place, and a test fails when a document is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from emu.numerics.config import MacConfig, preset
from emu.numerics.fields import FIELDS
from emu.numerics.formats import FORMATS, get_format
from emu.numerics.presets import PRESETS

ROOT = Path(__file__).resolve().parents[2]


def _value(v) -> str:
    return f"`{str(v).lower() if isinstance(v, bool) else v}`"


def _pow2(x: float) -> str:
    """2^n when x is a power of two, else the shortest repr."""
    import math

    m, e = math.frexp(x)
    return f"2^{e - 1}" if m == 0.5 else f"{x:g}"


def _kernels_for(name: str) -> str:
    """Which fast kernels accept which values of a field (from their declarations)."""
    try:
        from emu.kernels.dispatch import describe_support
    except ImportError:
        return ""
    return describe_support(name)


def fields_table() -> str:
    kern = any(_kernels_for(f.name) for f in FIELDS)
    head = "| field | allowed values | default | meaning | section |"
    rule = "|---|---|---|---|---|"
    if kern:
        head, rule = head + " fast kernels |", rule + "---|"
    rows = [head, rule]
    for f in FIELDS:
        row = f"| `{f.name}` | {f.allowed()} | {_value(f.default)} | {f.meaning} | {f.section} |"
        rows.append(row + (f" {_kernels_for(f.name)} |" if kern else ""))
    return "\n".join(rows)


def _specials(f) -> str:
    top = (1 << f.ebits) - 1
    if f.kind == "e8m0":
        return "NaN = 0xFF; no zero, no Inf"
    if f.kind == "fin":
        return "none: every code is a number"
    if f.kind == "fnuz":
        return "NaN = 0x80 only (the code of -0); no -0, no Inf"
    if f.kind == "fn":
        nan = (1 << (f.ebits + f.mbits)) - 1
        if not f.signed:
            return f"NaN = {nan:#04x} (and {nan | 0x80:#04x}: the top bit is ignored); no Inf"
        return f"NaN = S.{'1' * f.ebits}.{'1' * f.mbits} ({nan:#04x}, {nan | 0x80:#04x}); no Inf"
    return f"Inf = S.{'1' * f.ebits}.{'0' * f.mbits}; NaN = other codes with exponent {top:#x}"


def formats_table() -> str:
    rows = [
        "| name | bits | roles | what it is | bias | M | specials | max finite | min subnormal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in FORMATS:
        roles = ", ".join(f.roles) or "planned"
        rows.append(
            f"| `{f.name}` | {f.bits} | {roles} | {f.summary} | {f.bias} | {f.mbits} | "
            f"{_specials(f)} | {f.max_finite:g} | {_pow2(f.min_subnormal)} |"
        )
    e = get_format("e8m13")
    rows.append(
        f"| `eXmY` (e.g. `e8m13`) | 1 + X + Y | acc | IEEE-style, X exponent and Y fraction "
        f"bits (`e8m13`: fp32 with 13 fraction bits, held in an fp32 container) | "
        f"2^(X-1) - 1 | Y | {_specials(e)} | (2 - 2^-Y)·2^bias | 2^(1 - bias - Y) |"
    )
    return "\n".join(rows)


def _scales(c: MacConfig) -> str:
    if not c.scale_block:
        return "none"
    b = "128x128 tiles" if c.scale_b_tile else f"per {c.scale_block} k"
    fmt = c.scale_format.upper()
    return f"{fmt} per {c.scale_block} k (A), {b} (B), on {c.scale_apply}s"


def _datapath(c: MacConfig) -> str:
    """The 2.1b fields and the 5.2 conventions a preset sets, in words."""
    parts = []
    if c.group > 1:
        parts.append(f"groups of {c.group}")
    if c.lanes > 1:
        parts.append(f"{c.lanes} lanes, {c.lane_round}")
    if c.join_bits != "exact":
        parts.append(f"C joins at {c.join_bits} bits, {c.join_round}")
    if c.norm_bits != "exact":
        parts.append(f"{c.norm_bits}-bit {c.norm_round} before rounding")
    if c.zero_exp != "drop":
        parts.append(f"zero terms at emin{c.zero_exp:+d}")
    if c.overflow != "ieee":
        parts.append(f"overflow {c.overflow}")
    if c.zero_sign != "ieee":
        parts.append(f"zeros {c.zero_sign}")
    return "; ".join(parts) or "-"


def _promotion(c: MacConfig) -> str:
    if not c.promote_every:
        return "none"
    return f"every {c.promote_every} to {c.promote_format} {c.promote_round}"


def presets_table(evidence: bool = False) -> str:
    head = (
        "| preset | operands | fused | align_bits | acc | scales | promotion | datapath "
        "and conventions | what it models |"
    )
    rule = "|---|---|---|---|---|---|---|---|---|"
    if evidence:
        head, rule = head + " evidence |", rule + "---|"
    rows = [head, rule]
    for p in PRESETS:
        c = preset(p.name)
        row = (
            f"| `{p.name}` | {c.a_format} x {c.b_format} | {c.fused} | {c.align_bits} "
            f"{c.align_round} | {c.acc_format} {c.acc_round} | {_scales(c)} | "
            f"{_promotion(c)} | {_datapath(c)} | {p.claim} |"
        )
        rows.append(row + (f" {p.evidence} |" if evidence else ""))
    return "\n".join(rows)


# document -> {table name: function}
TABLES = {
    "README.md": {"presets": presets_table},
    "docs/numerics.md": {
        "fields": fields_table,
        "formats": formats_table,
        "presets": lambda: presets_table(evidence=True),
    },
}


def render(text: str, tables: dict) -> str:
    """The document text with every generated table replaced."""
    for name, make in tables.items():
        pat = re.compile(
            rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S
        )
        if not pat.search(text):
            raise ValueError(f"no GENERATED: {name} markers")
        text = pat.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv=None) -> int:
    """Rewrite the generated tables in place (``--check``: exit 1 if any is stale)."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for doc, tables in TABLES.items():
        path = ROOT / doc
        old = path.read_text()
        new = render(old, tables)
        if new != old:
            stale.append(doc)
            if not check:
                path.write_text(new)
    if stale:
        print(("stale: " if check else "rewrote: ") + ", ".join(stale))
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
