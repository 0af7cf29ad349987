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
    frac_bits: int  # fraction bits of a product: a_format.mbits + b_format.mbits
    scale_at_promotion: bool  # scales present and applied at promotion
    scale_block: int  # K values per scale (0: no scales)

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
            frac_bits=int(get_format(cfg.a_format).mbits + get_format(cfg.b_format).mbits),
            scale_at_promotion=bool(cfg.scale_block) and cfg.scale_apply == "promotion",
            scale_block=int(cfg.scale_block),
        )

    def record(self) -> np.void:
        """The same fields as a numpy structured scalar: what the kernels are called
        with (see the module docstring).  Made once per distinct record and shared:
        the kernels only read it."""
        return _record(self)


@lru_cache(maxsize=256)
def _record(p: Params) -> np.void:
    a = np.empty(1, dtype=RECORD_DTYPE)
    a[0] = tuple(p)
    return a[0]


_NUMPY_TYPES = {int: np.int64, bool: np.bool_}
RECORD_DTYPE = np.dtype(
    [(name, _NUMPY_TYPES[t]) for name, t in get_type_hints(Params).items()], align=True
)
