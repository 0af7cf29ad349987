"""The presets as data: one row per named configuration.

A preset is a name, a one-line claim (what it models), the evidence behind the
claim, and the field values that differ from the default machine.  The order of
the rows is the ISA's ``cfgp`` encoding: new presets go at the end.  The preset
tables of README.md and docs/numerics.md are generated from these rows
(``make docs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    claim: str
    evidence: str
    values: dict = field(default_factory=dict)


_HOPPER = dict(fused=32, align_bits=13, acc_format="e8m13", acc_round="rz", scale_block=0)

PRESETS = [
    Preset(
        "default",
        "the hypothetical domestic UE8M0 accelerator: 32-wide fused steps, 25 alignment "
        "bits, fp32 rne, UE8M0 block 128 applied per product",
        "a design point, not a measured chip: DeepSeek V3.1's UE8M0 block scales on an "
        "MX-style datapath (OCP MX v1.0 block scaling, fp32 accumulation)",
    ),
    Preset(
        "exact",
        "the ideal: one rne rounding to fp32 of the exact result (C included)",
        "definition (the reference every error is measured against)",
        dict(fused="k", align_bits="exact", scale_block=0),
    ),
    Preset(
        "fp32-seq",
        "a chain of FP32 FMAs, one rounding per product (CUDA cores)",
        "IEEE 754 fused multiply-add semantics",
        dict(fused=1, align_bits="exact", scale_block=0),
    ),
    Preset(
        "h100",
        "Hopper wgmma FP8: 32 products + C aligned to 13 bits below the largest, "
        "truncated, e8m13 rz",
        "Khattak & Mikaitis 2025 (hardware probes of Hopper tensor cores); MMA-Sim "
        "(arXiv 2511.10909, checked on H100; make crosscheck); DeepSeek-V3 report 3.5.2 "
        "(about 14 bits kept)",
        dict(_HOPPER),
    ),
    Preset(
        "ada",
        "Ada / L40S FP8 mma: 16-wide steps, 13 alignment bits, e8m13 rz",
        "MMA-Sim's Ada model (F = 13, RZ e8m13, 16 FP8 products per step); make crosscheck",
        dict(_HOPPER, fused=16),
    ),
    Preset(
        "b200",
        "Blackwell B200 warp-level mma.sync FP8: 32-wide, 31 alignment bits, fp32 rne",
        "the team contract (section 3); no hardware-checked source: MMA-Sim 2.1.1 has no "
        "FP8 mma.sync on Blackwell, and its tcgen05 kind::f8f6f4 uses 25 bits rz",
        dict(fused=32, align_bits=31, scale_block=0),
    ),
    Preset(
        "mxfp8",
        "Blackwell mxf8f6f4.block_scale: UE8M0 block 32 per product, 25 bits, fp32 rz",
        "OCP MX v1.0 (block 32, E8M0 scales); MMA-Sim's block-scale model (F = 25, RZ "
        "fp32, 32 per step); make crosscheck",
        dict(fused=32, align_bits=25, acc_round="rz", scale_block=32),
    ),
    Preset(
        "deepseek-v3",
        "DeepSeek-V3 on H800: h100 numerics, 1x128 A and 128x128 B scales applied on "
        "promotion to fp32 every 128",
        "DeepSeek-V3 technical report 3.3 (fine-grained 1x128 / 128x128 quantisation, "
        "promotion to CUDA-core FP32 every 128 products) on the h100 datapath",
        dict(
            _HOPPER, scale_block=128, scale_b_tile=128, scale_apply="promotion", promote_every=128
        ),
    ),
]
