"""Block quantisation FP32 -> element codes + UE8M0 scales (spec section 2.5).

Every element format (FORMATS rows with the element role: e4m3, e5m2, the OCP MX
FP4/FP6 e2m1, e2m3, e3m2, the AMD fnuz formats, e4m3ieee) is quantised by the same
rules, each with its own emax and max finite (e2m1: emax 2, max 6; e2m3: 2, 7.5;
e3m2: 4, 28; e4m3fnuz: 7, 240; e5m2fnuz: 15, 57344).  Codes are one a byte (FP4/FP6
in the low bits).

Blocks are ``(rows, cols)`` tiles of the input: ``(1, 32)``, ``(1, 128)`` (per-row
K blocks of A), ``(128, 128)`` (DeepSeek weight tiles) and ``(128, 1)`` (per-column
K blocks of B) are the usual ones; the last block of a row/column may be partial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emu.errors import UsageError
from emu.numerics.formats import canonical_nan, decode, encode, formats_with_role, get_format


def _frexp_exponent(v):
    """floor(log2 v) for positive finite float64 v."""
    _, e = np.frexp(v)
    return e - 1


# One function per scale rule: (finite float32 amax >= 0, element format) -> S.
def _floor(a, f):
    pos = a > 0
    return np.where(pos, _frexp_exponent(np.where(pos, a, 1).astype(np.float64)) - f.emax, -127)


def _ceil(a, f):
    sf = (np.maximum(a, np.float32(1e-4)) / np.float32(f.max_finite)).astype(np.float32)
    return _ceil_log2(sf)


def _rceil(a, f):
    v = (a * (np.float32(1) / np.float32(f.max_finite))).astype(np.float32)
    return np.where(v > 0, _ceil_log2(np.where(v > 0, v, np.float32(1))), -127)


def _even(a, f):
    bits = a.view(np.uint32).astype(np.uint64) + (1 << (22 - f.mbits))
    E = ((bits >> 23) & 0xFF).astype(np.int64)
    return np.where(E > 0, E - 127 - f.emax, -127)


@dataclass(frozen=True)
class ScaleMode:
    name: str
    rule: str  # S (unbiased), as docs/numerics.md writes it
    who: str  # who uses it
    exponent: object  # the function above


SCALE_RULES = {
    m.name: m
    for m in (
        ScaleMode(
            "floor", "floor(log2 amax) - emax_elem", "OCP MX v1.0, microxcaling, torchao", _floor
        ),
        ScaleMode(
            "ceil",
            "ceil(log2 fp32(max(amax, 1e-4) / max_elem))",
            "DeepSeek V3.1 / DeepGEMM ceil_to_ue8m0",
            _ceil,
        ),
        ScaleMode(
            "rceil",
            "ceil(log2 fp32(amax * fp32(1 / max_elem)))",
            "NVIDIA cuBLAS / PTX cvt.rp.satfinite.ue8m0x2.f32, torchao RCEIL",
            _rceil,
        ),
        ScaleMode(
            "even",
            "floor(log2(amax + half an element ulp, fraction cleared)) - emax_elem",
            "torchao EVEN",
            _even,
        ),
    )
}
SCALE_MODES = tuple(SCALE_RULES)


def scale_exponent(amax, fmt: str, scale_mode: str) -> np.ndarray:
    """Unbiased UE8M0 exponent S for each block's amax (float32 array), per spec 2.5.

    ``floor``: floor(log2 amax) - emax_elem (OCP MX).  ``ceil``: sf = fp32(max(amax,
    1e-4) / max_elem) rne, S = ceil(log2 sf) (DeepGEMM ``ceil_to_ue8m0``).  ``rceil``:
    v = fp32(amax * fp32(1/max_elem)), S = ceil(log2 v) (PTX cvt.rp.ue8m0).  ``even``:
    amax's fp32 bits + (1 << (22 - M)), fraction cleared, S = exponent - emax_elem.
    amax = 0 gives -127 (ceil: its 1e-4 floor decides); S is clamped to [-127, 127].
    NaN/Inf amax gives S = 128 (the caller writes code 0xFF).
    """
    if scale_mode not in SCALE_RULES:
        raise UsageError(
            f"unknown scale mode {scale_mode!r} (expected one of {', '.join(SCALE_MODES)})"
        )
    f = get_format(fmt)
    amax = np.asarray(amax, dtype=np.float32)
    bad = ~np.isfinite(amax)
    a = np.where(bad, np.float32(1), amax).astype(np.float32)
    S = SCALE_RULES[scale_mode].exponent(a, f)
    S = np.clip(np.asarray(S, dtype=np.int64), -127, 127)
    return np.where(bad, 128, S)


def _ceil_log2(v):
    """ceil(log2 v) exactly, for positive float32 values (subnormals included)."""
    m, e = np.frexp(np.asarray(v, dtype=np.float64))  # v = m * 2**e, m in [0.5, 1)
    return np.where(m == 0.5, e - 1, e)


def _check_block(block):
    try:
        br, bc = (int(b) for b in block)
    except (TypeError, ValueError):
        raise UsageError(f"block must be (rows, cols), got {block!r}") from None
    if br < 1 or bc < 1:
        raise UsageError(f"block sizes must be >= 1, got {block!r}")
    return br, bc


def _fit_block(block, shape):
    """A block larger than the array is one block covering it (same scales)."""
    return min(block[0], max(shape[0], 1)), min(block[1], max(shape[1], 1))


def block_amax(x, block):
    """max |x| of every (rows, cols) block of a 2-D array; NaN if the block has one."""
    br, bc = block
    R, C = x.shape
    nr, nc = -(-R // br), -(-C // bc)
    pad = np.zeros((nr * br, nc * bc), dtype=np.float32)
    pad[:R, :C] = np.abs(x)
    t = pad.reshape(nr, br, nc, bc)
    amax = t.max(axis=(1, 3))  # NaN propagates through max
    return amax.astype(np.float32)


def expand(s, block, shape):
    """Repeat per-block values to the full (rows, cols) shape."""
    br, bc = block
    return np.repeat(np.repeat(s, br, axis=0), bc, axis=1)[: shape[0], : shape[1]]


def _element_format(fmt, who):
    names = formats_with_role("element")
    key = fmt.strip().lower() if isinstance(fmt, str) else fmt
    if key not in names:
        raise UsageError(f"{who}: element format must be one of {', '.join(names)}, got {fmt!r}")
    return key


def nan_block_code(fmt) -> int:
    """The element code of a NaN block (amax NaN or Inf): the positive canonical NaN
    (e4m3 0x7F, e5m2 0x7E, fnuz 0x80); +0 in a format without NaN (FP4/FP6: the
    block's NaN is its scale, 0xFF; docs/numerics-decisions.md, decision 22)."""
    f = get_format(fmt)
    return canonical_nan(f) if f.has_nan else 0


def quantize(x, fmt: str = "e4m3", block=(1, 128), scale_mode: str = "floor"):
    """Quantise a 2-D float32 array to (element codes uint8, UE8M0 scale codes uint8).

    Per block: amax, scale exponent S (:func:`scale_exponent`, from the element
    format's emax and max finite), elements x * 2**-S (exact) encoded rne + sat (ties
    to even; signed zeros kept where the format has -0; FP4/FP6 codes in the low bits
    of each byte).  A block whose amax is NaN or Inf gets scale 0xFF and all its
    elements :func:`nan_block_code` (e4m3 0x7F, e5m2 0x7E, fnuz 0x80, FP4/FP6 +0).
    Scales have shape (ceil(R/rows), ceil(C/cols)); the last block of a row/column may
    be partial.  Non-float32 input is first rounded to float32 (rne; beyond the fp32
    range it becomes +-Inf, so its block is NaN).
    """
    fmt = _element_format(fmt, "quantize")
    if scale_mode not in SCALE_MODES:
        raise UsageError(
            f"unknown scale mode {scale_mode!r} (expected one of {', '.join(SCALE_MODES)})"
        )
    x = np.asarray(x)
    if x.ndim != 2:
        raise UsageError(f"quantize: expected a 2-D array, got shape {x.shape}")
    block = _fit_block(_check_block(block), x.shape)
    if x.dtype != np.float32:
        if not np.issubdtype(x.dtype, np.floating):
            raise UsageError(f"quantize: expected float32 data, got dtype {x.dtype}")
        with np.errstate(over="ignore"):  # beyond fp32 range -> +-Inf (NaN block)
            x = x.astype(np.float32)
    S = scale_exponent(block_amax(x, block), fmt, scale_mode)
    full = expand(S, block, x.shape)
    bad = full == 128
    y = np.ldexp(x.astype(np.float64), -np.where(bad, 0, full))
    codes = encode(fmt, y, overflow="sat")
    codes = np.where(bad, nan_block_code(fmt), codes).astype(np.uint8)
    scales = np.where(S == 128, 0xFF, S + 127).astype(np.uint8)
    return codes, scales


def dequantize(codes, scales, fmt: str = "e4m3", block=(1, 128)) -> np.ndarray:
    """float64 values codes * 2**(scale - 127) (NaN where the code or scale is NaN)."""
    fmt = _element_format(fmt, "dequantize")
    codes = np.asarray(codes)
    scales = np.asarray(scales)
    if codes.ndim != 2:
        raise UsageError(f"dequantize: expected 2-D codes, got shape {codes.shape}")
    block = _fit_block(_check_block(block), codes.shape)
    want = tuple(-(-n // b) for n, b in zip(codes.shape, block))
    if scales.shape != want:
        raise UsageError(
            f"dequantize: scales of {codes.shape} codes in {block[0]}x{block[1]} "
            f"blocks must have shape {want}, got {scales.shape}"
        )
    v = decode(fmt, codes)
    s = expand(decode("ue8m0", scales), block, codes.shape)
    return v * s
