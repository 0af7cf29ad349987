"""Error metrics for emulated GEMMs: ULP distances on a format's grid, the exact
result of quantised inputs, and the summary statistics ``compare`` and ``sweep`` report.

ULP distance (used by ``compare``, ``sweep`` and ``validate``)
-------------------------------------------------------------
Values of an IEEE-style format F (M fraction bits, smallest normal exponent emin) are
numbered along the real line by :func:`ulp_ordinal`: +0 and -0 are 0, the smallest
subnormal is 1, each next representable value adds 1, ``-x`` gets minus the number
of ``x``, and +Inf is one past the largest finite value.  The formula is linear in
each binade, so a value that is *not* on F's grid gets a fractional ordinal.  The
ULP distance of x and y is ``|ord(x) - ord(y)|``: 0 for equal values (+0 and -0
included), an integer for values on the grid, fractional for an off-grid value.
NaN against NaN is 0 and NaN against anything else is +inf (reported as "nan").
"""

from __future__ import annotations

import math

import numpy as np

from emu.numerics.formats import decode_table, fmt, round_array

# Upper bounds of the ULP histogram bins (inclusive); "nan" counts NaN mismatches.
ULP_BINS = (
    (0, "0"),
    (1, "1"),
    (2, "2"),
    (4, "3-4"),
    (8, "5-8"),
    (16, "9-16"),
    (64, "17-64"),
    (256, "65-256"),
    (4096, "257-4096"),
    (65536, "4097-65536"),
    (math.inf, ">65536"),
)


def result_format(config):
    """The format of emu.gemm's values under config: promote_format when results are
    promoted (promote_every > 0), else acc_format."""
    return fmt(config.promote_format if config.promote_every else config.acc_format)


def ulp_ordinal(x, f) -> np.ndarray:
    """Signed position of x on format f's grid (float64; NaN for NaN); see module doc."""
    f = fmt(f)
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    fin = np.isfinite(a)
    af = np.where(fin, a, 1.0)
    _, ex = np.frexp(np.where(af > 0, af, 1.0))
    e = ex - 1
    normal = af >= 2.0**f.emin
    scale = 2.0**f.mbits
    o = np.where(
        normal,
        (e - f.emin + 1) * scale + (np.ldexp(af, f.mbits - e) - scale),
        np.ldexp(af, f.mbits - f.emin),
    )
    o = np.where(fin, o, (f.emax - f.emin + 2) * scale)
    o = np.where(np.isnan(x), np.nan, o)
    return np.where(np.signbit(x), -o, o)


def ulp_distance(x, y, f) -> np.ndarray:
    """|ord_f(x) - ord_f(y)| elementwise (float64): 0 for NaN vs NaN, +inf for NaN vs
    a number; +0 and -0 are 0 apart."""
    ox, oy = ulp_ordinal(x, f), ulp_ordinal(y, f)
    d = np.abs(ox - oy)
    nx, ny = np.isnan(ox), np.isnan(oy)
    return np.where(nx & ny, 0.0, np.where(nx | ny, np.inf, d))


def ulp_histogram(dist) -> dict:
    """Counts of ULP distances per bin of :data:`ULP_BINS` plus ``nan`` (distance
    +inf: NaN against a number).  Fractional distances fall in the bin of their
    ceiling."""
    dist = np.asarray(dist, dtype=np.float64).ravel()
    nan = np.isinf(dist)
    d = np.ceil(dist[~nan])
    out, lo = {}, -1.0
    for hi, name in ULP_BINS:
        out[name] = int(np.count_nonzero((d > lo) & (d <= hi)))
        lo = hi
    out["nan"] = int(np.count_nonzero(nan))
    return out


# ------------------------------------------------------------------ the exact result
def _band_split(f) -> list:
    """Magnitude bands [lo, hi) of format f's values such that a float64 matmul of
    any two bands over <= 2**16 terms is exact (see :func:`_check_exact`)."""
    f = fmt(f)
    if f.ebits <= 4:
        return [(0.0, math.inf)]
    return [(0.0, 1.0), (1.0, math.inf)]


def _band_span(f, band):
    """(quantum exponent, exclusive top exponent) of the values of f inside band."""
    f = fmt(f)
    lo, hi = band
    q = f.emin - f.mbits if lo == 0 else min(max(int(math.log2(lo)), f.emin), f.emax) - f.mbits
    top = f.emax + 1 if hi == math.inf else int(math.log2(hi))
    return q, top


def _check_exact(fa, ba, fb, bb, chunk):
    qa, ta = _band_span(fa, ba)
    qb, tb = _band_span(fb, bb)
    span = (ta + tb) - (qa + qb) + max(chunk - 1, 1).bit_length()
    if span > 53:  # pragma: no cover - by construction
        raise AssertionError(f"exact matmul span {span} > 53 bits")


class ExactResult:
    """The exact value of C + A.B for FP8 operands with power-of-two scales.

    ``value`` holds the exact result correctly rounded (nearest-even) to float64,
    with NaN / +-Inf per spec 2.2 and +0 for an exact zero.  :meth:`rounded` gives
    the exact result rounded *once* (nearest-even, IEEE overflow) into any format
    fitting fp32, which is what ``emu.preset('exact')`` computes for fp32.

    How: K is cut into chunks that never straddle a scale block (<= 2**16 long), each
    operand into magnitude bands; every (chunk, band pair) float64 matmul is then
    exact (products are multiples of 2**q below 2**t with t - q + log2(chunk) <= 53),
    and ``math.fsum`` adds those exact partial sums with one correct rounding.  A value
    exactly halfway between two neighbours of a format fitting fp32 has at most 25
    significant bits; for those float64 sums the exact residual (fsum again) is kept,
    and its sign breaks the tie, so the single rounding is exact.
    """

    def __init__(self, value, residual):
        self.value = value
        self.residual = residual

    def rounded(self, f) -> np.ndarray:
        """The exact result rounded once, nearest-even, into format f (float64)."""
        f = fmt(f)
        v = self.value
        r = round_array(v, f, "rne")
        fin = np.isfinite(v) & (v != 0)
        a = np.where(fin, np.abs(v), 1.0)
        _, ex = np.frexp(a)
        q = np.ldexp(1.0, np.maximum(ex - 1, f.emin) - f.mbits)
        t = a / q
        mid = fin & (t - np.floor(t) == 0.5)
        if np.any(mid):
            nudged = v[mid] + np.sign(self.residual[mid]) * q[mid] / 4
            r[mid] = round_array(nudged, f, "rne")
        return r


class Operand:
    """Exact values of an FP8 operand: code values (float64) and the power-of-two
    scale exponent of each element (int, NaN scale marked by ``nan_scale``)."""

    def __init__(self, codes, f, scale_exp=None, nan_scale=None):
        self.f = fmt(f)
        self.codes = np.asarray(codes, dtype=np.uint8)
        self.vals = decode_table(self.f.name)[self.codes]
        self.scale_exp = (
            np.zeros(self.codes.shape, np.int64)
            if scale_exp is None
            else np.asarray(scale_exp, dtype=np.int64)
        )
        self.nan_scale = (
            np.zeros(self.codes.shape, bool)
            if nan_scale is None
            else np.asarray(nan_scale, dtype=bool)
        )

    def values(self) -> np.ndarray:
        """Exact float64 values (NaN for NaN codes and NaN scales)."""
        v = np.ldexp(self.vals, self.scale_exp)
        return np.where(self.nan_scale, np.nan, v)


def exact_of(a: Operand, b: Operand, c=None, boundaries=()) -> ExactResult:
    """Exact C + A.B (see :class:`ExactResult`).

    ``boundaries``: k positions where the scale exponents may change (scale-block
    starts); chunks never straddle one, so the scale is constant per row / column
    inside a chunk and each chunk's float64 matmul stays exact.
    """
    M, K = a.codes.shape
    N = b.codes.shape[1]
    cuts = sorted({0, K, *[int(x) for x in boundaries if 0 < x < K]})
    chunks = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        for s in range(lo, hi, 1 << 16):
            chunks.append((s, min(hi, s + (1 << 16))))
    c64 = np.zeros((M, N)) if c is None else np.asarray(c, dtype=np.float32).astype(np.float64)
    af, bf = np.isfinite(a.vals) & ~a.nan_scale, np.isfinite(b.vals) & ~b.nan_scale
    bands = []
    for op, fin in ((a, af), (b, bf)):
        mag = np.abs(op.vals)
        vals = np.where(fin, np.ldexp(np.where(fin, op.vals, 0.0), op.scale_exp), 0.0)
        bands.append(
            [np.where((mag >= lo) & (mag < hi) & fin, vals, 0.0) for lo, hi in _band_split(op.f)]
        )
    for ba in _band_split(a.f):
        for bb in _band_split(b.f):
            _check_exact(a.f, ba, b.f, bb, max(h - l for l, h in chunks) if chunks else 1)

    value = np.empty((M, N))
    residual = np.zeros((M, N))
    nterms = 1 + len(chunks) * len(bands[0]) * len(bands[1])
    row_tile = max(1, (1 << 20) // max(1, N * nterms))  # ~1M Python floats at a time
    for i0 in range(0, M, row_tile):
        i1 = min(M, i0 + row_tile)
        ts = [c64[i0:i1]]
        for lo, hi in chunks:
            for A in bands[0]:
                for B in bands[1]:
                    ts.append(A[i0:i1, lo:hi] @ B[lo:hi])
        flat = np.stack(ts, axis=-1).reshape(-1, len(ts)).tolist()
        v = np.array([math.fsum(r) for r in flat])
        value[i0:i1] = v.reshape(i1 - i0, N)
        for n in np.flatnonzero(_at_most_25_bits(v)):  # possible midpoints
            residual[i0 + n // N, n % N] = math.fsum(flat[n] + [-v[n]])

    _apply_specials(value, a, b, c64)
    return ExactResult(value, residual)


def _at_most_25_bits(v) -> np.ndarray:
    """Finite non-zero float64 values with at most 25 significant bits."""
    fin = np.isfinite(v) & (v != 0)
    m, _ = np.frexp(np.where(fin, v, 1.0))
    sig = np.abs(np.ldexp(m, 53)).astype(np.int64)
    return fin & ((sig & ((1 << 28) - 1)) == 0)


def _apply_specials(value, a: Operand, b: Operand, c64) -> None:
    """Overwrite value with NaN / +-Inf where spec 2.2 says so (in place)."""
    an, bn = np.isnan(a.vals) | a.nan_scale, np.isnan(b.vals) | b.nan_scale
    ai, bi = np.isinf(a.vals) & ~an, np.isinf(b.vals) & ~bn
    cn, ci = np.isnan(c64), np.isinf(c64)
    if not (an.any() or bn.any() or ai.any() or bi.any() or cn.any() or ci.any()):
        return
    f64 = np.float64
    nan = an.any(axis=1)[:, None] | bn.any(axis=0)[None, :] | cn
    az, bz = (a.vals == 0), (b.vals == 0)
    inf0 = (ai.astype(f64) @ bz.astype(f64) + az.astype(f64) @ bi.astype(f64)) > 0
    aneg, bneg = np.signbit(a.vals), np.signbit(b.vals)
    anz, bnz = ~az & ~an, ~bz & ~bn

    # products that are Inf: one factor Inf, neither zero nor NaN; sign = xor of signs
    def count(mask_a, mask_b):
        return mask_a.astype(f64) @ mask_b.astype(f64)

    pos = (
        count(anz & ~aneg, bnz & ~bneg)
        + count(anz & aneg, bnz & bneg)
        - count(anz & ~aneg & ~ai, bnz & ~bneg & ~bi)
        - count(anz & aneg & ~ai, bnz & bneg & ~bi)
    ) > 0
    neg = (
        count(anz & ~aneg, bnz & bneg)
        + count(anz & aneg, bnz & ~bneg)
        - count(anz & ~aneg & ~ai, bnz & bneg & ~bi)
        - count(anz & aneg & ~ai, bnz & ~bneg & ~bi)
    ) > 0
    pos |= ci & (c64 > 0)
    neg |= ci & (c64 < 0)
    nan |= inf0 | (pos & neg)
    value[pos & ~nan] = np.inf
    value[neg & ~nan] = -np.inf
    value[nan] = np.nan


# ------------------------------------------------------------------ summary statistics
def error_metrics(d, ref, f, ref_on_grid=None) -> dict:
    """Metrics of a result d against a reference (both float arrays, same shape).

    ``ref`` is the reference value used for the numeric errors; ``ref_on_grid`` the
    reference rounded into the result format f (nearest-even) used for ULP distances
    and the bit-exact count (defaults to ``round_array(ref, f)``).  Numeric errors use
    the elements where both are finite; ``rel`` is |d - r| / |r| (0 when both are 0,
    +inf when only r is).  ``bit_exact`` counts ULP distance 0: identical values,
    with +0 = -0 and NaN = NaN (the references do not model zero signs or payloads).
    """
    d = np.asarray(d, dtype=np.float64).ravel()
    r = np.asarray(ref, dtype=np.float64).ravel()
    g = (
        round_array(r, f, "rne")
        if ref_on_grid is None
        else np.asarray(ref_on_grid, dtype=np.float64).ravel()
    )
    fin = np.isfinite(d) & np.isfinite(r)
    err = np.abs(d[fin] - r[fin])
    ar = np.abs(r[fin])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(ar > 0, err / np.where(ar > 0, ar, 1.0), np.where(err > 0, np.inf, 0.0))
    nr = math.sqrt(float(np.sum(ar * ar))) if ar.size else 0.0
    ne = math.sqrt(float(np.sum(err * err))) if err.size else 0.0
    dist = ulp_distance(d, g, f)
    special = ~fin & ~((np.isnan(d) & np.isnan(r)) | (d == r))
    return {
        "n": int(d.size),
        "max_abs": float(err.max()) if err.size else 0.0,
        "max_rel": float(rel.max()) if rel.size else 0.0,
        "median_rel": float(np.median(rel)) if rel.size else 0.0,
        "normwise": (ne / nr) if nr > 0 else (0.0 if ne == 0 else math.inf),
        "bit_exact": int(np.count_nonzero(dist == 0)),
        "special_mismatch": int(np.count_nonzero(special)),
        "max_ulp": float(dist.max()) if dist.size else 0.0,
        "ulp_hist": ulp_histogram(dist),
    }
