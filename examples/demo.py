"""`make demo`: a random 256 x 256 x 1024 problem quantised to E4M3 with UE8M0 1x128
scales, run on the default machine and on h100, compared with the exact result.

Activations A get one scale per 1 x 128 row block, weights B one per 128 x 1 column
block (the K blocks of spec 2.3).  On h100 the same scales are applied to the
products (``--set scale_block=128``): the Hopper datapath fed with scaled data.
"""

from __future__ import annotations

import time

import numpy as np

import emu
from emu.numerics.quant import quantize


def errors(d, exact):
    """max |d - exact|, max and median relative error over non-zero exact, normwise."""
    d, exact = d.astype(np.float64), exact.astype(np.float64)
    diff = np.abs(d - exact)
    nz = exact != 0
    rel = diff[nz] / np.abs(exact[nz])
    return (
        diff.max(),
        rel.max(),
        np.median(rel),
        np.linalg.norm(d - exact) / np.linalg.norm(exact),
    )


def main(m: int = 256, n: int = 256, k: int = 1024, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    a, sa = quantize(x, "e4m3", (1, 128), "floor")
    b, sb = quantize(w, "e4m3", (128, 1), "floor")
    print(f"fp8emu demo: {m}x{n}x{k}, E4M3 with UE8M0 1x128 scales (seed {seed})")
    t = time.perf_counter()
    exact = emu.gemm(a, b, sa=sa, sb=sb, config=emu.preset("exact").replace(scale_block=128))
    print(f"  exact result (one rounding to fp32) in {time.perf_counter() - t:.2f} s")
    print(
        f"  {'machine':<26}{'max abs err':>13}{'max rel err':>13}{'median rel':>12}"
        f"{'normwise':>10}{'bit-exact':>13}{'time':>7}"
    )
    for label, cfg in [
        ("default (UE8M0 block 128)", emu.preset("default")),
        ("h100 (+ product scales)", emu.preset("h100").replace(scale_block=128)),
    ]:
        t = time.perf_counter()
        d = emu.gemm(a, b, sa=sa, sb=sb, config=cfg)
        dt = time.perf_counter() - t
        mx, rel, med, nw = errors(d, exact)
        same = np.count_nonzero(d.view(np.uint32) == exact.view(np.uint32))
        print(
            f"  {label:<26}{mx:>13.3e}{rel:>13.3e}{med:>12.2e}{nw:>10.2e}"
            f"{same:>7}/{d.size:<5}{dt:>6.2f}s"
        )
    print(
        "  (max rel err is large where the exact result is close to zero; the median"
        " and normwise errors show the accumulator)"
    )


if __name__ == "__main__":
    main()
