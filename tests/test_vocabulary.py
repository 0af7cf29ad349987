"""The numerics vocabulary is data: a format and a preset are one table row each,
and everything derived (emu.gemm, emu.reference.gemm, the CLI's --preset and
--set, TOML, the assembler's cfgp, the docs) takes them.

Registration changes process-wide tables, so it runs in a subprocess."""

from tests.helpers import python

REGISTER = """
import numpy as np
from emu.numerics.config import register_preset
from emu.numerics.formats import Format, register_format
from emu.numerics.presets import Preset

register_format(Format("e3m4", 3, 4, "ieee", ("element",), None, "test-only 8-bit format"))
register_preset(Preset("test-e3m4", "test-only preset", "none",
                       dict(a_format="e3m4", b_format="e3m4", fused=8, align_bits=20,
                            acc_round="rz", scale_block=0)))
"""

CHECKS = """
import contextlib, io, json, os, tempfile
import emu
from emu.cli import main
from emu.machine import run_program

def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()

res = {}
rng = np.random.default_rng(7)
a = rng.integers(0, 0x70, (6, 40), dtype=np.uint8)   # e3m4: 0x70.. are Inf/NaN
b = rng.integers(0, 0x70, (40, 5), dtype=np.uint8)
cfg = emu.preset("test-e3m4")
got = emu.gemm(a, b, config=cfg)
want = emu.reference.gemm(a, b, config=cfg)
res["gemm == reference"] = bool(np.array_equal(got.view(np.uint32), want.view(np.uint32)))
res["value"] = float(emu.reference.gemm(np.array([[0x30]], np.uint8), np.array([[0x38]], np.uint8),
                                        config=cfg)[0, 0])        # 1.0 * 1.5
d = tempfile.mkdtemp()
np.save(f"{d}/a.npy", a); np.save(f"{d}/b.npy", b)
code, _, err = cli("gemm", "--a", f"{d}/a.npy", "--b", f"{d}/b.npy", "--preset", "test-e3m4",
                   "--out", f"{d}/d1.npy")
res["--preset"] = code == 0 and np.array_equal(np.load(f"{d}/d1.npy").view(np.uint32),
                                               got.view(np.uint32))
code, _, err = cli("gemm", "--a", f"{d}/a.npy", "--b", f"{d}/b.npy", "--preset", "h100",
                   "--set", "a_format=e3m4", "--set", "b_format=E3M4", "--out", f"{d}/d2.npy")
want2 = emu.gemm(a, b, config=emu.preset("h100").replace(a_format="e3m4", b_format="e3m4"))
res["--set"] = code == 0 and np.array_equal(np.load(f"{d}/d2.npy").view(np.uint32),
                                            want2.view(np.uint32))
open(f"{d}/c.toml", "w").write('preset = "test-e3m4"\\nalign_bits = 12\\n')
res["toml"] = emu.MacConfig.from_toml(f"{d}/c.toml") == cfg.replace(align_bits=12)
open(f"{d}/c2.toml", "w").write('a_format = "e3m4"\\nb_format = "e3m4"\\nscale_block = 0\\n')
res["toml format"] = emu.MacConfig.from_toml(f"{d}/c2.toml").a_format == "e3m4"
code, out, _ = cli("presets")
res["presets lists it"] = code == 0 and "test-e3m4: test-only preset" in out
src = '''.data
.buffer A, e3m4, 6, 40
.buffer B, e3m4, 40, 5
.buffer D, f32, 6, 5
.text
    cfgp test-e3m4
    li x1, A
    li x2, 40
    tld t0, x1, x2, 6, 40
    li x1, B
    li x2, 5
    tld t1, x1, x2, 40, 5
    azero acc0, 6, 5
    mma acc0, t0, t1
    li x1, D
    li x2, 20
    ast acc0, x1, x2
    halt
'''
status, outs, _ = run_program(src, {"A": a, "B": b}, ["D"])
res["cfgp"] = status == 0 and np.array_equal(outs["D"].view(np.uint32), got.view(np.uint32))
print(json.dumps(res))
"""


def test_a_registered_format_and_preset_reach_every_layer():
    import json

    code, out, err = python("-c", REGISTER + CHECKS)
    assert code == 0, err
    res = json.loads(out.splitlines()[-1])
    assert res == {
        "gemm == reference": True,
        "value": 1.5,
        "--preset": True,
        "--set": True,
        "toml": True,
        "toml format": True,
        "presets lists it": True,
        "cfgp": True,
    }


def test_without_registration_the_names_are_refused():
    """The same names are unknown to a process that did not register them."""
    code, out, err = python(
        "-c",
        "import emu\n"
        "for f in (lambda: emu.preset('test-e3m4'),"
        " lambda: emu.preset('h100').replace(a_format='e3m4')):\n"
        "    try:\n        f()\n    except emu.UsageError as e:\n        print(e)\n",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "unknown preset 'test-e3m4' (presets: default, exact, fp32-seq, h100, ada, b200, "
        "mxfp8, deepseek-v3, b200-tcgen05, b200-mxf4, b200-nvfp4, cdna3)",
        "a_format must be one of e4m3, e5m2, e2m1, e2m3, e3m2, e4m3fnuz, e5m2fnuz, e4m3ieee, "
        "got 'e3m4'",
    ]
