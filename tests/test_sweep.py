"""fp8emu sweep: knob parsing, per-point metrics, CSV and PNG output."""

import csv
import io

import pytest

import emu
from emu.errors import UsageError
from emu.toolkit.sweep import parse_vary, plot_png, sweep, to_csv
from tests.helpers import cli

SMALL = dict(m=4, n=3, k=64, dist="normal", seed=0, mean=0.0, scale_mode="floor")


def test_parse_vary():
    assert parse_vary("align_bits=8:14:2") == ("align_bits", ["8", "10", "12", "14"])
    assert parse_vary("K=256, 1024") == ("k", ["256", "1024"])
    assert parse_vary("acc_format=e8m13,fp32") == ("acc_format", ["e8m13", "fp32"])
    for bad, msg in (
        ("align_bits", "expected knob="),
        ("colour=1,2", "unknown knob"),
        ("k=1:x", "integers"),
        ("k=4:1:0", "step > 0"),
        ("k=", "no values"),
    ):
        with pytest.raises(UsageError, match=msg):
            parse_vary(bad)


def test_exact_numerics_are_bit_exact_at_every_point():
    """Exact alignment, one step: fp32 equals the exact-fp32 reference and bf16 equals
    the exact result rounded once to bf16, at every K."""
    rows = sweep(
        emu.preset("exact"),
        [("acc_format", ["fp32", "bf16"]), ("k", ["32", "96"])],
        SMALL,
        references=("exact", "exact-fp32"),
    )
    assert len(rows) == 8
    for r in rows:
        assert r["n"] == 12 and r["result_format"] == r["acc_format"]
        if r["reference"] == "exact" or r["acc_format"] == "fp32":
            assert r["bit_exact"] == 12 and r["ulp_0"] == 12 and r["max_ulp"] == 0
    fp32 = [r for r in rows if r["acc_format"] == "fp32" and r["reference"] == "exact-fp32"]
    assert all(r["max_abs"] == 0 for r in fp32)
    bf16 = [r for r in rows if r["acc_format"] == "bf16" and r["reference"] == "exact"]
    assert all(0 < r["max_rel"] <= 2.0**-8 for r in bf16)  # one rne rounding


def test_promotion_reduces_error():
    rows = sweep(
        emu.preset("h100"), [("promote_every", ["0", "32"])], dict(SMALL, k=1024, mean=1.0)
    )
    err = {r["promote_every"]: r["max_rel"] for r in rows}
    assert err["0"] > 1e-3 and err["0"] > 10 * err["32"]
    assert [r["result_format"] for r in rows] == ["e8m13", "fp32"]


def test_input_knobs_and_invalid_points():
    rows = sweep(
        emu.preset("default"),
        [("dist", ["uniform", "lognormal"]), ("scale_mode", ["floor", "ceil"])],
        SMALL,
    )
    assert [(r["dist"], r["scale_mode"]) for r in rows] == [
        ("uniform", "floor"),
        ("uniform", "ceil"),
        ("lognormal", "floor"),
        ("lognormal", "ceil"),
    ]
    with pytest.raises(UsageError, match="sweep point fused=3: scale_block"):
        sweep(emu.preset("default"), [("fused", ["32", "3"])], SMALL)
    with pytest.raises(UsageError, match="sweep point dist=cauchy"):
        sweep(emu.preset("default"), [("dist", ["cauchy"])], SMALL)
    with pytest.raises(UsageError, match="given twice"):
        sweep(emu.preset("default"), [("k", ["8"]), ("k", ["16"])], SMALL)


def test_csv_and_png():
    vs = [("align_bits", ["8", "13"])]
    rows = sweep(emu.preset("h100"), vs, SMALL)
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [t["align_bits"] for t in table] == ["8", "13"]
    assert float(table[0]["max_rel"]) == rows[0]["max_rel"]  # repr round-trips
    assert int(table[1]["n"]) == 12 and "ulp_0" in table[0]
    png = plot_png(rows, vs, "normwise", "exact", "title")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_cli(tmp_path):
    c, p = tmp_path / "s.csv", tmp_path / "s.png"
    code, out, err = cli(
        "sweep",
        "--preset",
        "h100",
        "--vary",
        "align_bits=10:13",
        "--m",
        "3",
        "--n",
        "2",
        "--k",
        "64",
        "--csv",
        str(c),
        "--plot",
        str(p),
    )
    assert code == 0 and err == ""  # no progress bar when stderr is not a terminal
    assert out.splitlines()[0].split()[:2] == ["align_bits", "reference"]
    assert len(out.splitlines()) == 5
    assert len(c.read_text().splitlines()) == 5 and p.read_bytes()[:4] == b"\x89PNG"
    code, _, err = cli("sweep", "--vary", "fused=3", "--csv", str(tmp_path / "x.csv"))
    assert code == 2 and "sweep point fused=3" in err and not (tmp_path / "x.csv").exists()
    code, _, err = cli("sweep", "--vary", "k=8", "--plot", "/no/dir/p.png")
    assert code == 2 and "does not exist" in err
    code, out, _ = cli("sweep", "--help")
    assert code == 0 and "Examples:" in out and "--vary promote_every" in out
