"""emu.distributed on a Dask LocalCluster of 2 worker processes (1 thread each):
row-split GEMMs and sweeps bit-identical to the local run, progress across workers,
clear errors, and fp8emu without Dask installed."""

import operator
import pickle
import socket
import sys

import numpy as np
import pytest

import emu
from emu.errors import UsageError
from emu.toolkit.sweep import plan, sweep, to_csv
from tests.helpers import PREFIX, cli, python

distributed = pytest.importorskip("distributed")

import emu.distributed as ed  # noqa: E402

SMALL = dict(m=16, n=8, k=64, dist="normal", seed=0, mean=1.0, scale_mode="floor")
REFS = ("exact", "exact-fp32", "numpy-fp32")


@pytest.fixture(scope="module")
def client():
    with ed.connect(workers=2, threads_per_worker=1, processes=True) as c:
        yield c


def bits(x):
    return np.asarray(x, np.float32).view(np.uint32)


def test_macconfig_pickles():
    import cloudpickle

    for name in emu.presets():
        cfg = emu.preset(name).replace(align_bits=20)
        for mod in (pickle, cloudpickle):
            back = mod.loads(mod.dumps(cfg))
            assert back == cfg and type(back) is emu.MacConfig and hash(back) == hash(cfg)


def _operands(rng, cfg, m, n, k, batch=()):
    """Random codes of every kind (NaN, inf, subnormals), scales, C."""
    from emu.numerics.formats import get_format

    wa, wb = ((1 << get_format(f).bits) - 1 for f in (cfg.a_format, cfg.b_format))
    a = rng.integers(0, 256, (*batch, m, k), dtype=np.uint8) & np.uint8(wa)
    b = rng.integers(0, 256, (*batch, k, n), dtype=np.uint8) & np.uint8(wb)
    kw = dict(c=rng.standard_normal((*batch, m, n)).astype(np.float32), config=cfg)
    if cfg.scale_block:
        nkb = -(-k // cfg.scale_block)
        nbt = -(-n // 128) if cfg.scale_b_tile else n
        kw["sa"] = rng.integers(118, 137, (*batch, m, nkb), dtype=np.uint8)
        kw["sb"] = rng.integers(118, 137, (*batch, nkb, nbt), dtype=np.uint8)
    return a, b, kw


@pytest.mark.parametrize("name", emu.presets())
def test_gemm_row_split_is_bit_identical(client, name, rng):
    cfg = emu.preset(name)
    a, b, kw = _operands(rng, cfg, 40, 131, 160)
    want = bits(emu.gemm(a, b, **kw))
    for rows in (None, 23, 1000) + ((1,) if name == "default" else ()):
        got = ed.gemm(a, b, client=client, rows=rows, **kw)
        assert got.dtype == np.float32 and np.array_equal(bits(got), want), rows
    if name == "default":  # ml_dtypes operands; the current client by default
        import ml_dtypes

        fp8 = dict(kw, sa=kw["sa"].view(ml_dtypes.float8_e8m0fnu))
        got = ed.gemm(a.view(ml_dtypes.float8_e4m3fn), b.view(ml_dtypes.float8_e4m3fn), **fp8)
        assert np.array_equal(bits(got), want)
    kw.pop("c")  # no C, no scales: the defaults (+0, 2^0) on the workers too
    kw.pop("sa", None)
    assert np.array_equal(
        bits(ed.gemm(a, b, client=client, rows=9, **kw)), bits(emu.gemm(a, b, **kw))
    )


def test_gemm_stacked(client, rng):
    cfg = emu.preset("deepseek-v3")
    # B shared: the rows of every A are one problem
    a, b, kw = _operands(rng, cfg, 5, 130, 256, batch=(3, 2))
    b, kw["sb"] = b[0, 0], kw["sb"][0, 0]
    got = ed.gemm(a, b, client=client, rows=4, **kw)
    assert got.shape == (3, 2, 5, 130)
    assert np.array_equal(bits(got), bits(emu.gemm(a, b, **kw)))
    # B stacked, A shared and broadcast: each matrix split on its own
    a, b, kw = _operands(rng, emu.preset("default"), 9, 20, 200, batch=(3,))
    a, kw["sa"] = a[0], kw["sa"][0]
    got = ed.gemm(a, b, client=client, rows=4, **kw)
    assert got.shape == (3, 9, 20)
    assert np.array_equal(bits(got), bits(emu.gemm(a, b, **kw)))
    # empty stacks
    empty = ed.gemm(np.zeros((0, 2, 16), np.uint8), np.zeros((0, 16, 3), np.uint8), client=client)
    assert empty.shape == (0, 2, 3)
    empty = ed.gemm(np.zeros((0, 16), np.uint8), np.ones((16, 3), np.uint8), client=client)
    assert empty.shape == (0, 3)


def test_gemm_errors_are_emu_gemms(client):
    cfg = emu.preset("default")
    a, b = np.zeros((4, 64), np.uint8), np.zeros((63, 3), np.uint8)
    with pytest.raises(UsageError) as local:
        emu.gemm(a, b, config=cfg)
    with pytest.raises(UsageError) as remote:
        ed.gemm(a, b, config=cfg, client=client)
    assert str(remote.value) == str(local.value)
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(UsageError, match="rows: expected a positive integer"):
            ed.gemm(a, np.zeros((64, 3), np.uint8), config=cfg, client=client, rows=bad)
    with pytest.raises(UsageError, match="stacked operands do not broadcast"):
        ed.gemm(np.zeros((2, 4, 64), np.uint8), np.zeros((3, 64, 3), np.uint8), client=client)


def test_gemm_without_a_client(monkeypatch):
    def none():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "default_client", none)
    with pytest.raises(UsageError, match="no Dask client: pass client="):
        ed.gemm(np.zeros((2, 16), np.uint8), np.zeros((16, 2), np.uint8))


def test_sweep_rows_and_csv_equal_local_in_order(client):
    base = emu.preset("default")
    varies = [("acc_format", ["fp32", "e8m13", "bf16"]), ("k", ["64", "200"])]
    points = plan(base, varies, SMALL, REFS)
    local = sweep(base, varies, SMALL, REFS, points=points)
    ticks = []
    with distributed.get_task_stream(client) as stream:
        remote = sweep(base, varies, SMALL, REFS, ticks.append, points=points, client=client)
    assert ticks == [1] * len(points) == [1] * 6  # one tick per point, from both workers
    assert len({t["worker"] for t in stream.data if "_remote_point" in t["key"]}) == 2
    assert remote == local and to_csv(remote) == to_csv(local)
    assert [(r["acc_format"], r["k"], r["reference"]) for r in remote][:4] == [
        ("fp32", "64", "exact"),
        ("fp32", "64", "exact-fp32"),
        ("fp32", "64", "numpy-fp32"),
        ("fp32", "200", "exact"),
    ]
    # input knobs: new data and references at every point
    varies = [("dist", ["uniform", "outliers"]), ("scale_mode", ["floor", "ceil"])]
    h100 = emu.preset("h100")
    assert sweep(h100, varies, SMALL, client=client) == sweep(h100, varies, SMALL)


def test_map_ordered_order_progress_and_failure(client):
    ticks = []
    items = [(i, 100) for i in range(40)]
    assert ed.map_ordered(client, operator.add, items, ticks.append) == list(range(100, 140))
    assert len(ticks) == 40 and ed.map_ordered(client, operator.add, []) == []
    with pytest.raises(ZeroDivisionError):
        ed.map_ordered(client, operator.truediv, [(1, 1), (1, 0), (2, 1)])


def test_connect_errors():
    with pytest.raises(UsageError, match="not both"):
        with ed.connect("tcp://127.0.0.1:8786", workers=2, option="--dask"):
            pass
    with pytest.raises(UsageError, match=r"^--workers 99999: at most \d+ local worker threads"):
        with ed.connect(workers=99999, option="--workers"):
            pass
    for bad, msg in (("", "empty scheduler address"), ("a.npy", "not a scheduler address")):
        with pytest.raises(UsageError, match=f"^--dask( a.npy)?: {msg}"):
            with ed.connect(bad, option="--dask"):
                pass
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UsageError, match=rf"^--dask tcp://127.0.0.1:{port}: cannot reach"):
        with ed.connect(f"tcp://127.0.0.1:{port}", timeout=1, option="--dask"):
            pass


def test_missing_dask_is_one_usage_error(monkeypatch):
    for mod in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, mod, None)  # `import distributed` fails
    with pytest.raises(
        UsageError, match=r"^--dask needs the optional extra: pip install fp8emu\[dask\]$"
    ):
        with ed.connect("tcp://127.0.0.1:8786", option="--dask"):
            pass
    with pytest.raises(UsageError, match="optional extra"):
        ed.gemm(np.zeros((2, 16), np.uint8), np.zeros((16, 2), np.uint8))
    args = ["sweep", "--preset", "h100", "--vary", "k=16,32", "--m", "2", "--n", "2"]
    for opt in (["--dask", "tcp://127.0.0.1:8786"], ["--workers", "2"]):
        code, out, err = cli(*args, *opt)
        assert code == 2 and out == ""
        assert err == f"{PREFIX}{opt[0]} needs the optional extra: pip install fp8emu[dask]\n"


WITHOUT_DASK = """
import sys
class Block:  # dask is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
import emu, emu.distributed, emu.toolkit.sweep
from emu.cli import main
try:
    main(["sweep", "--preset", "h100", "--vary", "k=16,32", "--m", "2", "--n", "2"])
except SystemExit as e:
    assert e.code in (0, None), e.code
main(["sweep", "--preset", "h100", "--vary", "k=16,32", "--dask", "tcp://127.0.0.1:8786"])
"""


def test_fp8emu_works_without_dask():
    code, out, err = python("-c", WITHOUT_DASK)
    assert "k   reference" in out  # the local sweep ran
    assert (code, err) == (
        2,
        f"{PREFIX}--dask needs the optional extra: pip install fp8emu[dask]\n",
    )
    code, out, err = python(
        "-c",
        "import sys, emu, emu.distributed, emu.toolkit.sweep, emu.cli.tools; "
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))",
    )
    assert (code, out) == (0, "[]\n"), err


def _sweep_csv(tmp_path, name, *opts):
    path = tmp_path / f"{name}.csv"
    args = ["sweep", "--preset", "h100", "--vary", "promote_every=0,32", "--vary", "k=64,128"]
    args += ["--m", "8", "--n", "8", "--mean", "1", "--reference", "exact"]
    args += ["--reference", "numpy-fp32", "--csv", path, *opts]
    code, out, err = cli(*args)
    assert (code, err) == (0, ""), err
    return out, path.read_text()


def test_cli_sweep_dask_equals_local(client, tmp_path):
    local = _sweep_csv(tmp_path, "local")
    assert _sweep_csv(tmp_path, "dask", "--dask", client.scheduler.address) == local
    code, _, err = cli(
        "sweep", "--preset", "h100", "--vary", "k=16", "--dask", "x", "--workers", "2"
    )
    assert code == 2 and err.startswith(PREFIX) and err.count("\n") == 1


@pytest.mark.slow
def test_cli_sweep_workers_equals_local(tmp_path):
    """--workers 2: a LocalCluster of its own (start, warm-up, close: about 4 s)."""
    assert _sweep_csv(tmp_path, "workers", "--workers", "2") == _sweep_csv(tmp_path, "local")
