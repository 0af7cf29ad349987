"""The parameter record every kernel takes, and the integer codes inside it.

A MacConfig is Python data (strings, ``"k"``, ``"exact"``); numba kernels want plain
integers and booleans.  :class:`Params` is that translation, made in ONE place,
:meth:`Params.from_config`, from the config and K.  Kernels read it by field name
(``prm.align_bits``, ``prm.acc_mode``, ...), never by position.

Two forms of the same record:

* ``Params``, a ``typing.NamedTuple``: what Python builds, compares, prints and
  varies (the fast kernel's window for exact alignment is ``prm._replace(...)``);
* ``Params.record()``, a numpy structured scalar with the same fields
  (:data:`RECORD_DTYPE`, made from the NamedTuple's annotations): what the numba
  kernels are called with.  numba passes it by reference and reads a field where
  the code reads it.  A NamedTuple argument works too (and caches on disk) but
  travels by value, 15 scalars with every call of the per-element and per-step
  functions: the general kernel measured 15-70 % slower that way, the record is as
  fast as the integer vector it replaces (or faster).  Its numba type is the same
  for every configuration, so nothing compiles anew per config.

To add a field (for a new MacConfig field a kernel must see):

1. add it to :class:`Params` with its type (``int`` or ``bool``; the dtype follows);
2. fill it in :meth:`Params.from_config`;
3. read it by name in the kernels that use it (outside the inner loops);
4. declare the MacConfig field on the kernels that honour it (``supports`` in
   emu/kernels/dispatch.py); until then configs with it go to the general kernel.

This module imports no numba.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, get_type_hints

import numpy as np

from emu.numerics.formats import get_format

# Rounding modes as the kernels code them.
RZ, RNE, RU, RD, RNA = 0, 1, 2, 3, 4
MODE_CODES = {"rz": RZ, "rne": RNE, "ru": RU, "rd": RD, "rna": RNA}

# Operand classes (decoded per code) and the exponent marking a NaN (0xFF) scale.
CLS_NUM, CLS_INF, CLS_NAN = 0, 1, 2
NAN_SCALE = 1 << 20


class Params(NamedTuple):
    """The kernels' view of a MacConfig for one problem (K known).

    Formats are (ebits, mbits) pairs of IEEE-style formats that fit fp32; rounding
    modes are the codes of :data:`MODE_CODES`."""

    fused: int  # products per fused step (K, at least 1, for fused = "k")
    align_bits: int  # fraction bits kept below the largest term; -1: exact alignment
    align_rne: bool  # terms cut to the quantum by rne (False: rz, or rna below)
    align_rna: bool  # terms cut to the quantum by rna (nearest, ties away)
    acc_ebits: int  # acc_format
    acc_mbits: int
    acc_mode: int  # acc_round
    acc_subnormals: bool
    c_in_alignment: bool
    promote_every: int  # 0: no promotion
    promote_ebits: int  # promote_format
    promote_mbits: int
    promote_mode: int  # promote_round
    frac_bits: int  # product = a_m * b_m * 2**(a_e + b_e - frac_bits) (see operand_frac)
    scale_at_promotion: bool  # scales present and applied at promotion
    scale_block: int  # K values per scale (0: no scales)
    align_mode: int  # align_round as a mode code (rz, rne, rna, rd)
    zero_exp_on: bool  # zero terms enter e_max (zero_exp an integer)
    zero_exp: int  # ... at this exponent: emin(acc_format) + zero_exp
    overflow_inf: bool  # overflow = "inf": every overflow gives +-Inf
    zero_positive: bool  # zero_sign = "positive": every zero result is +0
    group: int  # products summed exactly into one term (1: none)
    lanes: int  # interleaved lanes of a step (1: one alignment)
    lane_mode: int  # lane_round
    join_bits: int  # -1: C joins exactly
    join_mode: int  # join_round
    norm_bits: int  # -1: no intermediate normalisation
    norm_mode: int  # norm_round

    @classmethod
    def from_config(cls, cfg, K: int) -> Params:
        """The record for config ``cfg`` and reduction length ``K``."""
        acc, pro = get_format(cfg.acc_format), get_format(cfg.promote_format)
        return cls(
            fused=max(int(K), 1) if cfg.fused == "k" else int(cfg.fused),
            align_bits=-1 if cfg.align_bits == "exact" else int(cfg.align_bits),
            align_rne=cfg.align_round == "rne",
            align_rna=cfg.align_round == "rna",
            acc_ebits=int(acc.ebits),
            acc_mbits=int(acc.mbits),
            acc_mode=MODE_CODES[cfg.acc_round],
            acc_subnormals=bool(cfg.acc_subnormals),
            c_in_alignment=bool(cfg.c_in_alignment),
            promote_every=int(cfg.promote_every),
            promote_ebits=int(pro.ebits),
            promote_mbits=int(pro.mbits),
            promote_mode=MODE_CODES[cfg.promote_round],
            frac_bits=operand_frac(cfg, "a") + operand_frac(cfg, "b"),
            scale_at_promotion=bool(cfg.scale_block) and cfg.scale_apply == "promotion",
            scale_block=int(cfg.scale_block),
            align_mode=MODE_CODES[cfg.align_round],
            zero_exp_on=cfg.zero_exp != "drop",
            zero_exp=0 if cfg.zero_exp == "drop" else int(acc.emin + cfg.zero_exp),
            overflow_inf=cfg.overflow == "inf",
            zero_positive=cfg.zero_sign == "positive",
            group=int(cfg.group),
            lanes=int(cfg.lanes),
            lane_mode=MODE_CODES[cfg.lane_round],
            join_bits=-1 if cfg.join_bits == "exact" else int(cfg.join_bits),
            join_mode=MODE_CODES[cfg.join_round],
            norm_bits=-1 if cfg.norm_bits == "exact" else int(cfg.norm_bits),
            norm_mode=MODE_CODES[cfg.norm_round],
        )

    def record(self) -> np.void:
        """The same fields as a numpy structured scalar: what the kernels are called
        with (see the module docstring).  Made once per distinct record and shared:
        the kernels only read it."""
        return _record(self)


def scaled_on_products(cfg) -> bool:
    """Block scales multiply the products (2.3 scale_apply = product)."""
    return bool(cfg.scale_block) and cfg.scale_apply == "product"


def operand_frac(cfg, side: str) -> int:
    """Fraction bits of one operand as the kernels decode it (emu.kernels.decode):
    value = m * 2**(e - operand_frac).  Plain: the format's mbits, plus the scale
    format's when product-time scales fold their significand into m (UE8M0 has
    none).  With ``group`` > 1, e is the block scale's exponent alone (the group's
    alignment exponent) and m carries the operand's own exponent as a shift by
    e_operand - emin, so the fraction bits grow by -emin."""
    f = get_format(getattr(cfg, f"{side}_format"))
    frac = f.mbits + (get_format(cfg.scale_format).mbits if scaled_on_products(cfg) else 0)
    return frac - f.emin if cfg.group > 1 else frac


@lru_cache(maxsize=256)
def _record(p: Params) -> np.void:
    a = np.empty(1, dtype=RECORD_DTYPE)
    a[0] = tuple(p)
    return a[0]


_NUMPY_TYPES = {int: np.int64, bool: np.bool_}
RECORD_DTYPE = np.dtype(
    [(name, _NUMPY_TYPES[t]) for name, t in get_type_hints(Params).items()], align=True
)
