"""Stacked operands: emu.gemm and emu.reference.gemm on (..., M, K) x (..., K, N)
give, matrix by matrix, the bits of one call per matrix."""

import numpy as np
import pytest

import emu
from emu.errors import UsageError
from tests.helpers import assert_bits_equal, random_scales

CASES = ["h100", "default", "deepseek-v3", "exact", "fp32-seq", "mxfp8"]


def _stack(rng, cfg, batch, M, N, K, shared_b=False):
    a = rng.integers(0, 0x7F, (*batch, M, K), dtype=np.uint8)
    b = rng.integers(0, 0x7F, ((K, N) if shared_b else (*batch, K, N)), dtype=np.uint8)
    c = rng.standard_normal((*batch, M, N)).astype(np.float32)
    sa = sb = None
    if cfg.scale_block:
        pairs = [random_scales(rng, cfg, M, N, K) for _ in range(int(np.prod(batch)))]
        sa = np.stack([p[0] for p in pairs]).reshape(*batch, *pairs[0][0].shape)
        sb = pairs[0][1] if shared_b else np.stack([p[1] for p in pairs])
        if not shared_b:
            sb = sb.reshape(*batch, *pairs[0][1].shape)
    return a, b, c, sa, sb


def _one_by_one(cfg, a, b, c, sa, sb, batch):
    out = np.empty((*batch, a.shape[-2], b.shape[-1]), np.float32)
    for idx in np.ndindex(*batch):
        out[idx] = emu.gemm(
            a[idx],
            b[idx] if b.ndim > 2 else b,
            c=c[idx],
            sa=None if sa is None else sa[idx],
            sb=None if sb is None else (sb[idx] if sb.ndim > 2 else sb),
            config=cfg,
        )
    return out


@pytest.mark.parametrize("shared_b", [False, True], ids=["own B", "shared B"])
@pytest.mark.parametrize("name", CASES)
def test_a_stack_equals_one_call_per_matrix(name, shared_b):
    rng = np.random.default_rng(len(name) + 7 * shared_b)
    cfg = emu.preset(name)
    batch = (3, 2)
    a, b, c, sa, sb = _stack(rng, cfg, batch, 5, 130, 256, shared_b)
    a[0, 1, 2, 3] = 0x7F  # a NaN in one matrix only
    got = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
    assert got.shape == (*batch, 5, 130)
    assert_bits_equal(got, _one_by_one(cfg, a, b, c, sa, sb, batch))
    assert np.isnan(got[0, 1, 2]).all() and not np.isnan(got[0, 0]).any()


def test_the_reference_takes_stacks_too_and_agrees():
    rng = np.random.default_rng(3)
    cfg = emu.preset("default")
    a, b, c, sa, sb = _stack(rng, cfg, (2,), 2, 3, 130)
    want = emu.reference.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
    assert want.shape == (2, 2, 3)
    assert_bits_equal(emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg), want)
    assert_bits_equal(
        want[1], emu.reference.gemm(a[1], b[1], c=c[1], sa=sa[1], sb=sb[1], config=cfg)
    )


def test_stacks_broadcast_like_numpy():
    """A (4, M, K) with one B (1, K, N) and a 2-D C shared by every matrix."""
    rng = np.random.default_rng(9)
    cfg = emu.preset("h100")
    a = rng.integers(0, 0x7F, (4, 3, 64), dtype=np.uint8)
    b = rng.integers(0, 0x7F, (1, 64, 6), dtype=np.uint8)
    c = rng.standard_normal((3, 6)).astype(np.float32)
    got = emu.gemm(a, b, c=c, config=cfg)
    for i in range(4):
        assert_bits_equal(got[i], emu.gemm(a[i], b[0], c=c, config=cfg))


def test_bad_stacks_are_one_clear_error():
    cfg = emu.preset("h100")
    a = np.zeros((3, 2, 32), np.uint8)
    with pytest.raises(UsageError, match=r"stacked operands do not broadcast: a \(3, 2, 32\), "):
        emu.gemm(a, np.zeros((2, 32, 4), np.uint8), config=cfg)
    with pytest.raises(UsageError, match=r"b: expected a 2-D or stacked array, got shape \(32,\)"):
        emu.gemm(a, np.zeros(32, np.uint8), config=cfg)
    with pytest.raises(UsageError, match=r"b: shape \(16, 4\) does not fit a \(6, 32\)"):
        emu.gemm(a, np.zeros((16, 4), np.uint8), config=cfg)  # shared B: one GEMM of rows


def test_an_empty_stack_is_an_empty_result():
    cfg = emu.preset("h100")
    d = emu.gemm(np.zeros((0, 2, 16), np.uint8), np.zeros((0, 16, 3), np.uint8), config=cfg)
    assert d.shape == (0, 2, 3) and d.dtype == np.float32
