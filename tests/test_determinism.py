"""Determinism: identical bits whatever the thread count (NUMBA_NUM_THREADS=1, 2, ...)
and across repeated runs, for gemm under several presets (every kernel path: fast,
general, exact single step, fp32 FMA chain; scales, promotion, NaN codes), a program
run by ``fp8emu run``, and the numbers ``compare`` and ``sweep`` write.

The kernels split rows over threads only above a work threshold, so every case here
is large enough to be split (M*N*K >= 2^21)."""

import hashlib
import json
import os

import numpy as np
import pytest

import emu
from emu.kernels import core
from emu.kernels.core import SERIAL_WORK
from emu.numerics.operands import n_blocks
from tests.helpers import ROOT, assert_bits_equal, python

M, N, K = 192, 176, 384
CONFIGS = [
    ("default", {}),  # fast kernel, product scales
    ("h100", {}),  # fast kernel, e8m13 rz
    ("deepseek-v3", {}),  # promotion, 128x128 B tiles
    ("exact", {}),  # one exact step (BLAS + finish)
    ("fp32-seq", {}),  # fp32 FMA chain
    ("default", {"align_bits": 64}),  # general kernel throughout
    ("mxfp8", {"acc_round": "rne", "acc_subnormals": False}),
]


def operands(cfg, seed=11):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (M, K)).astype(np.uint8)
    b = rng.integers(0, 256, (K, N)).astype(np.uint8)
    a[a & 0x7F == 0x7F] = 0x3C  # finite, except a few planted NaNs
    b[b & 0x7F == 0x7F] = 0x3C
    a[3, 17] = b[40, 9] = 0x7F
    c = rng.standard_normal((M, N)).astype(np.float32)
    sa = sb = None
    if cfg.scale_block:
        nkb = n_blocks(K, cfg.scale_block)
        sa = rng.integers(118, 136, (M, nkb)).astype(np.uint8)
        shape = (nkb, n_blocks(N, 128)) if cfg.scale_b_tile else (nkb, N)
        sb = rng.integers(118, 136, shape).astype(np.uint8)
        sa[7, 0] = 0xFF  # a NaN scale
    return a, b, c, sa, sb


@pytest.mark.parametrize(
    "name, changes",
    [  # the general kernel throughout takes a second or two: slow
        pytest.param(n, c, marks=pytest.mark.slow if "align_bits" in c else ()) for n, c in CONFIGS
    ],
    ids=[n + "".join(f",{k}={v}" for k, v in c.items()) for n, c in CONFIGS],
)
def test_gemm_bits_do_not_depend_on_the_thread_count(monkeypatch, name, changes):
    assert M * N * K >= SERIAL_WORK and 64 * M * N >= SERIAL_WORK
    cfg = emu.preset(name).replace(**changes)
    a, b, c, sa, sb = operands(cfg)
    chunks = []

    class Pool(core.ThreadPoolExecutor):  # counts the row chunks
        def submit(self, *args, **kw):
            chunks.append(threads)
            return super().submit(*args, **kw)

    monkeypatch.setattr(core, "_POOL", {})
    monkeypatch.setattr(core, "ThreadPoolExecutor", Pool)
    results = []
    for threads in ("1", "2", "3", "2"):
        monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
        results.append(emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg))
    assert "1" not in chunks and "2" in chunks and "3" in chunks  # really split
    for pool in core._POOL.values():
        pool.shutdown()
    for d in results[1:]:
        assert_bits_equal(d, results[0], f"{name} {changes}")
    d = results[0].view(np.uint32)
    assert (d[3] == 0x7FFFFFFF).all() and (d[:, 9] == 0x7FFFFFFF).all()  # spec 2.2
    if sa is not None:
        assert (d[7] == 0x7FFFFFFF).all()
    finite = np.isfinite(results[0])
    assert finite.sum() > 0.9 * (M - 2) * (N - 1) - 2 * N


def test_a_sub_block_equals_the_reference():
    """The threaded result is also the right one: rows from two different thread
    chunks equal the executable spec."""
    cfg = emu.preset("h100")
    a, b, c, _, _ = operands(cfg)
    d = emu.gemm(a, b, c=c, config=cfg)
    rows = [0, M - 1]
    ref = emu.numerics.reference.gemm(a[rows, :96], b[:96, :3], c=c[rows, :3], config=cfg)
    got = emu.gemm(a[rows, :96], b[:96, :3], c=c[rows, :3], config=cfg)
    assert_bits_equal(got, ref)
    assert d.shape == (M, N)


# ------------------------------------------------------------------ the commands
DRIVER = r"""
import os, sys
from tests.helpers import cli_ok as cli
os.chdir(sys.argv[1])
for rep in ("1", "2"):                     # repeated runs in one process
    out = f"out{rep}"
    os.makedirs(out, exist_ok=True)
    cli("gemm", "--a", "A.npy", "--b", "B.npy", "--sa", "SA.npy", "--sb", "SB.npy",
        "--c", "C.npy", "--preset", "default", "--out", f"{out}/d_default.npy")
    cli("gemm", "--a", "A.npy", "--b", "B.npy", "--c", "C.npy", "--preset", "h100",
        "--out", f"{out}/d_h100.npy")
    cli("gemm", "--a", "A.npy", "--b", "B.npy", "--preset", "exact", "--out",
        f"{out}/d_exact.npy")
    cli("gemm", "--a", "A.npy", "--b", "B.npy", "--sa", "SA.npy", "--sb", "SB.npy",
        "--preset", "default", "--set", "align_bits=64", "--out", f"{out}/d_general.npy")
    cli("run", "tiled.s", "-D", "M=256", "-D", "N=256", "-D", "K=512", "--in", "A=TA.npy",
        "--in", "B=TB.npy", "--in", "SA=TSA.npy", "--in", "SB=TSB.npy",
        "--out", f"D={out}/d_run.npy")
    cli("compare", "--preset", "h100", "--preset", "deepseek-v3", "--k", "512", "--m", "96",
        "--n", "96", "--mean", "1", "--json", f"{out}/compare.json")
    cli("sweep", "--preset", "h100", "--vary", "promote_every=0,128", "--vary",
        "dist=normal,outliers", "--k", "512", "--m", "64", "--n", "96", "--csv",
        f"{out}/sweep.csv")
"""


def outputs(directory):
    """{file: sha256} of a driver's outputs (compare's wall-clock seconds left out)."""
    got = {}
    for rep in ("out1", "out2"):
        for name in sorted(os.listdir(directory / rep)):
            data = (directory / rep / name).read_bytes()
            if name == "compare.json":
                doc = json.loads(data)
                for row in doc["results"]:
                    assert row.pop("seconds") >= 0
                data = json.dumps(doc, sort_keys=True).encode()
            got[f"{rep}/{name}"] = hashlib.sha256(data).hexdigest()
    return got


@pytest.mark.slow
def test_commands_give_identical_bits_under_1_and_2_threads(tmp_path):
    rng = np.random.default_rng(5)
    cfg = emu.preset("default")
    a, b, c, sa, sb = operands(cfg, seed=5)
    for name, arr in dict(A=a, B=b, C=c, SA=sa, SB=sb).items():
        np.save(tmp_path / f"{name}.npy", arr)
    ta = rng.integers(0, 0x7F, (256, 512)).astype(np.uint8)
    tb = rng.integers(0, 0x7F, (512, 256)).astype(np.uint8)
    tsa = rng.integers(120, 134, (256, 4)).astype(np.uint8)
    tsb = rng.integers(120, 134, (4, 2)).astype(np.uint8)
    for name, arr in dict(TA=ta, TB=tb, TSA=tsa, TSB=tsb).items():
        np.save(tmp_path / f"{name}.npy", arr)
    (tmp_path / "tiled.s").write_text((ROOT / "examples" / "tiled_gemm.s").read_text())
    runs = {}
    for threads in ("1", "2"):
        work = tmp_path / f"t{threads}"
        work.mkdir()
        for p in tmp_path.iterdir():
            if p.is_file():
                (work / p.name).write_bytes(p.read_bytes())
        code, _, err = python("-c", DRIVER, work, env={"NUMBA_NUM_THREADS": threads}, timeout=300)
        assert code == 0 and "Traceback" not in err, err[-2000:]
        runs[threads] = outputs(work)
    assert len(runs["1"]) == 14
    assert runs["1"] == runs["2"]  # 1 vs 2 threads
    for rep in ("out1/", "out2/"):  # repeated runs
        assert {k[5:]: v for k, v in runs["1"].items() if k.startswith(rep)} == {
            k[5:]: v for k, v in runs["1"].items() if k.startswith("out1/")
        }
    # and the bits are the right ones
    w = tmp_path / "t1" / "out1"
    assert_bits_equal(np.load(w / "d_default.npy"), emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg))
    assert_bits_equal(np.load(w / "d_h100.npy"), emu.gemm(a, b, c=c, config=emu.preset("h100")))
    assert_bits_equal(
        np.load(w / "d_run.npy"),
        emu.gemm(ta, tb, sa=tsa, sb=tsb, config=emu.preset("default").replace(scale_b_tile=128)),
    )
    doc = json.loads((w / "compare.json").read_text())
    assert [r["config"] for r in doc["results"]] == ["h100"] * 3 + ["deepseek-v3"] * 3
    assert len((w / "sweep.csv").read_text().splitlines()) == 5
