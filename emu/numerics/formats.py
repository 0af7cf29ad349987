"""Number formats as data, with exact scalar and vectorised encode/decode/round.

Every format is one row of :data:`FORMATS`; everything else (limits, code tables,
rounding, the kernels' decode tables, the CLI's and the ISA's format choices, the
formats table of docs/numerics.md) is derived from the row.  A format of the
``eXmY`` family that is not a row (e.g. ``e8m13``) is made on demand.  Two paths
exist and are tested against each other and against ``ml_dtypes``:

* scalar, exact: :func:`round_exact` works on Python integers (value = n * 2**e);
* array: :func:`round_array` works on float64 numpy arrays.

Rounding modes: ``rne`` (nearest, ties to even), ``rz`` (toward zero),
``ru`` (toward +inf), ``rd`` (toward -inf).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from emu.errors import UsageError

ROUND_MODES = ("rz", "rne", "ru", "rd", "rna")


@dataclass(frozen=True)
class Format:
    """One number format: a row of :data:`FORMATS` (or an ``eXmY`` made on demand).

    kind (which codes are special):
      ``ieee``  Inf at the all-ones exponent with a zero fraction, NaN with any other;
      ``fn``    no Inf; NaN only at the all-ones exponent and fraction (OCP E4M3);
      ``fin``   no Inf, no NaN: every code is a number (OCP MX FP4 / FP6);
      ``fnuz``  no Inf, no -0: NaN is the code of -0, 0x80 (AMD CDNA3 fp8 / bf8);
      ``e8m0``  unsigned exponent only, 2^(code - bias), NaN 0xFF (OCP MX scale).
    ``signed``: a sign bit above the exponent; ``pad``: ignored bits above it (UE4M3 is
    an E4M3 code whose sign bit is ignored).  ``exp_bias`` overrides 2^(ebits-1) - 1.
    """

    name: str
    ebits: int
    mbits: int
    kind: str = "ieee"
    roles: tuple = ()  # element (A/B operands), scale, acc (accumulator / result)
    ml_name: str | None = None  # the numpy / ml_dtypes dtype name, if there is one
    summary: str = ""
    aliases: tuple = ()
    exp_bias: int | None = None
    signed: bool = True
    pad: int = 0

    @property
    def bias(self) -> int:
        return (1 << (self.ebits - 1)) - 1 if self.exp_bias is None else self.exp_bias

    @property
    def bits(self) -> int:
        """Width of a code (an array holds one code per byte, in the low bits)."""
        return self.pad + int(self.signed) + self.ebits + self.mbits

    @property
    def sign_bit(self) -> int:
        """The sign bit's value in a code (0 for unsigned formats)."""
        return 1 << (self.ebits + self.mbits) if self.signed else 0

    @property
    def has_inf(self) -> bool:
        return self.kind == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.kind != "fin"

    @property
    def has_negzero(self) -> bool:
        return self.signed and self.kind != "fnuz"

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal (for e8m0: of the smallest value)."""
        return -self.bias if self.kind == "e8m0" else 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite value."""
        top = (1 << self.ebits) - 1
        return top - self.bias - (1 if self.kind in ("ieee", "e8m0") else 0)

    @property
    def max_sig(self) -> int:
        """Largest finite integer significand (with the hidden bit)."""
        full = (2 << self.mbits) - 1
        return full - 1 if self.kind == "fn" else full

    @property
    def max_finite(self) -> float:
        return float(self.max_sig) * 2.0 ** (self.emax - self.mbits)

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.emin - self.mbits)

    @property
    def fits_fp32(self) -> bool:
        """True when every value of the format is exactly an fp32 value."""
        return self.kind == "ieee" and self.ebits <= 8 and self.mbits <= 23

    @property
    def ml_dtype(self):
        """The numpy / ml_dtypes dtype (ml_dtypes is imported only here: it takes
        about a second to import, and ``fp8emu --help`` must not pay that)."""
        if self.ml_name is None:
            return None
        if self.ml_name in ("float32", "float16"):
            return np.dtype(self.ml_name)
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, self.ml_name))


# fmt: off
FORMATS = [
    # name, exponent bits, fraction bits, kind, roles, numpy/ml_dtypes dtype, summary
    Format("e4m3", 4, 3, "fn", ("element",), "float8_e4m3fn",
           "OCP OFP8 E4M3 (FN): no Inf, NaN = S.1111.111, max 448"),
    Format("e5m2", 5, 2, "ieee", ("element",), "float8_e5m2",
           "OCP OFP8 E5M2: IEEE-style, Inf = S.11111.00, max 57344"),
    Format("ue8m0", 8, 0, "e8m0", ("scale",), "float8_e8m0fnu",
           "OCP MX E8M0 scale: unsigned power of two 2^-127..2^127, NaN = 0xFF",
           aliases=("e8m0",), signed=False),
    Format("fp32", 8, 23, "ieee", ("acc",), "float32", "IEEE 754 binary32", aliases=("e8m23",)),
    Format("fp16", 5, 10, "ieee", ("acc",), "float16", "IEEE 754 binary16", aliases=("e5m10",)),
    Format("bf16", 8, 7, "ieee", ("acc",), "bfloat16", "bfloat16 (binary32 with 7 fraction bits)",
           aliases=("e8m7",)),
    # Operand and scale formats of contract section 5.1 (OCP MX FP4/FP6, AMD CDNA3
    # fp8/bf8, the NVFP4 UE4M3 scale): element / scale roles like the rows above.
    Format("e2m1", 2, 1, "fin", ("element",), "float4_e2m1fn",
           "OCP MX FP4: every code a number, max 6"),
    Format("e2m3", 2, 3, "fin", ("element",), "float6_e2m3fn",
           "OCP MX FP6: every code a number, max 7.5"),
    Format("e3m2", 3, 2, "fin", ("element",), "float6_e3m2fn",
           "OCP MX FP6: every code a number, max 28"),
    Format("e4m3fnuz", 4, 3, "fnuz", ("element",), "float8_e4m3fnuz",
           "AMD CDNA3 fp8: bias 8, NaN = 0x80 only, no -0, no Inf, max 240", exp_bias=8),
    Format("e5m2fnuz", 5, 2, "fnuz", ("element",), "float8_e5m2fnuz",
           "AMD CDNA3 bf8: bias 16, NaN = 0x80 only, no -0, no Inf, max 57344", exp_bias=16),
    Format("ue4m3", 4, 3, "fn", ("scale",), None,
           "NVFP4 scale: an E4M3 code with its sign bit ignored, NaN 0x7F, max 448",
           signed=False, pad=1),
    Format("e4m3ieee", 4, 3, "ieee", ("element",), None,
           "IEEE-style E4M3 (FPnew FP8ALT): Inf = S.1111.000, NaN = other S.1111.xxx, max 240"),
]
# fmt: on


def register_format(f: Format) -> Format:
    """Add a row to :data:`FORMATS` (everything derived reads the table afresh)."""
    if f.name in _by_name() or any(a in _by_name() for a in f.aliases):
        raise UsageError(f"format {f.name!r} exists already")
    FORMATS.append(f)
    _by_name.cache_clear()
    _get_format.cache_clear()
    return f


@cache
def _by_name() -> dict:
    """Every row and alias -> row."""
    out = {}
    for f in FORMATS:
        for key in (f.name, *f.aliases):
            out[key] = f
    return out


def formats_with_role(role: str) -> tuple:
    """Names of the rows with a role, in table order (``element``, ``scale``, ``acc``)."""
    return tuple(f.name for f in FORMATS if role in f.roles)


_GENERIC = re.compile(r"^e(\d+)m(\d+)$")


def get_format(name: str) -> Format:
    """Look a format up by name (``e4m3``, ``fp32``, ``e8m13``, ...; case-insensitive)."""
    if isinstance(name, Format):
        return name
    if not isinstance(name, str):
        raise UsageError(f"format name must be a string, got {name!r}")
    return _get_format(name.strip().lower())


@cache
def _get_format(key: str) -> Format:
    name = key
    if key in _by_name():
        return _by_name()[key]
    m = _GENERIC.match(key)
    if m:
        eb, mb = int(m.group(1)), int(m.group(2))
        if 2 <= eb <= 11 and 0 <= mb <= 52:
            return Format(key, eb, mb, "ieee")
    raise UsageError(
        f"unknown format {name!r} (expected one of {', '.join(f.name for f in FORMATS)} "
        "or eXmY, e.g. e8m13)"
    )


def fmt(f) -> Format:
    return f if isinstance(f, Format) else get_format(f)


OVERFLOW_POLICIES = ("ieee", "sat", "nonsat")


def _check_mode(mode):
    if mode not in ROUND_MODES:
        raise UsageError(
            f"unknown rounding mode {mode!r} (expected one of {', '.join(ROUND_MODES)})"
        )


def _check_overflow(overflow):
    if overflow not in OVERFLOW_POLICIES:
        raise UsageError(
            f"unknown overflow policy {overflow!r} (expected one of {', '.join(OVERFLOW_POLICIES)})"
        )


# ---------------------------------------------------------------- scalar, exact
def round_exact(
    n: int, e: int, f, mode: str = "rne", *, subnormals: bool = True, overflow: str = "ieee"
):
    """Round the exact value n * 2**e (n a Python int) into format f.

    Returns ``(sign, m, x)`` with value (-1)**sign * m * 2**x (m a non-negative int),
    or ``(sign, None, 'inf')`` / ``(0, None, 'nan')``.

    Tie rule: ``rne`` ties to even; ``rz``/``ru``/``rd`` are directed.
    Signed zero: a zero n gives +0; a non-zero n that rounds to zero keeps its sign.
    Overflow (|result| > max finite): ``ieee`` gives Inf for rne and for ru/rd on the
    side of their direction, max finite otherwise (rz always max finite); ``sat``
    clamps to max finite; ``nonsat`` gives Inf where the format has Inf, else NaN
    where it has NaN (e4m3, fnuz), else max finite (FP4/FP6 have neither).
    ``subnormals=False`` flushes results whose rounded magnitude is below 2**emin to
    a zero of the same sign (tininess after rounding).
    Matches ml_dtypes ``astype`` (rne, nonsat) and IEEE 754 directed rounding.
    """
    f = fmt(f)
    _check_mode(mode)
    _check_overflow(overflow)
    sign = 1 if n < 0 else 0
    a = -n if sign else n
    if a == 0:
        return (0, 0, 0)
    top = a.bit_length() - 1 + e  # floor(log2 |value|)
    lsb = max(top, f.emin) - f.mbits  # exponent of one unit in the last place
    drop = lsb - e
    if drop <= 0:
        m = a << -drop
    else:
        m, rem = a >> drop, a & ((1 << drop) - 1)
        half = 1 << (drop - 1)
        if mode == "rne":
            m += rem > half or (rem == half and (m & 1))
        elif mode == "rna":
            m += rem >= half
        elif mode == "ru":
            m += rem != 0 and not sign
        elif mode == "rd":
            m += rem != 0 and sign
    lsb_max = f.emax - f.mbits
    if lsb > lsb_max or (lsb == lsb_max and m > f.max_sig):
        away = mode in ("rne", "rna") or (mode == "ru" and not sign) or (mode == "rd" and sign)
        big = (sign, f.max_sig, f.emax - f.mbits)
        if overflow == "sat" or (overflow == "ieee" and not away) or not f.has_nan:
            return big  # a format with neither Inf nor NaN saturates
        if overflow == "nonsat" and not f.has_inf:
            return (0, None, "nan")
        return (sign, None, "inf") if f.has_inf else big
    if m and not subnormals and m < (1 << f.mbits) and lsb == f.emin - f.mbits:
        m = 0
    if m == 0 and not f.has_negzero:  # fnuz: a zero is +0
        sign = 0
    return (sign, m, lsb)


def exact_to_float(r) -> float:
    """(sign, m, x) from :func:`round_exact` as a Python float."""
    sign, m, x = r
    if x == "nan":
        return float("nan")
    if x == "inf":
        return -float("inf") if sign else float("inf")
    v = float(m) * 2.0**x if m else 0.0
    return -v if sign else v


def classify(f, code: int):
    """One code as ``("nan",)``, ``("inf", s)`` or ``("num", s, m, e)`` with value
    (-1)**s * m * 2**(e - M): e = max(E, 1) - bias, m = f if E == 0 else 2**M + f
    (docs/numerics.md section 1).  Every decoder (scalar, tables, the reference, the
    kernels' tables) is made from this function."""
    f = fmt(f)
    code = int(code) & ((1 << (f.bits - f.pad)) - 1)  # ignored bits dropped
    if f.kind == "e8m0":
        return ("nan",) if code == 0xFF else ("num", 0, 1, code - f.bias)
    s = 1 if code & f.sign_bit else 0
    E = (code >> f.mbits) & ((1 << f.ebits) - 1)
    frac = code & ((1 << f.mbits) - 1)
    top = (1 << f.ebits) - 1
    if f.kind == "ieee" and E == top:
        return ("nan",) if frac else ("inf", s)
    if f.kind == "fn" and E == top and frac == (1 << f.mbits) - 1:
        return ("nan",)
    if f.kind == "fnuz" and s and E == 0 and frac == 0:
        return ("nan",)
    return ("num", s, frac if E == 0 else (1 << f.mbits) | frac, max(E, 1) - f.bias)


def decode_scalar(f, code: int) -> float:
    """Decode one code exactly per spec section 1 (Python float; NaN, +-Inf)."""
    f = fmt(f)
    code = int(code)
    if not 0 <= code < (1 << f.bits):
        raise UsageError(f"{code} is not a code of {f.name} (0..{(1 << f.bits) - 1})")
    c = classify(f, code)
    if c[0] == "nan":
        return float("nan")
    if c[0] == "inf":
        return -float("inf") if c[1] else float("inf")
    _, sg, m, e = c
    v = m * 2.0 ** (e - f.mbits)
    return -v if sg else v


def encode_scalar(f, x: float, mode: str = "rne", overflow: str = "sat") -> int:
    """Encode a Python float into a code of f (exact; see :func:`round_exact`).

    The scalar twin of :func:`encode` (tested equal on every mode and policy).
    Tie rule: ``rne`` ties to even; ``rz``/``ru``/``rd`` directed.  Signed zero: a
    value that rounds to zero keeps its sign (-0.0 -> the -0 code).  NaN gives the
    canonical NaN with the input's sign (e4m3 S.1111.111, e5m2 S.11111.10, fp32
    S.11111111.10...0), as ml_dtypes does.  Overflow: ``sat`` clamps to +-max
    finite (+-Inf too); ``nonsat`` gives +-Inf (e5m2) or the NaN of the value's
    sign (e4m3, which has no Inf); ``ieee`` as :func:`round_exact`.
    Matches ml_dtypes ``astype`` under rne + nonsat, bit for bit.
    """
    f = fmt(f)
    _check_mode(mode)
    _check_overflow(overflow)
    if f.kind == "e8m0":
        raise UsageError(
            "ue8m0 holds scale exponents: code = S + 127 (see emu.numerics.quant.scale_exponent)"
        )
    if not f.signed:
        raise UsageError(f"encode: {f.name} is an unsigned scale format")
    x = float(x)
    neg = math.copysign(1.0, x) < 0
    if x != x:
        return _nan_code(f, neg)
    if math.isinf(x):
        if f.has_inf and overflow != "sat":
            return (f.sign_bit if neg else 0) | (((1 << f.ebits) - 1) << f.mbits)
        if overflow == "nonsat" and f.has_nan:
            return _nan_code(f, neg)
        return encode_scalar(f, -f.max_finite if neg else f.max_finite)
    num, den = x.as_integer_ratio()
    e = -(den.bit_length() - 1)
    sign, m, lsb = round_exact(num, e, f, mode, overflow=overflow)
    s = f.sign_bit if (sign or neg) else 0
    if lsb == "nan":
        return _nan_code(f, bool(s))
    if lsb == "inf":
        return s | (((1 << f.ebits) - 1) << f.mbits)
    if m == 0:
        return s if f.has_negzero else 0
    if m < (1 << f.mbits):  # subnormal
        return s | m
    while m >= (2 << f.mbits):  # rounding carried into the next binade
        m >>= 1
        lsb += 1
    E = lsb + f.mbits + f.bias
    return s | (E << f.mbits) | (m - (1 << f.mbits))


def _nan_code(f, neg: bool) -> int:
    """The code a NaN encodes to: the canonical NaN with the NaN's sign (fnuz: its one
    NaN code); in a format without NaN (FP4/FP6) +0 (docs/numerics-decisions.md)."""
    if not f.has_nan:
        return 0
    return canonical_nan(f) | (f.sign_bit if neg and f.kind in ("ieee", "fn") else 0)


def canonical_nan(f) -> int:
    """The positive canonical NaN code of f: e4m3 0x7F, e5m2 0x7E, ue8m0 0xFF, fnuz
    0x80 (their only NaN), IEEE formats quiet NaN (exponent all ones, top fraction
    bit set).  UsageError for a format without NaN (FP4, FP6)."""
    f = fmt(f)
    if not f.has_nan:
        raise UsageError(f"{f.name} has no NaN code")
    if f.kind == "e8m0":
        return 0xFF
    if f.kind == "fnuz":
        return f.sign_bit
    if f.kind == "fn":
        return (1 << (f.ebits + f.mbits)) - 1
    return (((1 << f.ebits) - 1) << f.mbits) | (1 << (f.mbits - 1))


# ---------------------------------------------------------------- arrays
@cache
def decode_table(name: str) -> np.ndarray:
    """float64 value of every code of a format of at most 8 bits (index = code)."""
    f = get_format(name)
    return np.array([decode_scalar(f, c) for c in range(1 << f.bits)], dtype=np.float64)


def decode(f, codes) -> np.ndarray:
    """Decode an array of codes (one code per byte, in the low bits) to float64."""
    f = fmt(f)
    codes = np.asarray(codes)
    if f.bits > 8:
        raise UsageError(f"decode() takes formats of at most 8 bits, not {f.name}")
    top = (1 << f.bits) - 1
    if codes.dtype != np.uint8 or f.bits < 8:
        if codes.dtype.kind not in "iu":
            raise UsageError(f"decode(): expected integer codes, got dtype {codes.dtype}")
        if codes.size and (codes.min() < 0 or codes.max() > top):
            raise UsageError(f"decode(): codes of {f.name} must be in 0..{top}")
    return decode_table(f.name)[codes.astype(np.uint8)]


def round_array(
    x, f, mode: str = "rne", *, subnormals: bool = True, overflow: str = "ieee"
) -> np.ndarray:
    """Round float64 values into format f; returns float64 values of f.

    Same rules as :func:`round_exact` (ties-to-even for rne; a value rounding to zero
    keeps its sign; NaN stays NaN; +-Inf stays +-Inf except ``sat`` clamps it and
    e4m3 ``nonsat`` turns it to NaN).  Exact because every step is a power-of-two
    scaling or an integer rounding of a float64.
    """
    f = fmt(f)
    _check_mode(mode)
    _check_overflow(overflow)
    with np.errstate(invalid="ignore"):  # signalling NaN payloads warn in casts
        x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    neg = np.signbit(x)
    finite = np.isfinite(x) & (a > 0)
    _, ex = np.frexp(np.where(finite, a, 1.0))
    lsb = np.maximum(ex - 1, f.emin) - f.mbits
    r = np.ldexp(np.where(finite, a, 0.0), -lsb)
    if mode == "rne":
        m = np.rint(r)
    elif mode == "rna":  # ties away: the fraction r - trunc(r) is exact
        m = np.trunc(r)
        m = m + (r - m >= 0.5)
    elif mode == "rz":
        m = np.trunc(r)
    elif mode == "ru":
        m = np.where(neg, np.floor(r), np.ceil(r))
    else:  # rd
        m = np.where(neg, np.ceil(r), np.floor(r))
    v = np.ldexp(m, lsb)
    if not subnormals:
        v = np.where(v < 2.0**f.emin, 0.0, v)
    over = (v > f.max_finite) | np.isinf(a)
    away = {"rne": np.ones_like(neg), "rna": np.ones_like(neg), "rz": np.zeros_like(neg),
            "ru": ~neg, "rd": neg}[mode]  # fmt: skip
    if overflow == "sat" or not f.has_nan:  # FP4/FP6 (no Inf, no NaN) saturate
        big = np.full_like(v, f.max_finite)
    elif overflow == "nonsat":
        big = np.full_like(v, np.inf if f.has_inf else np.nan)
    else:
        big = np.where(away & f.has_inf, np.inf, f.max_finite)
    v = np.where(over, big, v)
    v = np.where(np.isinf(a) & (overflow == "ieee") & f.has_inf, np.inf, v)
    v = np.where(np.isnan(x), np.nan, v)
    if not f.has_negzero:  # fnuz: a zero is +0
        neg = neg & (v != 0)
    return np.where(neg, -v, v)


def encode(f, x, overflow: str = "sat", mode: str = "rne") -> np.ndarray:
    """Encode float values into codes of an element format (uint8), or into the
    fp32/fp16/bf16 container (as that numpy/ml_dtypes dtype).

    Rounding by ``mode`` (default ``rne``, ties to even), one rounding of the exact
    float64 input.  ``sat`` clamps to +-max finite, +-Inf included (NaN stays NaN,
    PTX ``.satfinite``); ``nonsat`` gives +-Inf (e5m2) or the NaN of the value's sign
    (e4m3) on overflow, |x| >= max finite + half an ulp under rne (e4m3: 464 -> 448,
    anything above 464 -> NaN).  Signed zero kept.  NaN inputs give the canonical NaN
    with the input's sign (e4m3 S.1111.111, e5m2 S.11111.10).  Under rne + nonsat this
    equals ml_dtypes ``astype`` from float32 bit for bit (NaNs included).
    """
    f = fmt(f)
    v = round_array(x, f, mode, overflow=overflow)
    if f.ml_dtype is not None and f.bits > 8:
        return v.astype(f.ml_dtype)
    if f.bits > 8 or not f.signed:
        raise UsageError(f"encode() cannot produce codes of {f.name}")
    return values_to_codes(f, v)


def values_to_codes(f, v) -> np.ndarray:
    """Codes of values that are already exactly representable in format f (at most 8
    bits, signed): zeros keep their sign where f has -0; NaN -> :func:`_nan_code`."""
    f = fmt(f)
    v = np.asarray(v, dtype=np.float64)
    a = np.abs(v)
    neg = np.signbit(v) & ((a != 0) | f.has_negzero)
    s = np.where(neg, f.sign_bit, 0)
    ok = np.isfinite(v) & (a > 0)
    _, ex = np.frexp(np.where(ok, a, 1.0))
    top = ex - 1
    sub = top < f.emin
    lsb = np.maximum(top, f.emin) - f.mbits
    m = np.ldexp(np.where(ok, a, 0.0), -lsb).astype(np.int64)
    E = np.where(sub, 0, top + f.bias)
    code = (E << f.mbits) | (m & ((1 << f.mbits) - 1))
    code = np.where(ok, code, 0) | s
    code = np.where(np.isinf(v), (((1 << f.ebits) - 1) << f.mbits) | s, code)
    nan_pos, nan_neg = _nan_code(f, False), _nan_code(f, True)
    code = np.where(np.isnan(v), np.where(np.signbit(v), nan_neg, nan_pos), code)
    return code.astype(np.uint8)


def first_bad_code(codes, f):
    """The index of the first uint8 code with a bit set above the width of format f
    (FP4/FP6 codes sit in the low bits of a byte), or None."""
    f = fmt(f)
    codes = np.asarray(codes)
    if f.bits >= 8 or codes.size == 0:
        return None
    bad = codes > (1 << f.bits) - 1
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def as_codes(x, f, what: str = "array") -> np.ndarray:
    """Accept uint8 codes or an ml_dtypes array of format f; return uint8 codes.  A
    code with a bit above an FP4/FP6 format's width is refused."""
    f = fmt(f)
    x = np.asarray(x)
    if x.dtype == np.uint8:
        at = first_bad_code(x, f)
        if at is not None:
            raise UsageError(
                f"{what}: {int(x[at]):#04x} at {list(at)} is not an {f.name} code "
                f"({f.name} codes are {f.bits} bits, one a byte in the low bits)"
            )
        return np.ascontiguousarray(x)
    if f.ml_name is not None and x.dtype.name == f.ml_name and x.dtype.itemsize == 1:
        return np.ascontiguousarray(x).view(np.uint8)
    raise UsageError(
        f"{what}: expected uint8 codes or {f.ml_name} for {f.name}, got dtype {x.dtype}"
    )


def to_ml(codes, f) -> np.ndarray:
    """View uint8 codes as the ml_dtypes array of format f."""
    return np.ascontiguousarray(codes, dtype=np.uint8).view(fmt(f).ml_dtype)
