"""``compare``: run one GEMM under several configs and measure each result against
three reference matmuls of the same quantised inputs.

References (all of them see exactly the FP8 values, scales included, that the
emulated tensor core sees, so quantisation error is not counted):

* ``exact``: the exact C + A.B (float64 of the exact value; ULP distances against
  the exact value rounded once, nearest-even, into the result format);
* ``exact-fp32``: the exact result rounded once to fp32 (what ``emu.preset('exact')``
  computes);
* ``numpy-fp32``: numpy float32 matmul (BLAS) of the dequantised inputs, plus C.

Quantisation of FP32 data follows each config's scale layout: A in 1 x scale_block
blocks; B in scale_block x 1 blocks, or 128 x 128 tiles when scale_b_tile = 128.  A
config without block scales (scale_block = 0, e.g. ``h100``) gets one UE8M0 scale per
tensor, applied to the result as an exact power of two (an fp32 epilogue), the way
per-tensor-scaled FP8 GEMMs run on Hopper; C is fed to the tensor core divided by
that power of two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from emu.errors import UsageError
from emu.numerics.formats import round_array
from emu.numerics.quant import SCALE_MODES, quantize
from emu.toolkit.metrics import Operand, error_metrics, exact_of, result_format

DISTS = ("normal", "uniform", "lognormal", "outliers")
REFERENCES = ("exact", "exact-fp32", "numpy-fp32")
METRICS = ("max_abs", "max_rel", "median_rel", "normwise", "bit_exact", "max_ulp")


# Bounds of generated problems (compare, sweep), checked before anything is drawn:
# values of A (m x k) and of B (k x n), of D (m x n: the exact reference sums each
# one in Python), and multiply-accumulates (m x n x k: about a minute of work).
MAX_OPERAND_VALUES = 1 << 24
MAX_RESULT_VALUES = 1 << 20
MAX_MACS = 1 << 32


def check_scales(config, where: str = "") -> None:
    """UsageError unless the config's block scales are UE8M0 (or it has none): the
    references of compare and sweep take the scales as powers of two (a UE4M3 scale
    format is not measured yet).  Element formats: every one (FP4/FP6, fnuz)."""
    sf = getattr(config, "scale_format", "ue8m0")
    if config.scale_block and sf != "ue8m0":
        raise UsageError(
            f"{where}scale_format = {sf!r}: compare and sweep measure UE8M0 block scales "
            "only (use fp8emu gemm or validate for other scale formats)"
        )


def check_size(m: int, n: int, k: int, opt=lambda name: f"--{name}") -> None:
    """UsageError naming the options unless a generated m x k by k x n problem is
    within :data:`MAX_OPERAND_VALUES`, :data:`MAX_RESULT_VALUES` and :data:`MAX_MACS`.
    ``opt(name)`` spells a dimension's option (``--m``; a sweep says ``m``)."""
    m, n, k = int(m), int(n), int(k)
    for what, (p, x), (q, y), limit in (
        ("A", ("m", m), ("k", k), MAX_OPERAND_VALUES),
        ("B", ("k", k), ("n", n), MAX_OPERAND_VALUES),
        ("D", ("m", m), ("n", n), MAX_RESULT_VALUES),
    ):
        if x * y > limit:
            raise UsageError(
                f"{opt(p)} {x} x {opt(q)} {y}: the generated {what} would have {x * y} "
                f"values, at most {limit}"
            )
    if m * n * k > MAX_MACS:
        raise UsageError(
            f"{opt('m')} {m} x {opt('n')} {n} x {opt('k')} {k} = {m * n * k} "
            f"multiply-accumulates, at most {MAX_MACS} (about a minute of work)"
        )


def generate(dist: str, m: int, n: int, k: int, seed: int = 0, mean: float = 0.0):
    """Random FP32 inputs x (m, k) and y (k, n), reproducible from ``seed``.

    ``normal``: N(0, 1); ``uniform``: U(-1, 1); ``lognormal``: exp(N(0, 1)) (positive,
    heavy tail); ``outliers``: N(0, 1) with 0.1% of the entries times 100 (LLM
    activation outliers).  ``mean`` is added to every entry afterwards.
    """
    if dist not in DISTS:
        raise UsageError(f"unknown distribution {dist!r} (expected one of {', '.join(DISTS)})")
    for name, v in (("m", m), ("n", n), ("k", k)):
        if int(v) < 1:
            raise UsageError(f"--{name} must be >= 1, got {v}")
    if int(seed) < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")
    check_size(m, n, k)
    rng = np.random.default_rng(seed)

    def draw(shape):
        if dist == "normal":
            v = rng.standard_normal(shape)
        elif dist == "uniform":
            v = rng.uniform(-1.0, 1.0, shape)
        elif dist == "lognormal":
            v = np.exp(rng.standard_normal(shape))
        else:
            v = rng.standard_normal(shape)
            v = np.where(rng.random(shape) < 1e-3, v * 100.0, v)
        return (v + mean).astype(np.float32)

    return draw((m, k)), draw((k, n))


@dataclass
class Quantized:
    """FP8 operands for emu.gemm plus their exact values for the references."""

    a: np.ndarray  # (M, K) uint8 codes
    b: np.ndarray  # (K, N) uint8 codes
    sa: np.ndarray | None  # scales as emu.gemm takes them (None: no scales)
    sb: np.ndarray | None
    a_op: Operand
    b_op: Operand
    boundaries: list = field(default_factory=list)  # k where scales may change
    post_exp: int = 0  # per-tensor scale exponent applied to the result
    post_nan: bool = False  # a per-tensor scale is NaN (0xFF)
    layout: str = ""


def _scale_parts(codes, rep_rows, rep_cols, shape):
    """Per-element (exponent, NaN flag) of UE8M0 codes expanded by repetition."""
    s = np.asarray(codes, dtype=np.int64)
    full = np.repeat(np.repeat(s, rep_rows, axis=0), rep_cols, axis=1)[: shape[0], : shape[1]]
    return np.where(full == 0xFF, 0, full - 127), full == 0xFF


def _b_blocks(config):
    if config.scale_b_tile:
        return (128, 128)
    return (config.scale_block, 1)


def quantize_for(config, x, y, scale_mode: str = "floor") -> Quantized:
    """Quantise FP32 x (M, K), y (K, N) to the config's formats and scale layout."""
    if scale_mode not in SCALE_MODES:
        raise UsageError(
            f"unknown scale mode {scale_mode!r} (expected one of {', '.join(SCALE_MODES)})"
        )
    x, y = np.asarray(x), np.asarray(y)
    _check_shapes(x, y)
    M, K = x.shape
    N = y.shape[1]
    bs = config.scale_block
    if bs:
        bb = _b_blocks(config)
        a, sa = quantize(x, config.a_format, (1, bs), scale_mode)
        b, sb = quantize(y, config.b_format, bb, scale_mode)
        ea, na = _scale_parts(sa, 1, bs, (M, K))
        eb, nb = _scale_parts(sb, bb[0], bb[1], (K, N))
        layout = (
            f"A 1x{bs}, B "
            + ("128x128 tiles" if config.scale_b_tile else f"{bs}x1")
            + f", scale_mode {scale_mode}"
        )
        return Quantized(
            a,
            b,
            sa,
            sb,
            Operand(a, config.a_format, ea, na),
            Operand(b, config.b_format, eb, nb),
            list(range(bs, K, bs)),
            layout=layout,
        )
    a, sa = quantize(x, config.a_format, (M, K), scale_mode)
    b, sb = quantize(y, config.b_format, (K, N), scale_mode)
    post_nan = bool(sa[0, 0] == 0xFF or sb[0, 0] == 0xFF)
    ea = 0 if sa[0, 0] == 0xFF else int(sa[0, 0]) - 127
    eb = 0 if sb[0, 0] == 0xFF else int(sb[0, 0]) - 127
    return Quantized(
        a,
        b,
        None,
        None,
        Operand(a, config.a_format, np.full((M, K), ea), np.full((M, K), sa[0, 0] == 0xFF)),
        Operand(b, config.b_format, np.full((K, N), eb), np.full((K, N), sb[0, 0] == 0xFF)),
        [],
        post_exp=ea + eb,
        post_nan=post_nan,
        layout=f"per-tensor scales, scale_mode {scale_mode}",
    )


def from_codes(config, a, b, sa=None, sb=None) -> Quantized:
    """Operands given as FP8 codes (and optional UE8M0 scales) for config's layout."""
    from emu.numerics.operands import check

    ops = check(a, b, None, sa, sb, config)  # validates shapes, expands tiles
    M, K = ops.a.shape
    N = ops.b.shape[1]
    bs = config.scale_block
    if bs:
        ea, na = _scale_parts(ops.sa, 1, bs, (M, K))
        eb, nb = _scale_parts(ops.sb, bs, 1, (K, N))
        bounds = list(range(bs, K, bs))
    else:
        ea = eb = None
        na = nb = None
        bounds = []
    return Quantized(
        ops.a,
        ops.b,
        None if sa is None else np.asarray(sa),
        None if sb is None else np.asarray(sb),
        Operand(ops.a, config.a_format, ea, na),
        Operand(ops.b, config.b_format, eb, nb),
        bounds,
        layout="given codes" + (" and scales" if sa is not None or sb is not None else ""),
    )


def _check_shapes(x, y):
    if x.ndim != 2 or y.ndim != 2:
        raise UsageError(f"inputs must be 2-D, got A {x.shape} and B {y.shape}")
    if x.shape[1] != y.shape[0]:
        raise UsageError(f"A {x.shape} and B {y.shape}: inner dimensions differ")


class References:
    """The three reference results of one set of quantised operands (lazy)."""

    def __init__(self, q: Quantized, c=None):
        self.q = q
        self.c = None if c is None else np.asarray(c, dtype=np.float32)
        self._exact = None
        self._numpy = None
        self._grid = {}

    @property
    def exact(self):
        if self._exact is None:
            self._exact = exact_of(self.q.a_op, self.q.b_op, self.c, self.q.boundaries)
        return self._exact

    def value(self, name: str) -> np.ndarray:
        """The reference's values (float64)."""
        if name == "exact":
            return self.exact.value
        if name == "exact-fp32":
            return self.on_grid("exact", "fp32")
        if name == "numpy-fp32":
            if self._numpy is None:
                a32 = self.q.a_op.values().astype(np.float32)
                b32 = self.q.b_op.values().astype(np.float32)
                with np.errstate(all="ignore"):
                    d = a32 @ b32
                    if self.c is not None:
                        d = d + self.c
                self._numpy = d.astype(np.float64)
            return self._numpy
        raise UsageError(f"unknown reference {name!r} (expected one of {', '.join(REFERENCES)})")

    def on_grid(self, name: str, f) -> np.ndarray:
        """The reference rounded (nearest-even, once for ``exact``) into format f."""
        key = (name, str(f))
        if key not in self._grid:
            if name == "exact":
                self._grid[key] = self.exact.rounded(f)
            else:
                self._grid[key] = round_array(self.value(name), f, "rne")
        return self._grid[key]


def run_emulator(config, q: Quantized, c=None) -> np.ndarray:
    """emu.gemm of the quantised operands (per-tensor scale applied afterwards)."""
    from emu import gemm

    c_in = None
    if c is not None:
        c = np.asarray(c, dtype=np.float32)
        c_in = c
        if q.post_exp:
            c_in = np.ldexp(c.astype(np.float64), -q.post_exp).astype(np.float32)
            if not np.array_equal(np.ldexp(c_in.astype(np.float64), q.post_exp), c, equal_nan=True):
                raise UsageError(
                    "C cannot be divided exactly by the per-tensor scale "
                    f"2^{q.post_exp} in fp32; use a config with block scales"
                )
    with np.errstate(over="ignore"):  # the kernels' float32 casts
        d = gemm(q.a, q.b, c=c_in, sa=q.sa, sb=q.sb, config=config)
    if q.post_exp or q.post_nan:
        with np.errstate(all="ignore"):
            d = np.ldexp(d.astype(np.float64), q.post_exp).astype(np.float32)
        if q.post_nan:
            d[:] = np.nan
    return d


def compare(
    configs, *, x=None, y=None, c=None, scale_mode="floor", codes=None, references=REFERENCES
) -> list:
    """Run every (name, MacConfig) of ``configs`` and measure it.

    Inputs: FP32 data ``x`` (M, K), ``y`` (K, N), quantised per config with
    ``scale_mode``; or ``codes = (a, b, sa, sb)`` used as given.  ``c``: float32 (M, N)
    or None.  Returns one dict per (config, reference): config, reference,
    result_format, quantization, seconds and the :func:`error_metrics` fields.
    """
    for r in references:
        if r not in REFERENCES:
            raise UsageError(f"unknown reference {r!r} (expected one of {', '.join(REFERENCES)})")
    for name, cfg in configs:
        check_scales(cfg, f"config {name}: ")
    rows, cache = [], {}
    for name, cfg in configs:
        if codes is not None:
            key = ("codes", cfg.a_format, cfg.b_format, cfg.scale_block, cfg.scale_b_tile)
            if key not in cache:
                cache[key] = References(from_codes(cfg, *codes), c)
        else:
            key = (cfg.a_format, cfg.b_format, cfg.scale_block, cfg.scale_b_tile)
            if key not in cache:
                cache[key] = References(quantize_for(cfg, x, y, scale_mode), c)
        refs = cache[key]
        t0 = time.perf_counter()
        d = run_emulator(cfg, refs.q, c)
        secs = time.perf_counter() - t0
        f = result_format(cfg)
        for r in references:
            m = error_metrics(d, refs.value(r), f, refs.on_grid(r, f.name))
            rows.append(
                {
                    "config": name,
                    "reference": r,
                    "result_format": f.name,
                    "quantization": refs.q.layout,
                    "seconds": round(secs, 4),
                    **m,
                }
            )
    return rows


def _fmt(v) -> str:
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return str(v)
        return f"{v:.3e}" if v else "0"
    return str(v)


def hist_text(h: dict) -> str:
    """Compact ULP histogram: ``0:3900 1:150 2:46`` (empty bins left out)."""
    return " ".join(f"{k}:{v}" for k, v in h.items() if v) or "-"


def format_table(rows) -> str:
    """The terminal table of :func:`compare` rows."""
    head = (
        "config",
        "fmt",
        "reference",
        "max_abs",
        "max_rel",
        "median_rel",
        "normwise",
        "bit_exact",
        "ulp histogram",
    )
    body = [
        (
            r["config"],
            r["result_format"],
            r["reference"],
            _fmt(r["max_abs"]),
            _fmt(r["max_rel"]),
            _fmt(r["median_rel"]),
            _fmt(r["normwise"]),
            f"{r['bit_exact']}/{r['n']}",
            hist_text(r["ulp_hist"]),
        )
        for r in rows
    ]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in [head, *body]
    ]
    return "\n".join(lines)


def json_safe(obj):
    """Replace inf/nan floats by strings so the result is strict JSON."""
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return str(obj)
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
