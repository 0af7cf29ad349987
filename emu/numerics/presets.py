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
# The NVIDIA conventions of contract 5.3 (as MMA-Sim models the hardware): zero terms
# enter e_max at emin(acc) - 7, every overflow is +-Inf, every zero result +0.
_NVIDIA = dict(zero_exp=-7, overflow="inf", zero_sign="positive")
_MMASIM = "MMA-Sim 2.1.1 (arXiv 2511.10909, checked on the GPUs; make crosscheck)"
_MXF4 = {
    **_NVIDIA,
    "a_format": "e2m1",
    "b_format": "e2m1",
    "fused": 64,
    "group": 16,
    "scale_block": 32,
    "align_bits": 35,
    "acc_round": "rz",
    "zero_exp": -13,
}

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
        "truncated, e8m13 rz, NVIDIA zero and overflow rules",
        "Khattak & Mikaitis 2025 (hardware probes of Hopper tensor cores); MMA-Sim "
        "(arXiv 2511.10909, checked on H100; make crosscheck); DeepSeek-V3 report 3.5.2 "
        "(about 14 bits kept); zero_exp, overflow, zero_sign as MMA-Sim's WGMMA model",
        dict(_HOPPER, **_NVIDIA),
    ),
    Preset(
        "ada",
        "Ada / L40S FP8 mma: 16-wide steps, 13 alignment bits, e8m13 rz, NVIDIA zero and "
        "overflow rules (zero terms at emin - 6)",
        "MMA-Sim's Ada model (F = 13, RZ e8m13, 16 FP8 products per step, e_zero -132 for "
        "fp32 and -20 for fp16 results); make crosscheck",
        {**_HOPPER, **_NVIDIA, "fused": 16, "zero_exp": -6},
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
        "Blackwell mxf8f6f4.block_scale: UE8M0 block 32 per product, 25 bits, fp32 rz, "
        "NVIDIA zero and overflow rules",
        "OCP MX v1.0 (block 32, E8M0 scales); MMA-Sim's block-scale model (F = 25, RZ "
        "fp32, 32 per step, e_zero -133); make crosscheck",
        dict(_NVIDIA, fused=32, align_bits=25, acc_round="rz", scale_block=32),
    ),
    Preset(
        "deepseek-v3",
        "DeepSeek-V3 on H800: h100 numerics, 1x128 A and 128x128 B scales applied on "
        "promotion to fp32 every 128",
        "DeepSeek-V3 technical report 3.3 (fine-grained 1x128 / 128x128 quantisation, "
        "promotion to CUDA-core FP32 every 128 products) on the h100 datapath",
        dict(
            _HOPPER,
            **_NVIDIA,
            scale_block=128,
            scale_b_tile=128,
            scale_apply="promotion",
            promote_every=128,
        ),
    ),
    # contract section 5.3
    Preset(
        "b200-tcgen05",
        "Blackwell tcgen05.mma kind::f8f6f4 (and RTX Blackwell mma): any FP8/FP6/FP4 "
        "pair, 32-wide, 25 bits rz, fp32 rz, NVIDIA rules",
        _MMASIM + ": TCGen05MMA and MMA kind::f8f6f4 (F = 25, RZ-FP32, 32 per step, e_zero -133)",
        dict(_NVIDIA, fused=32, align_bits=25, acc_round="rz", scale_block=0),
    ),
    Preset(
        "b200-mxf4",
        "Blackwell k64 kind::mxf4 / mxf4nvf4.block32: e2m1, groups of 16 summed exactly, "
        "UE8M0 per 32, 35 bits, fp32 rz",
        _MMASIM + ": MMA_GST_FDPA (G = 16, F = 35, RZ-FP32, 64 per step, e_zero -139)",
        dict(_MXF4),
    ),
    Preset(
        "b200-nvfp4",
        "Blackwell k64 kind::mxf4nvf4.block16 (NVFP4): as b200-mxf4 with UE4M3 scales per 16",
        _MMASIM + ": MMA_GST_FDPA with UE4M3 scales per 16 k",
        dict(_MXF4, scale_block=16, scale_format="ue4m3"),
    ),
    Preset(
        "cdna3",
        "AMD MI300 v_mfma_f32_*_fp8/bf8: two interleaved lanes of 8, 24 bits rz, floored "
        "join with C, 31-bit floor, fp32 rne",
        _MMASIM + ": MMA_GTR_FDPA (F = 24, F2 = 31, 16 per step, RNE-FP32); fp8/bf8 are "
        "e4m3fnuz/e5m2fnuz",
        dict(
            a_format="e4m3fnuz",
            b_format="e4m3fnuz",
            fused=16,
            align_bits=24,
            c_in_alignment=False,
            scale_block=0,
            lanes=2,
            lane_round="rd",
            join_bits=32,
            join_round="rd",
            norm_bits=31,
            norm_round="rd",
            zero_sign="positive",
        ),
    ),
]
