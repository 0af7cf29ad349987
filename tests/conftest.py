"""Shared helpers for the tests."""

import os

import numpy as np
import pytest
from hypothesis import settings

# CI runs the same examples every time (derandomize); HYPOTHESIS_PROFILE=explore
# searches new ones (run it locally after changing a kernel).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from emu.operands import n_blocks  # noqa: E402 (after the profile is loaded)


def bits(x):
    """float32 array as uint32 bit patterns (for bit-exact comparisons)."""
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def assert_bits_equal(got, want, msg=""):
    g, w = bits(got), bits(want)
    if not np.array_equal(g, w):
        idx = np.argwhere(g != w)[0]
        raise AssertionError(
            f"{msg} first mismatch at {tuple(idx)}: got "
            f"{g[tuple(idx)]:#010x} want {w[tuple(idx)]:#010x}"
        )


def random_scales(rng, cfg, M, N, K, nan_rate=0.0, lo=110, hi=145):
    """Random UE8M0 scales shaped for cfg (None when cfg has no scales)."""
    if not cfg.scale_block:
        return None, None
    nkb = n_blocks(K, cfg.scale_block)
    sa = rng.integers(lo, hi, (M, nkb)).astype(np.uint8)
    shape = (nkb, n_blocks(N, 128)) if cfg.scale_b_tile else (nkb, N)
    sb = rng.integers(lo, hi, shape).astype(np.uint8)
    if nan_rate:
        sa[rng.random(sa.shape) < nan_rate] = 0xFF
        sb[rng.random(sb.shape) < nan_rate] = 0xFF
    return sa, sb


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def run_cli(capsys, *args):
    """Run ``fp8emu *args`` in-process: (exit status, stdout, stderr)."""
    from emu.cli import main

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err
