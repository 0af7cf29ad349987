"""The dispatch between the kernels, as data: :data:`KERNELS`, :func:`select`,
:func:`run` (the overview and the dispatch rule are in emu/kernels/__init__.py).

No numba at import: each kernel's module loads when the kernel first runs, so the
declarations can be read cheaply (docs, ``select``, ``describe_support``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from emu.kernels.decode import Problem, finish, values
from emu.kernels.record import CLS_NUM, Params
from emu.numerics.formats import decode, get_format


# ---------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Rule:
    """What a kernel accepts for one MacConfig field: ``test(value, cfg, K)``, and
    ``text`` saying it for people (docs, :meth:`Kernel.refusal`).  ``values``: the
    accepted values when the rule is an enumeration (``one_of``).  ``ignored(cfg,
    K)``: true where the field cannot matter (any value is then accepted, a value
    nobody foresaw included): see :func:`unused` and :meth:`unless`."""

    text: str
    test: Callable[[object, object, int], bool]
    values: tuple | None = None
    ignored: Callable[[object, int], bool] | None = None

    def allows(self, value, cfg, K: int) -> bool:
        """The test; one that cannot be evaluated (a value of an unforeseen type)
        refuses, which sends the config to the general kernel."""
        try:
            return self.ignores(cfg, K) or bool(self.test(value, cfg, K))
        except Exception:
            return False

    def ignores(self, cfg, K: int) -> bool:
        """True when the field's value cannot matter for ``cfg`` at K."""
        try:
            return self.ignored is not None and bool(self.ignored(cfg, K))
        except Exception:
            return False

    def unless(self, reason: str, ignored: Callable[[object, int], bool]) -> Rule:
        """This rule, except that any value goes where ``ignored(cfg, K)``."""
        return dataclasses.replace(self, text=f"{self.text} (any when {reason})", ignored=ignored)


def one_of(*allowed) -> Rule:
    """Exactly these values (the type too: ``True`` is not ``1``)."""

    def test(v, cfg, K):
        return any(type(v) is type(a) and v == a for a in allowed)

    text = ", ".join(str(a).lower() if isinstance(a, bool) else str(a) for a in allowed)
    return Rule(text, test, tuple(allowed))


def unused(reason: str) -> Rule:
    """Any value: the field cannot matter given the kernel's other declared values
    (``reason`` says why, for the docs)."""
    return Rule(f"any (unused: {reason})", lambda v, cfg, K: True, ignored=lambda cfg, K: True)


def _is_int(v) -> bool:
    return type(v) is int


def _fp8(v, cfg, K) -> bool:
    """An 8-bit signed operand format with at most 5 exponent and 3 fraction bits: its
    products are exact float64 values inside the fast window's range."""
    f = get_format(v)
    return f.bits == 8 and f.signed and f.pad == 0 and f.ebits <= 5 and f.mbits <= 3


FP8 = Rule("8-bit operand formats with <= 5 exponent and <= 3 fraction bits", _fp8)
ROUNDINGS = one_of("rz", "rne", "ru", "rd")  # not rna: the general kernel rounds it
FITS_FP32 = Rule("an IEEE-style format that fits fp32", lambda v, cfg, K: get_format(v).fits_fp32)
ANY_INT = Rule("any integer", lambda v, cfg, K: _is_int(v))
BOOLS = one_of(True, False)

# Fields no kernel sees: emu.numerics.operands.check expands per-tile B scales
# (scale_b_tile = 128) into per-column ones before any kernel runs.
INDIFFERENT = frozenset({"scale_b_tile"})


@dataclass(frozen=True, eq=False, repr=False)
class Kernel:
    """One kernel: its name, what it computes, the configurations it accepts
    (``supports``: field name -> Rule; None for the general kernel: everything),
    its data condition and how to run it.

    ``fits(problem)``, the data condition: None when the decoded operands do not
    qualify (the general kernel then computes every element), else whatever ``run``
    needs; ``fits = None``: no data condition.  ``run(problem, prepared)``: writes
    ``problem.out`` for the elements it decides and flags the others in
    ``problem.mask`` (elements already flagged there -- NaN or Inf operands, a
    non-finite C -- it may skip)."""

    name: str
    summary: str
    supports: Mapping[str, Rule] | None
    run: Callable
    fits: Callable | None = None

    def refusal(self, cfg, K: int) -> str | None:
        """Why this kernel does not take ``cfg`` at reduction length K (None: it does)."""
        if self.supports is None:
            return None
        for f in dataclasses.fields(cfg):
            if f.name in INDIFFERENT:
                continue
            v = getattr(cfg, f.name)
            rule = self.supports.get(f.name)
            if rule is None:
                return f"{f.name} is not declared by the {self.name} kernel"
            if not rule.allows(v, cfg, K):
                return f"{f.name} = {v!r}; the {self.name} kernel takes {rule.text}"
        return None

    def __repr__(self) -> str:
        return f"<kernel {self.name}>"

    def accepts(self, cfg, K: int) -> bool:
        return self.refusal(cfg, K) is None

    def allowed(self, name: str) -> str:
        """What this kernel takes for field ``name``, in words (for docs)."""
        if self.supports is None:
            return "any"
        if name in INDIFFERENT:
            return "any (not seen by the kernels)"
        rule = self.supports.get(name)
        return rule.text if rule is not None else "not declared (general kernel only)"


# ---------------------------------------------------------------- the kernels
def _run_fma_chain(p: Problem, _prepared) -> None:
    from emu.kernels.core import rows_in_parallel
    from emu.kernels.fast import ROWS
    from emu.kernels.floatpath import fma_chain_fp32

    M, N, K = p.shape
    ops = p.ops
    if p.fast is not None:  # the values (NaN/Inf codes as 0), made already
        a_f, b_f = p.fast.a_val, p.fast.b64.astype(np.float32)  # FP8 values: exact
    else:
        fa, fb = p.formats
        a_f = np.where(p.a_c == CLS_NUM, decode(fa, ops.a), 0.0)
        b_f = np.where(p.b_c == CLS_NUM, decode(fb, ops.b), 0.0).astype(np.float32)
    rows_in_parallel(fma_chain_fp32, M, M * N * K, a_f, b_f, ops.c, p.rows, p.out, block=ROWS)


def _exact_step_fits(p: Problem):
    """The float64 sum of the whole of K is exact (proof in emu/kernels/floatpath.py):
    the operands' values, or None."""
    from emu.kernels.floatpath import exact_step_fits

    fa, fb = p.fracs
    if p.fast is not None:  # values, exponents and their ranges made already
        f = p.fast
        K = p.shape[2]
        if K == 0 or f.a_lo > f.a_hi or f.b_lo > f.b_hi:
            return f.a_val, f.b64
        bound = math.log2(K) + math.log2(f.a_max) + math.log2(f.b_max)
        ok = bound <= 53 + (f.a_lo - fa) + (f.b_lo - fb) - 1e-9
        return (f.a_val, f.b64) if ok else None
    a_val, b_val = values(p.a_m, p.a_s, p.a_e, fa), values(p.b_m, p.b_s, p.b_e, fb)
    a_lsb, b_lsb = (p.a_e - fa)[p.a_m != 0], (p.b_e - fb)[p.b_m != 0]
    return (a_val, b_val) if exact_step_fits(a_val, b_val, a_lsb, b_lsb, p.shape[2]) else None


def _run_exact_step(p: Problem, prepared) -> None:
    from emu.kernels.core import rows_in_parallel
    from emu.kernels.floatpath import finish_exact

    M, N, _ = p.shape
    a_val, b_val = prepared
    redo = np.zeros((M, N), dtype=np.bool_)
    rows_in_parallel(
        finish_exact, M, 64 * M * N, a_val @ b_val, p.ops.c, p.prm.record(), p.out, redo
    )
    p.mask |= redo


def params(cfg, K: int) -> Params:
    """The parameter record the kernels take (``Params.from_config``)."""
    return Params.from_config(cfg, K)


def fast_params(cfg, prm: Params, K: int, a_range, b_range) -> Params | None:
    """The parameter record for the fast kernel, or None when it does not apply.

    Its step sums are exact in float64 when every cut term is below
    2**(align_bits + 2) and a step adds at most fused + 1 of them:
    align_bits + 2 + bitlen(fused + 1) <= 52.  ``align_bits = "exact"`` maps onto it
    too when the data allow: with a window A as wide as the products' whole span
    (largest e_a + e_b minus smallest last place), nothing is ever cut, and with c
    outside the alignment (exactly the same sum when nothing is cut) the step is
    the exact sum rounded once.  a_range/b_range: (smallest, largest) exponent of
    the non-zero operands (smallest > largest: none).
    """
    steps = (K if cfg.fused == "k" else cfg.fused) + 1
    p = prm
    if cfg.align_bits == "exact":
        (a_lo, a_hi), (b_lo, b_hi) = a_range, b_range
        if a_lo > a_hi or b_lo > b_hi:
            span = 0
        else:
            span = int(a_hi) + int(b_hi) + prm.frac_bits - int(a_lo) - int(b_lo)
        p = prm._replace(align_bits=int(span), c_in_alignment=False, align_rne=False)
    return p if p.align_bits + 2 + int(steps).bit_length() <= 52 else None


def _fast_fits(p: Problem):
    K = p.shape[2]
    if p.fast is None:
        return None
    f = p.fast
    return fast_params(p.cfg, p.prm, K, (f.a_lo, f.a_hi), (f.b_lo, f.b_hi))


def _run_fast(p: Problem, fprm: Params) -> None:
    from emu.kernels.core import rows_in_parallel
    from emu.kernels.fast import ROWS, gemm_fast

    M, N, K = p.shape
    a_val, a_e, b_val, b_ef, a32 = p.fast[:5]
    redo = np.zeros((M, N), dtype=np.bool_)
    rows_in_parallel(
        gemm_fast,
        M,
        M * N * K,
        a_val,
        a_e,
        b_val,
        b_ef,
        a32,
        p.ops.c,
        p.sa_p,
        p.sb_p,
        fprm.record(),
        p.rows,
        p.out,
        redo,
        block=ROWS,
    )
    p.mask |= redo


def _run_general(p: Problem, _prepared) -> None:
    """Every element flagged in p.mask."""
    from emu.kernels.core import rows_in_parallel
    from emu.kernels.general import gemm_general

    M, N, K = p.shape
    rows_in_parallel(
        gemm_general,
        M,
        int(p.mask.sum()) * K,
        p.a_m,
        p.a_s,
        p.a_e,
        p.a_c,
        p.b_m,
        p.b_s,
        p.b_e,
        p.b_c,
        p.ops.c,
        p.sa_p,
        p.sb_p,
        p.prm.record(),
        p.mask,
        p.out,
    )


def _single_step_fused(v, cfg, K):
    return K >= 1 and (v == "k" or (_is_int(v) and v >= K))


def _window(v, cfg, K):
    """An integer window whose step sums stay exact in float64 (see fast_params), or
    "exact" (checked on the data)."""
    if v == "exact":
        return True
    if not _is_int(v) or not (cfg.fused == "k" or _is_int(cfg.fused)):
        return False
    steps = (K if cfg.fused == "k" else cfg.fused) + 1
    return v + 2 + int(steps).bit_length() <= 52


# The fields of contract section 5.2 at their defaults, as every fast kernel takes
# them unless it declares more (the general kernel takes every value).
PLAIN_DATAPATH = {
    "scale_format": one_of("ue8m0"),
    "zero_exp": one_of("drop"),
    "overflow": one_of("ieee"),
    "zero_sign": one_of("ieee"),
    "group": one_of(1),
    "lanes": one_of(1),
    "lane_round": unused("lanes = 1"),
    "join_bits": one_of("exact"),
    "join_round": unused("join_bits = 'exact'"),
    "norm_bits": one_of("exact"),
    "norm_round": unused("norm_bits = 'exact'"),
}


def _zero_exp_fast(v, cfg, K):
    """drop, or an integer >= -512 together with zero_sign = positive (the fast
    kernel then needs no signs of zero: every zero result is +0; and 2**(align_bits
    - e_max) stays a float64 normal)."""
    return v == "drop" or (_is_int(v) and v >= -512 and cfg.zero_sign == "positive")


# What the fast kernel takes beyond PLAIN_DATAPATH: the NVIDIA conventions.
NVIDIA_CONVENTIONS = {
    "zero_exp": Rule("'drop', or an integer >= -512 with zero_sign = positive", _zero_exp_fast),
    "overflow": one_of("ieee", "inf"),
    "zero_sign": one_of("ieee", "positive"),
}

NO_PROMOTION = "promote_every = 0"
NOTHING_CUT = "exact alignment cuts nothing"
C_ANYWHERE = "nothing is cut, so C in or out of the alignment gives the same sum"

FMA_CHAIN = Kernel(
    name="fma-chain",
    summary="a chain of fp32 FMAs in float64 (emu/kernels/floatpath.py)",
    supports={
        "a_format": FP8,
        "b_format": FP8,
        "fused": one_of(1).unless("K <= 1", lambda cfg, K: K <= 1),
        "align_bits": one_of("exact"),
        "align_round": unused(NOTHING_CUT),
        "acc_format": one_of("fp32"),
        "acc_round": one_of("rne"),
        "acc_subnormals": one_of(True),
        "c_in_alignment": unused(C_ANYWHERE),
        "scale_block": one_of(0),
        "scale_apply": unused("scale_block = 0"),
        "promote_every": one_of(0),
        "promote_format": unused(NO_PROMOTION),
        "promote_round": unused(NO_PROMOTION),
        **PLAIN_DATAPATH,
    },
    run=_run_fma_chain,
)

EXACT_STEP = Kernel(
    name="exact-step",
    summary="the whole of K in one exact step: a float64 matmul rounded once "
    "(emu/kernels/floatpath.py); data condition: K * amax * bmax <= 2**53 units",
    supports={
        "a_format": FP8,
        "b_format": FP8,
        "fused": Rule("'k', or an integer >= K (K >= 1)", _single_step_fused),
        "align_bits": one_of("exact"),
        "align_round": unused(NOTHING_CUT),
        "acc_format": FITS_FP32,
        "acc_round": ROUNDINGS,
        "acc_subnormals": BOOLS,
        "c_in_alignment": unused(C_ANYWHERE),
        "scale_block": ANY_INT,
        "scale_apply": one_of("product").unless(
            "scale_block = 0", lambda cfg, K: cfg.scale_block == 0
        ),
        "promote_every": one_of(0),
        "promote_format": unused(NO_PROMOTION),
        "promote_round": unused(NO_PROMOTION),
        **PLAIN_DATAPATH,
    },
    fits=_exact_step_fits,
    run=_run_exact_step,
)

FAST = Kernel(
    name="fast",
    summary="finite alignment window, vectorised over column tiles (emu/kernels/fast.py); "
    "data condition for align_bits = 'exact': the products' exponent span fits the window",
    supports={
        "a_format": FP8,
        "b_format": FP8,
        "fused": Rule("any integer, 'k'", lambda v, cfg, K: v == "k" or _is_int(v)),
        "align_bits": Rule(
            "an integer with align_bits + 2 + bit_length(fused + 1) <= 52, 'exact'", _window
        ),
        "align_round": one_of("rz", "rne"),
        "acc_format": FITS_FP32,
        "acc_round": ROUNDINGS,
        "acc_subnormals": BOOLS,
        "c_in_alignment": BOOLS,
        "scale_block": ANY_INT,
        "scale_apply": one_of("product", "promotion"),
        "promote_every": ANY_INT,
        "promote_format": FITS_FP32,
        "promote_round": ROUNDINGS,
        **PLAIN_DATAPATH,
        **NVIDIA_CONVENTIONS,
    },
    fits=_fast_fits,
    run=_run_fast,
)


def _run_grouped(p: Problem, _prepared) -> None:
    from emu.kernels.core import rows_in_parallel
    from emu.kernels.decode import value_tables
    from emu.kernels.grouped import gemm_grouped, scale_values

    M, N, K = p.shape
    cfg, ops = p.cfg, p.ops
    a_val = value_tables(cfg.a_format)[0][ops.a]
    b_val = value_tables(cfg.b_format)[0][ops.b]
    if cfg.scale_block:
        sam, sae = scale_values(ops.sa, cfg.scale_format)
        sbm, sbe = scale_values(ops.sb, cfg.scale_format)
    else:  # one block of 1.0
        sam, sae = np.ones((M, 1)), np.zeros((M, 1), np.int32)
        sbm, sbe = np.ones((1, N)), np.zeros((1, N), np.int32)
    redo = np.zeros((M, N), dtype=np.bool_)
    rows_in_parallel(gemm_grouped, M, M * N * K, a_val, b_val, sam, sae, sbm, sbe, ops.c,
                     p.prm.record(), p.rows, p.out, redo)  # fmt: skip
    p.mask |= redo


def _group_window(v, cfg, K):
    """An integer window for which the grouped kernel's sums are exact (grouped.fits)."""
    from emu.kernels.grouped import fits

    return _is_int(v) and fits(cfg, K)


def _element(v, cfg, K) -> bool:
    return get_format(v).bits <= 8


GROUPED = Kernel(
    name="grouped",
    summary="group > 1: group sums in float64, one term each at its scale's exponent, "
    "vectorised over column tiles (emu/kernels/grouped.py)",
    supports={
        "a_format": Rule("any operand format", _element),
        "b_format": Rule("any operand format", _element),
        "fused": Rule("an integer", lambda v, cfg, K: _is_int(v)),
        "align_bits": Rule(
            "an integer keeping the group sums and the step's sum exact (grouped.fits)",
            _group_window,
        ),
        "align_round": one_of("rz", "rne"),
        "acc_format": FITS_FP32,
        "acc_round": ROUNDINGS,
        "acc_subnormals": BOOLS,
        "c_in_alignment": BOOLS,
        "scale_block": ANY_INT,
        "scale_apply": one_of("product").unless(
            "scale_block = 0", lambda cfg, K: cfg.scale_block == 0
        ),
        "promote_every": one_of(0),
        "promote_format": unused(NO_PROMOTION),
        "promote_round": unused(NO_PROMOTION),
        **PLAIN_DATAPATH,
        **NVIDIA_CONVENTIONS,
        "scale_format": Rule("any scale format", lambda v, cfg, K: True),
        "group": Rule("an integer > 1", lambda v, cfg, K: _is_int(v) and v > 1),
    },
    run=_run_grouped,
)


def _run_lanes(p: Problem, _prepared) -> None:
    from emu.kernels.core import rows_in_parallel
    from emu.kernels.lanes import gemm_lanes

    M, N, K = p.shape
    f = p.fast
    redo = np.zeros((M, N), dtype=np.bool_)
    rows_in_parallel(gemm_lanes, M, M * N * K, f.a_val, f.a_e, f.b64, f.b_ef, p.ops.c,
                     p.prm.record(), p.rows, p.out, redo)  # fmt: skip
    p.mask |= redo


def _lanes_fit(v, cfg, K):
    from emu.kernels.lanes import fits

    return _is_int(v) and fits(cfg, K)


CUTS = one_of("rz", "rne", "rd", "ru")
LANES_FIT = "an integer within the lanes kernel's exact sums (lanes.fits)"

LANES = Kernel(
    name="lanes",
    summary="lanes > 1 with C joined at join_bits and a norm_bits intermediate (CDNA3): "
    "float64 lane sums vectorised over column tiles (emu/kernels/lanes.py)",
    supports={
        "a_format": FP8,
        "b_format": FP8,
        "fused": Rule("an integer", lambda v, cfg, K: _is_int(v)),
        "align_bits": Rule("an integer", lambda v, cfg, K: _is_int(v)),
        "align_round": one_of("rz", "rne", "rd"),
        "acc_format": FITS_FP32,
        "acc_round": ROUNDINGS,
        "acc_subnormals": BOOLS,
        "c_in_alignment": one_of(False),
        "scale_block": one_of(0),
        "scale_apply": unused("scale_block = 0"),
        "promote_every": one_of(0),
        "promote_format": unused(NO_PROMOTION),
        "promote_round": unused(NO_PROMOTION),
        **PLAIN_DATAPATH,
        "scale_format": unused("scale_block = 0"),
        "overflow": one_of("ieee", "inf"),
        "zero_sign": one_of("positive"),
        "lanes": Rule(LANES_FIT, lambda v, cfg, K: _is_int(v) and v > 1 and _lanes_fit(v, cfg, K)),
        "lane_round": CUTS,
        "join_bits": Rule(LANES_FIT, _lanes_fit),
        "join_round": CUTS,
        "norm_bits": Rule(LANES_FIT, _lanes_fit),
        "norm_round": CUTS,
    },
    fits=lambda p: () if p.fast is not None else None,
    run=_run_lanes,
)

GENERAL = Kernel(
    name="general",
    summary="one element at a time, every knob and special value, exact sums in a "
    "Kulisch accumulator (emu/kernels/general.py)",
    supports=None,
    run=_run_general,
)

# In order of precedence; the general kernel last (it accepts every configuration).
KERNELS = (FMA_CHAIN, EXACT_STEP, FAST, GROUPED, LANES, GENERAL)


def select(cfg, K: int) -> Kernel:
    """The kernel for ``cfg`` at reduction length K: the first of KERNELS that
    accepts the configuration (its data condition is asked later, by run)."""
    try:
        return _select_cached(cfg, K, KERNELS)
    except TypeError:  # an unhashable config
        return _select(cfg, K, KERNELS)


def _select(cfg, K, kernels) -> Kernel:
    return next(k for k in kernels if k.accepts(cfg, K))


# Configs are frozen and compare by value (and by class); a few microseconds per
# gemm call saved for the machine's many small ones.
_select_cached = lru_cache(maxsize=512)(_select)


def describe_support(name: str) -> str:
    """What the fast kernels take for MacConfig field ``name``, in words (one cell
    of the docs' field table, emu.numerics.docgen): ``kernel: values`` for each
    kernel but the general one, which takes everything."""
    groups: dict[str, list[str]] = {}
    for k in KERNELS:
        if k is not GENERAL:
            groups.setdefault(k.allowed(name), []).append(k.name)
    return "; ".join(f"{', '.join(names)}: {text}" for text, names in groups.items())


def run(ops, general_only: bool = False) -> np.ndarray:
    """D for checked operands (emu.numerics.operands.Operands) as float32.  general_only
    sends every element to the general kernel (tests use it to check each path)."""
    p = Problem.decode(ops)
    kernel = GENERAL if general_only else select(p.cfg, p.shape[2])
    prepared = None
    if kernel is not GENERAL:
        prepared = kernel.fits(p) if kernel.fits is not None else ()
    if prepared is None:  # the general kernel, or data the chosen kernel cannot take
        p.mask[:] = True
    else:
        kernel.run(p, prepared)
    if p.mask.any():
        GENERAL.run(p, None)
    return finish(p.out)
