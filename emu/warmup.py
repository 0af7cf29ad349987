"""Compile every numba kernel into numba's on-disk cache (``python -m emu.warmup``).

``make setup`` (and so ``make demo`` and ``make test``) runs it once, so that the
first real command does not pay the compile (about 10 s on 2 cores); after a
``pip install`` run ``fp8emu warmup`` once.  Each kernel of ``emu.kernels.KERNELS``
is driven on a tiny problem with the operand dtypes it sees in real use (a kernel
added there needs a case here: tests/test_dispatch.py checks that every kernel is
selected by one); the results are checked against the exact reference, so a broken
install fails here.  The kernels take the same parameter-record type for every
configuration (emu.kernels.record), so these cases cover every preset.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def _cases():
    """(label, config, fp8 operand format) covering every kernel and dtype path
    (the kernel each case selects is in its label)."""
    import emu

    exact = emu.preset("exact")
    return [
        ("fast", emu.preset("h100"), "e4m3"),  # fast, fp32 B values
        ("fast+scales", emu.preset("default"), "e4m3"),
        ("fast+promotion", emu.preset("deepseek-v3"), "e4m3"),
        ("fast wide", emu.preset("h100"), "e5m2"),  # fast, float64 B values
        ("exact step", exact, "e4m3"),
        ("fma chain", emu.preset("fp32-seq"), "e4m3"),
        ("general", exact.replace(align_bits=100, fused=4), "e5m2"),
        ("grouped", emu.preset("b200-mxf4"), "e2m1"),
        ("lanes", emu.preset("cdna3"), "e4m3fnuz"),
    ]


def warm(verbose: bool = True) -> float:
    """Run every path once; returns the seconds it took."""
    import emu
    import emu.numerics.reference
    from emu.numerics.formats import get_format

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    for label, cfg, fmt in _cases():
        cfg = cfg.replace(a_format=fmt, b_format=fmt)
        m, n, k = (2, 3, 256) if not cfg.scale_b_tile else (2, 3, 256)
        width = np.uint8((1 << get_format(fmt).bits) - 1)
        a = rng.integers(0, 0x78, (m, k), dtype=np.uint8) & width
        b = rng.integers(0, 0x78, (k, n), dtype=np.uint8) & width
        kw = {}
        if cfg.scale_block:
            nkb = -(-k // cfg.scale_block)
            kw["sa"] = rng.integers(120, 135, (m, nkb), dtype=np.uint8)
            kw["sb"] = rng.integers(120, 135, (nkb, 1 if cfg.scale_b_tile else n), dtype=np.uint8)
        got = emu.gemm(a, b, config=cfg, **kw)
        if get_format(fmt).has_nan:
            a[0, 0] = 0x7F  # a NaN: general kernel
        else:  # FP4/FP6 have none: a NaN scale
            kw["sa"][0, 0] = 0xFF
        got_nan = emu.gemm(a, b, config=cfg, **kw)
        want = emu.numerics.reference.gemm(a, b, config=cfg, **kw)
        if not (
            np.array_equal(got_nan.view(np.uint32), want.view(np.uint32)) and got.shape == (m, n)
        ):
            raise SystemExit(f"emu.warmup: {label}: kernels differ from the reference")
    _warm_fit()
    dt = time.perf_counter() - t0
    if verbose:
        print(f"fp8emu: numba kernels compiled and cached ({dt:.1f} s)")
    return dt


def _warm_fit() -> None:
    """Compile `fp8emu fit`'s search loops (emu.toolkit.fit): a fit of 20 probe cases
    of h100 in a space of one configuration, which must fit exactly."""
    import emu
    from emu.toolkit import fit, probe
    from emu.toolkit.validate import Cases, emulate

    cases, _ = probe.generate("e4m3")
    n = 20
    cases = Cases(cases.a[:n], cases.b[:n], cases.c[:n], None, None, None, cases.where[:n])
    d = emulate(cases, emu.preset("h100"))
    cases = Cases(cases.a, cases.b, cases.c, d, None, None, cases.where)
    one = {"align_bits": [13], "fused": [32], "acc_format": ["e8m13"]}
    if not fit.fit(cases, space=one, max_align=13).exact:
        raise SystemExit("emu.warmup: fit: the h100 probe cases do not fit h100")


if __name__ == "__main__":
    warm(verbose="-q" not in sys.argv[1:])
