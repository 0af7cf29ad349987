"""Start-up: help texts import neither numba nor ml_dtypes, and after the setup's
warm-up (``python -m emu.warmup``) the commands of every preset compile nothing."""

import json

import pytest

from tests.helpers import python


def _python(code, env=None):
    """``python -c code`` in a fresh process (what it imports is the point): stdout."""
    rc, out, err = python("-c", code, env=env, timeout=300)
    assert rc == 0, err
    return out


HELP_IMPORTS = """
import contextlib, io, json, sys
from emu.cli import COMMANDS, main
runs = [["--help"], ["presets"], ["presets", "--toml", "h100"]]
runs += [[name, "--help"] for name in COMMANDS]
for argv in runs:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as e:
            assert e.code in (0, None), (argv, e.code)
print(json.dumps(sorted(m for m in ("numba", "llvmlite", "ml_dtypes", "matplotlib")
                        if m in sys.modules)))
"""


def test_help_and_presets_import_no_numba_and_no_ml_dtypes():
    assert json.loads(_python(HELP_IMPORTS)) == []


KERNELS_AFTER_WARMUP = """
import json, numpy as np, emu
from emu.kernels import core, fast, floatpath, general
def misses():
    n = 0
    for mod in (core, fast, floatpath, general):
        for v in vars(mod).values():
            if hasattr(v, "stats") and hasattr(v.stats, "cache_misses"):
                n += sum(v.stats.cache_misses.values())
    return n
m0 = misses()
rng = np.random.default_rng(3)
from emu.numerics.formats import get_format
from emu.numerics.operands import ONE
for name in emu.presets():
    cfg = emu.preset(name)
    for fmt in (cfg.a_format, "e4m3", "e5m2"):
        try:
            c = cfg.replace(a_format=fmt, b_format=fmt)
        except emu.UsageError:  # e5m2 x e5m2 in 16-wide groups (decision 27)
            continue
        mask = (1 << get_format(fmt).bits) - 1
        a = rng.integers(0, 0x70, (5, 384), dtype=np.uint8) & mask
        b = rng.integers(0, 0x70, (384, 7), dtype=np.uint8) & mask
        kw = {}
        if c.scale_block:
            kb = -(-384 // c.scale_block)
            one = ONE[c.scale_format]
            kw = dict(sa=np.full((5, kb), one, np.uint8),
                      sb=np.full((kb, 1 if c.scale_b_tile else 7), one, np.uint8))
        emu.gemm(a, b, c=rng.standard_normal((5, 7)).astype(np.float32), config=c, **kw)
        a[0, 0] = 0x7F & mask
        emu.gemm(a, b, config=c, **kw)
print(json.dumps(misses() - m0))
"""


@pytest.mark.slow
def test_warmup_leaves_nothing_to_compile_for_any_preset(tmp_path):
    """In a fresh numba cache: the warm-up compiles; a new process then runs every
    preset with both FP8 formats, with C and with a NaN, and compiles nothing."""
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    _python("import emu.warmup; emu.warmup.warm(verbose=False)", env)
    assert json.loads(_python(KERNELS_AFTER_WARMUP, env)) == 0
