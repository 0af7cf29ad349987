"""`make bench`: throughput of emu.gemm per preset, the machine on the tiled GEMM
program, and CLI start times, each as a ratio to numpy float32 matmul measured in
the same run on the same inputs.  Not a test: it asserts nothing about time.

    python scripts/bench.py [--sizes 256,1024] [--big] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import emu  # noqa: E402
from emu.numerics.quant import quantize  # noqa: E402

PRESETS = ["h100", "ada", "mxfp8", "b200-tcgen05", "default", "deepseek-v3", "exact", "fp32-seq"]
# presets on FP4 or FNUZ operands (the grouped and general kernels): measured at
# 256^3 with their own operand formats
GENERAL_PRESETS = ["b200-mxf4", "b200-nvfp4", "cdna3"]
SMALL = [(64, 64, 1024), (128, 128, 128)]  # small calls (the machine's MMAs, sweeps)


def best_time(fn, repeat):
    fn()  # warm-up: compile or load the cache
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def problem(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n)).astype(np.float32)
    w = rng.standard_normal((n, n)).astype(np.float32)
    a, sa = quantize(x, "e4m3", (1, 128), "floor")
    b, sb_col = quantize(w, "e4m3", (128, 1), "floor")
    _, sb_tile = quantize(w, "e4m3", (128, 128), "floor")
    return x, w, a, sa, b, sb_col, sb_tile


def gemm_args(name, sa, sb_col, sb_tile):
    cfg = emu.preset(name)
    if not cfg.scale_block:
        return cfg, {}
    return cfg, dict(sa=sa, sb=sb_tile if cfg.scale_b_tile else sb_col)


def bench_gemm(n, repeat, rows):
    x, w, a, sa, b, sb_col, sb_tile = problem(n)
    t_np = best_time(lambda: x @ w, repeat)
    rows.append((f"{n}^3", "numpy float32 matmul", t_np, n**3 / t_np, 1.0))
    for name in PRESETS:
        cfg, kw = gemm_args(name, sa, sb_col, sb_tile)
        aa, bb = a, b
        if cfg.scale_block not in (0, 128):  # its own block size (mxfp8: 32)
            q = cfg.scale_block
            aa, kw["sa"] = quantize(x, "e4m3", (1, q), "floor")
            bb, kw["sb"] = quantize(w, "e4m3", (q, 1), "floor")
        t = best_time(lambda cfg=cfg, kw=kw, aa=aa, bb=bb: emu.gemm(aa, bb, config=cfg, **kw),
                      repeat)  # fmt: skip
        rows.append((f"{n}^3", f"emu.gemm {name}", t, n**3 / t, t / t_np))
        print(
            f"  {n}^3 {name:<12} {t:8.3f} s  {n**3 / t / 1e9:6.3f} GMAC/s  {t / t_np:6.1f}x numpy",
            flush=True,
        )
    return t_np


def codes_for(fmt, shape, rng):
    """Random finite codes of an operand format (values of a unit normal)."""
    from emu.numerics.formats import encode

    return encode(fmt, rng.standard_normal(shape))


def bench_general(n, repeat, rows):
    """The presets of other operand formats, on their own formats."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, n)).astype(np.float32)
    w = rng.standard_normal((n, n)).astype(np.float32)
    t_np = best_time(lambda: x @ w, repeat)
    for name in GENERAL_PRESETS:
        cfg = emu.preset(name)
        a = codes_for(cfg.a_format, (n, n), rng)
        b = codes_for(cfg.b_format, (n, n), rng)
        kw = {}
        if cfg.scale_block:
            from emu.numerics.operands import ONE

            nk = -(-n // cfg.scale_block)
            one = ONE[cfg.scale_format]
            kw = dict(sa=np.full((n, nk), one, np.uint8), sb=np.full((nk, n), one, np.uint8))
        t = best_time(lambda cfg=cfg, a=a, b=b, kw=kw: emu.gemm(a, b, config=cfg, **kw), 1)
        from emu.kernels.dispatch import select

        what = f"emu.gemm {name} ({select(cfg, n).name} kernel)"
        rows.append((f"{n}^3", what, t, n**3 / t, t / t_np))
        rate = n**3 / t / 1e9
        print(
            f"  {n}^3 {name:<12} {t:8.3f} s  {rate:6.3f} GMAC/s  {t / t_np:6.1f}x numpy", flush=True
        )


def bench_small(repeat, rows):
    """Small calls: decode, dispatch and thread start count here."""
    rng = np.random.default_rng(4)
    for m, n, k in SMALL:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((k, n)).astype(np.float32)
        a, sa = quantize(x, "e4m3", (1, 128), "floor")
        b, sb = quantize(w, "e4m3", (128, 1), "floor")
        t_np = best_time(lambda x=x, w=w: x @ w, 20)
        for name in ("h100", "mxfp8", "default"):
            cfg = emu.preset(name)
            kw = {}
            if cfg.scale_block:
                q = cfg.scale_block
                sa_, sb_ = (
                    quantize(x, "e4m3", (1, q), "floor")[1],
                    quantize(w, "e4m3", (q, 1), "floor")[1],
                )
                kw = dict(sa=sa_, sb=sb_)
            t = best_time(lambda a=a, b=b, cfg=cfg, kw=kw: emu.gemm(a, b, config=cfg, **kw), 20)
            macs = m * n * k
            rows.append((f"{m}x{n}x{k}", f"emu.gemm {name}", t, macs / t, t / t_np))
            print(f"  {m}x{n}x{k} {name:<8} {t * 1e3:7.2f} ms  {macs / t / 1e9:6.3f} GMAC/s",
                  flush=True)  # fmt: skip


def bench_fit(rows):
    """fp8emu fit: 5,000 random 32-long e4m3 cases made by h100 with a 20-bit window,
    fitted over the whole space (emu.toolkit.fit.bench)."""
    from emu.toolkit import fit

    t = fit.bench(5000, 32)
    rows.append(("5000 cases, K = 32", "fp8emu fit (whole space)", t, float("nan"), float("nan")))
    print(f"  fit 5000 cases: {t:.2f} s", flush=True)


def bench_machine(repeat, rows):
    """The tiled GEMM example program (256 x 256 x 1024) through the machine."""
    from emu.machine.asm import assemble
    from emu.machine.interp import Machine

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
    path = os.path.join(here, "tiled_gemm.s")
    if not os.path.exists(path):
        return
    with open(path) as fh:
        prog = assemble(fh.read(), path)
    n, k = 256, 1024
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    a, sa = quantize(x, "e4m3", (1, 128), "floor")
    b, sbt = quantize(w, "e4m3", (128, 128), "floor")
    t_np = best_time(lambda: x @ w, repeat)
    cfg = emu.preset("default").replace(scale_b_tile=128)
    t_gemm = best_time(lambda: emu.gemm(a, b, sa=sa, sb=sbt, config=cfg), repeat)

    def run_machine():
        m = Machine(prog)
        for name, arr in dict(A=a, B=b, SA=sa, SB=sbt).items():
            m.write_buffer(name, arr)
        m.run()
        return m.read_buffer("D")

    t_m = best_time(run_machine, repeat)
    macs = n * n * k
    rows.append(
        ("256x256x1024", "emu.gemm default (128x128 B tiles)", t_gemm, macs / t_gemm, t_gemm / t_np)
    )
    rows.append(("256x256x1024", "machine: examples/tiled_gemm.s", t_m, macs / t_m, t_m / t_np))
    print(f"  machine {t_m:.3f} s vs emu.gemm {t_gemm:.3f} s: {t_m / t_gemm:.2f}x", flush=True)


def bench_batch(repeat, rows):
    """A stack of 256 independent 64x64x128 GEMMs (each with its own B) in one
    emu.gemm call, against one 16384x64x128 call of the same MACs (h100)."""
    rng = np.random.default_rng(2)
    cfg = emu.preset("h100")
    a = rng.integers(0, 0x70, (256, 64, 128), dtype=np.uint8)
    b = rng.integers(0, 0x70, (256, 128, 64), dtype=np.uint8)
    x = rng.standard_normal((256 * 64, 128)).astype(np.float32)
    w = rng.standard_normal((128, 64)).astype(np.float32)
    macs = 256 * 64 * 64 * 128
    t_np = best_time(lambda: x @ w, repeat)
    t_stack = best_time(lambda: emu.gemm(a, b, config=cfg), repeat)
    t_one = best_time(lambda: emu.gemm(a.reshape(-1, 128), b[0], config=cfg), repeat)
    rows.append(("256 x 64x64x128", "emu.gemm h100, stacked (own B each)", t_stack,
                 macs / t_stack, t_stack / t_np))  # fmt: skip
    rows.append(("16384x64x128", "emu.gemm h100, one call", t_one, macs / t_one, t_one / t_np))
    print(f"  batch: stack {t_stack:.3f} s vs one call {t_one:.3f} s", flush=True)


def _seconds(cmd, env=None, repeat=3):
    """Best wall time of a command over ``repeat`` runs (it must succeed)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best


def cli_start(rows):
    """Start-up: ``python -c pass``, help and presets (no numba), a 16x16x128
    ``fp8emu gemm`` warm (the numba cache that ``make setup`` filled) and cold (an
    empty cache: what a first command would pay without the setup's warm-up).  The
    ratio column is against ``python -c pass`` here."""
    fp8emu = [sys.executable, "-m", "emu.cli"]
    with tempfile.TemporaryDirectory() as d:
        rng = np.random.default_rng(1)
        np.save(os.path.join(d, "a.npy"), rng.integers(0, 0x7E, (16, 128), dtype=np.uint8))
        np.save(os.path.join(d, "b.npy"), rng.integers(0, 0x7E, (128, 16), dtype=np.uint8))
        gemm = [*fp8emu, "gemm", "--a", f"{d}/a.npy", "--b", f"{d}/b.npy", "--preset", "h100"]
        gemm += ["--out", f"{d}/d.npy"]
        cold_env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(d, "cache"))
        t_py = _seconds([sys.executable, "-c", "pass"])
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], None, 3),
            ("fp8emu --help", [*fp8emu, "--help"], None, 3),
            ("fp8emu presets", [*fp8emu, "presets"], None, 3),
            ("fp8emu gemm --help", [*fp8emu, "gemm", "--help"], None, 3),
            ("fp8emu gemm 16x16x128, warm", gemm, None, 3),
            ("fp8emu gemm 16x16x128, cold (empty numba cache)", gemm, cold_env, 1),
        ]
        for label, cmd, env, repeat in cases:
            dt = _seconds(cmd, env, repeat)
            rows.append(("start", label, dt, float("nan"), dt / t_py))
            print(f"  start {label}: {dt:.2f} s", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="256,1024")
    p.add_argument("--big", action="store_true", help="also 2048^3")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([2048] if args.big else [])
    import numba

    print(
        f"fp8emu {emu.__version__} bench on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, numba {numba.__version__}, "
        f"{numba.config.NUMBA_NUM_THREADS} threads",
        flush=True,
    )
    rows = []
    for n in sizes:
        bench_gemm(n, args.repeat, rows)
    bench_general(256, args.repeat, rows)
    bench_small(args.repeat, rows)
    bench_machine(args.repeat, rows)
    bench_fit(rows)
    bench_batch(args.repeat, rows)
    cli_start(rows)
    print("\n| problem | what | seconds | GMAC/s | x numpy f32 (start: x python) |")
    print("|---|---|---|---|---|")
    for prob, what, t, rate, ratio in rows:
        r = "" if rate != rate else f"{rate / 1e9:.3f}"
        q = "" if ratio != ratio else f"{ratio:.1f}"
        print(f"| {prob} | {what} | {t:.3f} | {r} | {q} |")


if __name__ == "__main__":
    main()
