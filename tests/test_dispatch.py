"""Dispatch as data (emu.kernels.KERNELS): which kernel each configuration gets.

The rule: a kernel accepts a config when every MacConfig field (dataclasses.fields of
the config) is declared by the kernel and its value allowed, or is one of the few
fields no kernel sees (INDIFFERENT); the general kernel, last, accepts everything.
So a field or a value that no fast kernel declares goes to the general kernel.
"""

import dataclasses
import itertools

import numba
import numpy as np
import pytest

import emu
from emu import kernels
from emu.kernels import (
    EXACT_STEP,
    FAST,
    FMA_CHAIN,
    GENERAL,
    INDIFFERENT,
    KERNELS,
    Params,
    describe_support,
    select,
)
from emu.kernels import dispatch as dispatch_mod
from emu.kernels.record import RECORD_DTYPE
from emu.numerics.config import MacConfig
from tests.helpers import assert_bits_equal

FIELDS = [f.name for f in dataclasses.fields(MacConfig)]
FAST_ONES = [k for k in KERNELS if k is not GENERAL]


# ---------------------------------------------------------------- the dispatch before KERNELS
# Verbatim the predicates of the if/elif chain that emu.kernels.run was before the
# dispatch became data: the oracle for which kernel a config gets.
def _old_is_fma_chain(cfg, K):
    return (
        cfg.align_bits == "exact"
        and not cfg.scale_block
        and not cfg.promote_every
        and (cfg.fused == 1 or K <= 1)
        and cfg.acc_format == "fp32"
        and cfg.acc_round == "rne"
        and cfg.acc_subnormals
    )


def _old_is_single_step(cfg, K):
    return (
        cfg.align_bits == "exact"
        and not cfg.promote_every
        and K >= 1
        and (not cfg.scale_block or cfg.scale_apply == "product")
        and (cfg.fused == "k" or cfg.fused >= K)
    )


def _old_route(cfg, K):
    if _old_is_fma_chain(cfg, K):
        return "fma-chain"
    if _old_is_single_step(cfg, K):
        return "exact-step"
    steps = (K if cfg.fused == "k" else cfg.fused) + 1
    if cfg.align_bits == "exact" or cfg.align_bits + 2 + int(steps).bit_length() <= 52:
        return "fast"  # "exact": the fast kernel's window is then checked on the data
    return "general"


TODAY = {
    "default": "fast",
    "h100": "fast",
    "ada": "fast",
    "b200": "fast",
    "mxfp8": "fast",
    "deepseek-v3": "fast",
    "exact": "exact-step",
    "fp32-seq": "fma-chain",
}


@pytest.mark.parametrize("name", sorted(TODAY))
@pytest.mark.parametrize("K", [2, 32, 128, 1000, 4096])
def test_every_preset_goes_where_it_went(name, K):
    cfg = emu.preset(name)
    assert select(cfg, K).name == TODAY[name] == _old_route(cfg, K)


def test_every_preset_is_in_the_table():
    assert set(emu.presets()) >= set(TODAY)


def test_one_product_is_an_fma_chain():
    """K <= 1: the exact preset's one step is one fp32 FMA (as before)."""
    assert select(emu.preset("exact"), 1) is FMA_CHAIN
    assert select(emu.preset("exact"), 0) is FMA_CHAIN


def _random_configs(n, seed=0):
    rng = np.random.default_rng(seed)
    choices = {
        "a_format": ["e4m3", "e5m2"],
        "b_format": ["e4m3", "e5m2"],
        "fused": [1, 2, 4, 16, 32, "k"],
        "align_bits": [0, 13, 25, 44, 45, 47, 48, 49, 50, 100, "exact"],
        "align_round": ["rz", "rne"],
        "acc_format": ["fp32", "bf16", "fp16", "e8m13"],
        "acc_round": ["rz", "rne", "ru", "rd"],
        "acc_subnormals": [True, False],
        "c_in_alignment": [True, False],
        "scale_block": [0, 0, 32, 128],
        "scale_apply": ["product", "promotion"],
        "scale_b_tile": [0, 128],
        "promote_every": [0, 0, 32, 128],
        "promote_format": ["fp32", "bf16"],
        "promote_round": ["rz", "rne", "ru", "rd"],
    }
    out = []
    while len(out) < n:
        d = {k: v[rng.integers(len(v))] for k, v in choices.items() if k in FIELDS}
        if rng.random() < 0.3:  # exact alignment, no scales, no promotion: the float paths
            d.update(align_bits="exact", scale_block=0, scale_b_tile=0, promote_every=0)
        try:
            out.append(MacConfig(**d))
        except emu.UsageError:
            pass
    return out


def test_random_configs_go_where_they_went():
    """Every config (valid ones drawn at random) and K: the same kernel as the
    if/elif chain gave."""
    seen = set()
    for cfg in _random_configs(600):
        for K in (0, 1, 2, 31, 32, 33, 128, 1000, 200000):
            got = select(cfg, K).name
            assert got == _old_route(cfg, K), (cfg, K, [k.refusal(cfg, K) for k in KERNELS])
            seen.add(got)
    assert seen == {k.name for k in KERNELS} - {"grouped", "lanes"}  # none drawn here


# The presets of contract 5.3: where they go (the grouped kernel is new with them).
NEW_PRESETS = {
    "b200-tcgen05": "fast",
    "b200-mxf4": "grouped",
    "b200-nvfp4": "grouped",
    "cdna3": "lanes",
}


@pytest.mark.parametrize("name", sorted(NEW_PRESETS))
def test_new_presets_go_to_their_kernels(name):
    assert select(emu.preset(name), 64).name == NEW_PRESETS[name]


def test_every_preset_has_a_route():
    assert set(emu.presets()) == set(TODAY) | set(NEW_PRESETS)


def test_group_configs_go_to_the_grouped_kernel_when_its_sums_are_exact():
    """grouped.fits: group sums within 53 bits and the step's sum below 2**53."""
    cfg = emu.preset("b200-mxf4")
    assert select(cfg, 64).name == "grouped"
    # 4 * 16 * 6 * 6 = 2**11.2 per term, 4 groups + C: align_bits + 11.2 + 3 <= 52
    assert select(cfg.replace(align_bits=37), 64).name == "grouped"
    assert select(cfg.replace(align_bits=38), 64).name == "general"  # window too wide
    e4 = cfg.replace(a_format="e4m3", b_format="e4m3")  # 16 * 448**2 over 2**-18: 40 bits
    assert select(e4, 64).name == "general"  # 35 + 21.6 + 2 + 3 > 52
    assert select(e4.replace(align_bits=20), 64).name == "grouped"
    assert select(cfg.replace(promote_every=64), 64).name == "general"


# ---------------------------------------------------------------- undeclared values and fields
def test_a_value_no_kernel_declares_goes_to_the_general_kernel():
    cfg = emu.preset("h100")
    object.__setattr__(cfg, "acc_round", "rna")  # bypasses validation
    assert select(cfg, 256) is GENERAL
    assert "acc_round = 'rna'" in FAST.refusal(cfg, 256)


@pytest.mark.parametrize("name", sorted(TODAY))
@pytest.mark.parametrize("field", [f for f in FIELDS if f not in INDIFFERENT])
def test_an_unforeseen_value_of_any_field_goes_to_the_general_kernel(name, field):
    """A value of a type nobody declared, in any field of any preset: the general
    kernel, unless the chosen kernel declares that the field cannot matter there."""
    cfg = emu.preset(name)
    object.__setattr__(cfg, field, object())
    got = select(cfg, 256)
    assert got is GENERAL or got.supports[field].ignores(cfg, 256), (got.name, field)


def test_an_ignored_field_stays_on_its_kernel():
    """exact alignment: a new align_round value cannot matter (nothing is cut)."""
    cfg = emu.preset("exact")
    object.__setattr__(cfg, "align_round", "stochastic")
    assert select(cfg, 256) is EXACT_STEP
    object.__setattr__(cfg, "align_bits", 20)
    assert select(cfg, 256) is GENERAL  # now the cut matters: nobody declares it


def _with_new_field(default, value=None):
    """A MacConfig with one more field (as a new row of the FIELDS table would give)."""
    Ext = dataclasses.make_dataclass(
        "Ext",
        [("new_knob", object, dataclasses.field(default=default))],
        bases=(MacConfig,),
        frozen=True,
    )
    base = emu.preset("h100").to_dict()
    return Ext(**base) if value is None else Ext(**base, new_knob=value)


@pytest.mark.parametrize("value", [None, 0, 7])
def test_a_new_field_goes_to_the_general_kernel(value):
    """Even at its default: no fast kernel has declared it yet."""
    cfg = _with_new_field(0, value)
    assert "new_knob" in [f.name for f in dataclasses.fields(cfg)]
    assert select(cfg, 256) is GENERAL
    assert "new_knob is not declared" in FAST.refusal(cfg, 256)


def test_declaring_the_new_field_brings_it_back(monkeypatch):
    """What the author of the field does: declare it on the kernels that honour it."""
    cfg = _with_new_field(0, 0)
    fast = dataclasses.replace(FAST, supports={**FAST.supports, "new_knob": kernels.one_of(0)})
    monkeypatch.setattr(dispatch_mod, "KERNELS", (FMA_CHAIN, EXACT_STEP, fast, GENERAL))
    assert select(cfg, 256) is fast
    assert select(_with_new_field(0, 7), 256) is GENERAL


def test_declarations_name_real_fields_and_cover_them():
    """No stale or misspelt names; every fast kernel decides on every field (a field
    it leaves out would make it refuse every config)."""
    for k in FAST_ONES:
        assert set(k.supports) <= set(FIELDS), k.name
        assert set(k.supports) | INDIFFERENT == set(FIELDS), (
            k.name,
            set(FIELDS) - set(k.supports) - INDIFFERENT,
        )
    assert KERNELS[-1] is GENERAL and GENERAL.supports is None


def test_describe_support_says_something_for_every_field():
    for f in FIELDS:
        text = describe_support(f)
        assert all(k.name in text for k in FAST_ONES) and "|" not in text, (f, text)


# ---------------------------------------------------------------- what run really runs
def _spy(monkeypatch):
    ran = []

    def wrap(k):
        def run(p, prepared):
            ran.append(k.name)
            return k.run(p, prepared)

        return dataclasses.replace(k, run=run)

    spies = tuple(wrap(k) for k in KERNELS)
    monkeypatch.setattr(dispatch_mod, "KERNELS", spies)
    monkeypatch.setattr(dispatch_mod, "GENERAL", spies[-1])
    return ran


def _operands(cfg, M=5, N=7, K=300, nan=False, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 0x70, (M, K), dtype=np.uint8)
    b = rng.integers(0, 0x70, (K, N), dtype=np.uint8)
    if nan:
        a[0, 0] = 0x7F
    sa = sb = None
    if cfg.scale_block:
        kb = -(-K // cfg.scale_block)
        sa = rng.integers(120, 135, (M, kb), dtype=np.uint8)
        sb = rng.integers(120, 135, (kb, -(-N // 128) if cfg.scale_b_tile else N), dtype=np.uint8)
    return a, b, sa, sb


@pytest.mark.parametrize("name", sorted(TODAY))
@pytest.mark.parametrize("nan", [False, True])
def test_run_runs_the_selected_kernel(monkeypatch, name, nan):
    ran = _spy(monkeypatch)
    cfg = emu.preset(name)
    a, b, sa, sb = _operands(cfg, nan=nan)
    got = emu.gemm(a, b, sa=sa, sb=sb, config=cfg)
    assert ran == [TODAY[name]] + (["general"] if nan else [])
    assert_bits_equal(got, emu.reference.gemm(a, b, sa=sa, sb=sb, config=cfg), name)


def test_data_a_kernel_cannot_take_go_to_the_general_kernel(monkeypatch):
    """exact alignment with a span wider than the fast kernel's window."""
    ran = _spy(monkeypatch)
    cfg = emu.preset("h100").replace(align_bits="exact", fused=1, a_format="e5m2", b_format="e5m2")
    a = np.array([[0x7B, 0x01]], np.uint8)  # 57344 and the smallest subnormal
    b = np.array([[0x7B], [0x01]], np.uint8)
    assert select(cfg, 2).name == "fast"
    got = emu.gemm(a, b, config=cfg)
    assert ran == ["general"]
    assert_bits_equal(got, emu.reference.gemm(a, b, config=cfg))


def test_a_new_field_runs_on_the_general_kernel(monkeypatch):
    ran = _spy(monkeypatch)
    cfg = _with_new_field(0, 7)
    a, b, _, _ = _operands(cfg)
    got = emu.gemm(a, b, config=cfg)
    assert ran == ["general"]
    assert_bits_equal(got, emu.reference.gemm(a, b, config=emu.preset("h100")))


# ---------------------------------------------------------------- the parameter record
def test_the_record_has_one_numba_type_for_every_config():
    """What the kernels are called with (Params.record()) has one numba type, so no
    config compiles the kernels anew; the fast kernel's variant keeps it; the record
    holds the NamedTuple's values, field by field."""
    types = set()
    for cfg, K in itertools.product(_random_configs(50, seed=1), (1, 128)):
        p = Params.from_config(cfg, K)
        assert all(type(v) in (int, bool) for v in p), p
        types.add(numba.typeof(p.record()))
        assert tuple(p.record().tolist()) == tuple(p)
        exp = cfg.replace(align_bits="exact") if cfg.promote_every == 0 else cfg
        q = kernels.fast_params(exp, Params.from_config(exp, K), K, (-3, -3), (4, 4))
        if q is not None:
            types.add(numba.typeof(q.record()))
    assert len(types) == 1, types
    assert RECORD_DTYPE.names == Params._fields


def test_the_record_names_what_the_kernels_read():
    p = Params.from_config(emu.preset("deepseek-v3"), 512)
    assert (p.fused, p.align_bits, p.align_rne, p.acc_ebits, p.acc_mbits) == (32, 13, False, 8, 13)
    assert (p.promote_every, p.scale_at_promotion, p.scale_block, p.frac_bits) == (
        128,
        True,
        128,
        6,
    )
    e = Params.from_config(emu.preset("exact"), 512)
    assert (e.fused, e.align_bits, e.scale_at_promotion) == (512, -1, False)


# ---------------------------------------------------------------- the warm-up
def test_the_warm_up_drives_every_kernel():
    """emu.warmup fills numba's cache for each kernel: one case per kernel at least
    (add a case with each new kernel)."""
    from emu.warmup import _cases

    names = set()
    for _label, cfg, fmt in _cases():
        names.add(select(cfg.replace(a_format=fmt, b_format=fmt), 256).name)
    assert names == {k.name for k in KERNELS}
