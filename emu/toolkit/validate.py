"""``validate``: compare the emulator with dumps of another implementation (an RTL
simulation, silicon), one dot product per test case.

Three layouts of test cases, all written by ``fp8emu vectors`` (see
docs/designer.md):

* **text** (one test case per line; blank lines and ``#`` or ``//`` comments are
  skipped; ``_`` inside a word is ignored, as in Verilog):

  * ``a.txt``: the row of A, K words of 8 hex digits separated by white space, each
    the fp32 bit pattern of the FP8 value widened to fp32 (exact; -0 stays -0);
  * ``b.txt``: the column of B, same layout;
  * ``c.txt`` (optional, absent = +0) and ``d.txt``: one word per line (below);
  * ``sa.txt`` / ``sb.txt`` (optional, absent = the code of 1: UE8M0 0x7F, UE4M3
    0x38): the scale codes (of ``scale_format``) of the case's row / column, 2 hex
    digits each, one per K block of scale_block values (for ``scale_b_tile = 128``:
    the code of the tile holding the column).

* **hex** (``$readmemh``): ``a.hex`` / ``b.hex`` one line of 2K hex digits per case,
  code k in bits [8k+7:8k]; ``sa.hex`` / ``sb.hex`` likewise, one code per block;
  ``c.hex`` and ``d.hex`` one word per line.

* **testfloat**: one case per line, space-separated hex columns: the K codes of A
  (k = 0 first, 2 digits each), the K codes of B, the scale codes of A and of B
  (configs with block scales), C and D (words).

**Words** of C and of results (D) are 32 binary digits, 8 hex digits, 16 binary
digits or 4 hex digits, one form per file (told apart by their length).  A 32-bit
word is an fp32 bit pattern: the value of the format widened to fp32 (for fp32 and
e8m13 the only form).  A 16-bit word is the code of a 16-bit format (fp16, bf16, any
eXmY with X + Y = 15), accepted where that format is the result format
(:func:`word_bits`).  C is a value of the format of the accumulator it initialises,
which is the result format (promote_format with promotion, else acc_format).

Operand codes are one a byte in every layout (FP4/FP6 codes in the low bits: a hex
or npz code with a bit set above them is an error naming the case).

An ``.npz`` with arrays ``a``, ``b`` (cases x K: uint32 fp32 words, float32 values or
uint8 codes), ``d`` and optional ``c`` (cases: uint32 words, float32, or uint16
words of a 16-bit result format) and ``sa``, ``sb`` (cases x blocks, uint8) carries
the same data; with a 2-D ``d`` the archive is a whole GEMM (a: M x K, b: K x N, c,
d: M x N, scales as emu.gemm takes them).

**NaN policy.**  A case passes when the dumped word equals the emulator's bit for
bit, at the dump's width.  The emulator's NaN is the canonical all-ones NaN of the
word: 0x7FFFFFFF in a 32-bit word (whatever the result format, as NVIDIA tensor
cores write it), 0x7FFF in a 16-bit word (PTX's canonical f16 / bf16 NaN); any other
NaN (fp16 0x7E00, bf16 0x7FC0, fp32 0x7FC00000, a negative NaN) is a mismatch unless
``any_nan``, which accepts every NaN of the word's format.  The ULP distance of a
mismatch is measured on the result format's grid (see :mod:`emu.toolkit.metrics`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from emu.errors import UsageError
from emu.io import read_error
from emu.numerics.formats import canonical_nan, decode_table, fmt, round_array, values_to_codes
from emu.numerics.operands import n_blocks
from emu.toolkit.metrics import result_format, ulp_distance

_HEX8 = re.compile(r"^[0-9a-fA-F]{8}$")
_HEX8_LINE = re.compile(r"^[0-9a-fA-F]{8}( [0-9a-fA-F]{8})*$")
_HEX2 = re.compile(r"^[0-9a-fA-F]{2}$")
_HEX_ANY = re.compile(r"^[0-9a-fA-F]+$")
_BIN32 = re.compile(r"^[01]{32}$")
# The forms of a C or D word: (regex, base, bits, description)
_WORD_FORMS = (
    (_BIN32, 2, 32, "32 binary digits"),
    (_HEX8, 16, 32, "8 hex digits"),
    (re.compile(r"^[01]{16}$"), 2, 16, "16 binary digits"),
    (re.compile(r"^[0-9a-fA-F]{4}$"), 16, 16, "4 hex digits"),
)


# ------------------------------------------------------------------ words
def word_bits(f) -> int:
    """Bits of a C or result word of format f as the vectors write it: 16 for the
    16-bit formats (fp16, bf16, any eXmY with X + Y = 15), else 32 (an fp32
    container: fp32, e8m13, ...)."""
    return 16 if fmt(f).bits == 16 else 32


def nan_word(bits: int) -> int:
    """The canonical NaN of a word: 0x7FFF (16 bits) or 0x7FFFFFFF (32 bits)."""
    return 0x7FFF if bits == 16 else 0x7FFFFFFF


def to_words(values, f, bits: int | None = None) -> np.ndarray:
    """float32 values of format f -> uint32 words of ``bits`` (default
    :func:`word_bits`): 32 bits are the fp32 bit pattern as it is; 16 bits the code of
    f, a NaN keeping its sign and the top bits of its fraction (the emulator's
    0x7FFFFFFF -> 0x7FFF, 0x7FC00000 -> fp16 0x7E00; a payload whose top bits are all
    zero becomes the quiet NaN), the inverse of :func:`widen_words`.  ValueError for a
    finite value that is not a value of f."""
    f = fmt(f)
    bits = word_bits(f) if bits is None else bits
    v = np.asarray(values, dtype=np.float32)
    if bits == 32:
        return v.view(np.uint32).astype(np.uint32)
    if f.bits != 16:
        raise ValueError(f"{f.name} has no 16-bit words")
    with np.errstate(invalid="ignore"):  # a signalling NaN
        x = v.astype(np.float64)
    a = np.abs(x)
    fin = np.isfinite(x)
    if not np.all(np.where(fin, round_array(np.where(fin, x, 0.0), f, "rne") == x, True)):
        raise ValueError(f"values that are not values of {f.name}")
    s = np.where(np.signbit(x), 1 << 15, 0).astype(np.int64)
    nz = fin & (a > 0)
    _, ex = np.frexp(np.where(nz, a, 1.0))
    top = ex - 1
    lsb = np.maximum(top, f.emin) - f.mbits
    m = np.ldexp(np.where(nz, a, 0.0), -lsb).astype(np.int64)
    E = np.where(top < f.emin, 0, top + f.bias)
    code = np.where(nz, (E << f.mbits) | (m & ((1 << f.mbits) - 1)), 0)
    code = np.where(np.isinf(x), ((1 << f.ebits) - 1) << f.mbits, code)
    nan = np.isnan(x)
    if nan.any():  # the top fraction bits of the fp32 NaN (all ones stay all ones)
        frac = (v.view(np.uint32).astype(np.int64) & ((1 << 23) - 1)) >> (23 - f.mbits)
        frac = np.where(frac == 0, 1 << (f.mbits - 1), frac)
        code = np.where(nan, (((1 << f.ebits) - 1) << f.mbits) | frac, code)
    return (code | s).astype(np.uint32)


def widen_words(words, f, bits: int | None = None) -> np.ndarray:
    """uint32 words of ``bits`` (default :func:`word_bits`) of format f -> float32
    values.  32-bit words are fp32 bit patterns.  16-bit words are codes of f: exact;
    the all-ones NaN widens to the all-ones NaN (0x7FFF -> 0x7FFFFFFF), another NaN
    keeps its payload in the top fraction bits (fp16 0x7E00 -> 0x7FC00000)."""
    f = fmt(f)
    bits = word_bits(f) if bits is None else bits
    w = np.asarray(words, dtype=np.uint32)
    if bits == 32:
        return w.view(np.float32)
    if f.bits != 16:
        raise ValueError(f"{f.name} has no 16-bit words")
    w = w.astype(np.int64) & 0xFFFF
    M, top = f.mbits, (1 << f.ebits) - 1
    s = (w >> 15) & 1
    E = (w >> M) & top
    F = w & ((1 << M) - 1)
    mag = np.where(E == 0, np.ldexp(F, f.emin - M), np.ldexp(F + (1 << M), E - f.bias - M))
    mag = np.where(E == top, np.inf, mag)
    out = np.where(s == 1, -mag, mag).astype(np.float32)
    nan = (E == top) & (F != 0)
    if nan.any():
        payload = np.where(F == (1 << M) - 1, (1 << 23) - 1, F << (23 - M))
        nw = (s << 31) | (0xFF << 23) | payload
        out = np.where(nan, nw.astype(np.uint32).view(np.float32), out)
    return out


@dataclass
class Cases:
    """Test cases: a[i], b[i] (uint8 codes, length K_i), c, d (float32), scales.

    ``c_words`` / ``d_words`` (uint32) keep the words as read, ``c_bits`` / ``d_bits``
    their width (16 or 32); ``names`` the case names (from a vectors manifest)."""

    a: list
    b: list
    c: np.ndarray
    d: np.ndarray | None = None
    sa: list | None = None
    sb: list | None = None
    where: list = field(default_factory=list)  # "file:line" of each case
    c_words: np.ndarray | None = None
    c_bits: int = 32
    d_words: np.ndarray | None = None
    d_bits: int = 32
    names: list | None = None

    def __len__(self):
        return len(self.a)


# ------------------------------------------------------------------ reading text
def _lines(path, what):
    """(line number, tokens) of the non-blank, non-comment lines of a text file."""
    try:
        with open(path, encoding="ascii", errors="strict") as fh:
            text = fh.read()
    except OSError as e:
        raise read_error(e, f"{what}: {path}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{what}: {path}: not an ASCII text file (byte {e.start})") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].split("//", 1)[0].strip()
        if line:
            out.append((n, line.split()))
    return out


def _parse(path, what, pattern, desc, base, one_per_line=False):
    """(line number, uint32 array) per case line; UsageError naming file:line:word."""
    rows = []
    fast = _HEX8_LINE if pattern is _HEX8 else None
    for n, toks in _lines(path, what):
        if one_per_line and len(toks) != 1:
            raise UsageError(f"{path}:{n}: expected one word ({desc}), got {len(toks)}")
        if fast is not None:
            joined = " ".join(toks).replace("_", "")
            if fast.match(joined):
                rows.append(
                    (
                        n,
                        np.frombuffer(bytes.fromhex(joined.replace(" ", "")), dtype=">u4").astype(
                            np.uint32
                        ),
                    )
                )
                continue
        vals = []
        for w, tok in enumerate(toks, 1):
            t = tok.replace("_", "")
            if not pattern.match(t):
                raise UsageError(f"{path}:{n}: word {w} {tok!r}: expected {desc}")
            vals.append(int(t, base))
        rows.append((n, np.array(vals, dtype=np.uint32)))
    return rows


def _word_desc(f) -> str:
    """What a C or D word of format f may look like, for error messages."""
    f = fmt(f)
    if word_bits(f) == 16:
        return (
            f"16 binary or 4 hex digits (an {f.name} word), or 32 binary or 8 hex "
            "digits (its value widened to fp32)"
        )
    return "32 binary digits or 8 hex digits (an fp32 word)"


def _words_of(items, path, f, forms=_WORD_FORMS):
    """uint32 words and their width from (line, word number, token) items of one
    file: one form of :data:`_WORD_FORMS` for the whole file (the first item's)."""
    f = fmt(f)
    form = first = None
    vals = []
    for n, col, tok in items:
        t = tok.replace("_", "")
        if form is None:
            form = next((fm for fm in forms if fm[0].match(t)), None)
            if form is None:
                raise UsageError(f"{path}:{n}: word {col} {tok!r}: expected {_word_desc(f)}")
            if form[2] == 16 and word_bits(f) != 16:
                raise UsageError(
                    f"{path}:{n}: word {col} {tok!r}: a 16-bit word, but {f.name} words "
                    "have 32 bits (32 binary or 8 hex digits)"
                )
            first = n
        elif not form[0].match(t):
            raise UsageError(
                f"{path}:{n}: word {col} {tok!r}: expected {form[3]} like line {first}"
            )
        vals.append(int(t, form[1]))
    return np.array(vals, dtype=np.uint32), (form[2] if form else 32)


def _read_words(path, what, f):
    """(line numbers, uint32 words, bits) of a file of one C or D word per line."""
    items = []
    for n, toks in _lines(path, what):
        if len(toks) != 1:
            raise UsageError(f"{path}:{n}: expected one word ({_word_desc(f)}), got {len(toks)}")
        items.append((n, 1, toks[0]))
    words, bits = _words_of(items, path, f)
    return [n for n, _, _ in items], words, bits


def _rows_to_codes(rows, f, path):
    """Widened fp32 words of every line -> uint8 codes, checked in one pass."""
    if not rows:
        return []
    flat = np.concatenate([w for _, w in rows])
    v = flat.view(np.float32).astype(np.float64)
    if not _representable(v, fmt(f)).all():
        for n, w in rows:  # find the line, for the message
            widened_to_codes(w, f, f"{path}:{n}")
    codes = _codes(v, fmt(f))
    return np.split(codes, np.cumsum([len(w) for _, w in rows])[:-1])


def widened_to_codes(words, f, where: str) -> np.ndarray:
    """fp32 words of FP8 values widened to fp32 -> uint8 codes of format f.

    Every word must be exactly a value of f: finite values on f's grid and within
    its range, Inf only for formats with Inf (e5m2), any NaN (mapped to the canonical
    NaN code).  Raises UsageError naming ``where`` and the word otherwise."""
    f = fmt(f)
    w = np.asarray(words, dtype=np.uint32)
    v = w.view(np.float32).astype(np.float64)
    ok = _representable(v, f)
    if not ok.all():
        i = int(np.argmin(ok))
        why = (
            f"Inf is not a value of {f.name}"
            if np.isinf(v[i])
            else f"NaN is not a value of {f.name}"
            if np.isnan(v[i])
            else f"{v[i]:.9g} is not exactly a value of {f.name}"
        )
        raise UsageError(f"{where}: word {i + 1} 0x{int(w[i]):08X}: {why}")
    return _codes(v, f)


def _representable(v, f) -> np.ndarray:
    """Which float64 values are exactly values of f (any NaN counts as NaN where f has
    NaN; FP4/FP6 have neither NaN nor Inf)."""
    fin = np.isfinite(v)
    ok = np.where(
        fin, (round_array(v, f, "rne", overflow="ieee") == v) & (np.abs(v) <= f.max_finite), True
    )
    return ok & ~(np.isinf(v) & (not f.has_inf)) & ~(np.isnan(v) & (not f.has_nan))


def _codes(v, f) -> np.ndarray:
    nan = np.isnan(v)
    codes = values_to_codes(f, np.where(nan, 0.0, v))
    if not f.has_nan:
        return codes.astype(np.uint8)
    return np.where(nan, canonical_nan(f), codes).astype(np.uint8)


def read_text(
    a_path,
    b_path,
    d_path=None,
    c_path=None,
    sa_path=None,
    sb_path=None,
    *,
    a_format="e4m3",
    b_format="e4m3",
    scale_block=0,
    result_format=None,
) -> Cases:
    """Read the text layout (see module doc) into :class:`Cases`.  ``result_format``
    (default fp32) is the format of the C and D words: 16-bit words are accepted
    where it is a 16-bit format."""
    fr = fmt(result_format or "fp32")
    ra = _parse(a_path, "--a", _HEX8, "8 hex digits (an fp32 word)", 16)
    rb = _parse(b_path, "--b", _HEX8, "8 hex digits (an fp32 word)", 16)
    n = len(ra)
    if n == 0:
        raise UsageError(f"--a: {a_path}: no test cases")
    _same_count(rb, n, b_path, a_path)
    for (la, wa), (lb, wb) in zip(ra, rb):
        if len(wa) != len(wb):
            raise UsageError(
                f"{b_path}:{lb}: {len(wb)} words, but {a_path}:{la} has "
                f"{len(wa)} (a case's row and column have the same K)"
            )
    a = _rows_to_codes(ra, a_format, a_path)
    b = _rows_to_codes(rb, b_format, b_path)
    where = [f"{os.path.basename(a_path)}:{la}" for la, _ in ra]
    cases = Cases(a, b, np.zeros(n, np.float32), None, None, None, where)
    _read_c_d(cases, c_path, d_path, fr, fr, a_path)
    cases.sa, cases.sb = _read_scales_text(sa_path, sb_path, scale_block, a, a_path)
    return cases


def _read_c_d(cases, c_path, d_path, fc, fr, ref):
    """Fill in cases.c and cases.d (values, words, widths) from their word files."""
    n = len(cases)
    if c_path:
        lines, w, bits = _read_words(c_path, "--c", fc)
        _same_count(lines, n, c_path, ref)
        cases.c, cases.c_words, cases.c_bits = widen_words(w, fc, bits), w, bits
    if d_path:
        lines, w, bits = _read_words(d_path, "--d", fr)
        _same_count(lines, n, d_path, ref)
        cases.d, cases.d_words, cases.d_bits = widen_words(w, fr, bits), w, bits


def _read_scales_text(sa_path, sb_path, scale_block, a, a_path):
    out = []
    for path, opt in ((sa_path, "--sa"), (sb_path, "--sb")):
        if not path:
            out.append(None)
            continue
        if not scale_block:
            raise UsageError(f"{opt}: scales given but the config has scale_block = 0")
        rs = _parse(path, opt, _HEX2, "2 hex digits (a UE8M0 code)", 16)
        _same_count(rs, len(a), path, a_path)
        rows = []
        for (ln, vals), row in zip(rs, a):
            want = n_blocks(len(row), scale_block)
            if len(vals) != want:
                raise UsageError(
                    f"{path}:{ln}: {len(vals)} scale codes, expected {want} "
                    f"(ceil(K/{scale_block}) for K = {len(row)})"
                )
            rows.append(np.array(vals, dtype=np.uint8))
        out.append(rows)
    return out


def _same_count(rows, n, path, ref):
    if len(rows) != n:
        raise UsageError(f"{path}: {len(rows)} test cases, but {ref} has {n}")


# ------------------------------------------------------------------ reading hex
def _read_packed(path, what, desc):
    """(line numbers, (n, w) uint8 array) of a $readmemh file of packed byte codes:
    one word of 2w hex digits per line, code j in bits [8j+7:8j] (column j)."""
    lines, chunks = [], []
    digits = first = None
    for n, toks in _lines(path, what):
        if len(toks) != 1:
            raise UsageError(
                f"{path}:{n}: expected one word of hex digits ({desc}), got {len(toks)}"
            )
        t = toks[0].replace("_", "")
        if not _HEX_ANY.match(t) or len(t) % 2:
            raise UsageError(
                f"{path}:{n}: word 1 {toks[0]!r}: expected an even number of hex digits ({desc})"
            )
        if digits is None:
            digits, first = len(t), n
        elif len(t) != digits:
            raise UsageError(
                f"{path}:{n}: {len(t)} hex digits, but line {first} has {digits} "
                "(every line holds the same number of codes)"
            )
        lines.append(n)
        chunks.append(t)
    if not chunks:
        return lines, np.zeros((0, 0), np.uint8)
    arr = np.frombuffer(bytes.fromhex("".join(chunks)), np.uint8).reshape(len(chunks), -1)
    return lines, np.ascontiguousarray(arr[:, ::-1])


def read_hex(
    a_path,
    b_path,
    d_path=None,
    c_path=None,
    sa_path=None,
    sb_path=None,
    *,
    scale_block=0,
    result_format=None,
    c_format=None,
    k=None,
) -> Cases:
    """Read the ``$readmemh`` layout of ``fp8emu vectors`` into :class:`Cases`:
    a.hex / b.hex (2K hex digits per line, code k in bits [8k+7:8k]), sa.hex / sb.hex
    (one code per scale block, likewise), c.hex and d.hex (one word per line, of
    ``c_format`` (default: the result format) and of ``result_format`` (default
    fp32); see the module doc for the word forms).  ``k``: the K every line of
    a.hex must hold (e.g. from manifest.json)."""
    fr = fmt(result_format or "fp32")
    fc = fmt(c_format) if c_format else fr
    la, A = _read_packed(a_path, "--a", "2 hex digits per code")
    n = len(la)
    if n == 0:
        raise UsageError(f"--a: {a_path}: no test cases")
    K = A.shape[1]
    if k is not None and K != k:
        raise UsageError(
            f"{a_path}:{la[0]}: {2 * K} hex digits, expected {2 * k} (K = {k} codes of 8 bits)"
        )
    lb, B = _read_packed(b_path, "--b", "2 hex digits per code")
    _same_count(lb, n, b_path, a_path)
    if B.shape[1] != K:
        raise UsageError(
            f"{b_path}:{lb[0]}: {B.shape[1]} codes, but {a_path}:{la[0]} has {K} "
            "(a case's row and column have the same K)"
        )
    where = [f"{os.path.basename(a_path)}:{x}" for x in la]
    cases = Cases(list(A), list(B), np.zeros(n, np.float32), None, None, None, where)
    _read_c_d(cases, c_path, d_path, fc, fr, a_path)
    scales = []
    for path, opt in ((sa_path, "--sa"), (sb_path, "--sb")):
        if not path:
            scales.append(None)
            continue
        if not scale_block:
            raise UsageError(f"{opt}: scales given but the config has scale_block = 0")
        ls, S = _read_packed(path, opt, "2 hex digits per UE8M0 code")
        _same_count(ls, n, path, a_path)
        want = n_blocks(K, scale_block)
        if S.shape[1] != want:
            raise UsageError(
                f"{path}:{ls[0]}: {S.shape[1]} scale codes, expected {want} "
                f"(ceil(K/{scale_block}) for K = {K})"
            )
        scales.append(list(S))
    cases.sa, cases.sb = scales
    return cases


# ------------------------------------------------------------------ reading testfloat
_HEX2_LINE = re.compile(r"^[0-9a-fA-F]{2}( [0-9a-fA-F]{2})*$")
_HEX_WORD_FORMS = tuple(f for f in _WORD_FORMS if f[1] == 16)


def read_testfloat(
    path,
    *,
    k,
    scale_block=0,
    result_format=None,
    c_format=None,
    d_path=None,
    what="--testfloat",
) -> Cases:
    """Read the TestFloat-style layout of ``fp8emu vectors`` (testfloat.txt): one case
    per line, space-separated hex columns: K codes of A (k = 0 first), K codes of B,
    then with block scales ceil(K / scale_block) UE8M0 codes of A and as many of B,
    then C and D (4 or 8 hex digits: words of ``c_format`` / ``result_format``).
    ``d_path``: the dump to check, instead of the D column."""
    fr = fmt(result_format or "fp32")
    fc = fmt(c_format) if c_format else fr
    nb = n_blocks(k, scale_block) if scale_block else 0
    ncodes = 2 * k + 2 * nb
    want = ncodes + 2
    lines, codes, c_items, d_items = [], [], [], []
    for n, toks in _lines(path, what):
        if len(toks) != want:
            raise UsageError(
                f"{path}:{n}: {len(toks)} columns, expected {want} (K = {k} codes of A, "
                f"{k} of B, {nb} scale codes of A and {nb} of B, C, D)"
            )
        joined = " ".join(toks[:ncodes]).replace("_", "")
        if not _HEX2_LINE.match(joined):
            for col, tok in enumerate(toks[:ncodes], 1):
                if not _HEX2.match(tok.replace("_", "")):
                    raise UsageError(
                        f"{path}:{n}: word {col} {tok!r}: expected 2 hex digits (a code)"
                    )
        codes.append(joined.replace(" ", ""))
        c_items.append((n, want - 1, toks[-2]))
        d_items.append((n, want, toks[-1]))
        lines.append(n)
    n = len(lines)
    if n == 0:
        raise UsageError(f"{what}: {path}: no test cases")
    arr = np.frombuffer(bytes.fromhex("".join(codes)), np.uint8).reshape(n, ncodes)
    a, b = arr[:, :k], arr[:, k : 2 * k]
    c_words, c_bits = _words_of(c_items, path, fc, _HEX_WORD_FORMS)
    cases = Cases(
        list(a),
        list(b),
        widen_words(c_words, fc, c_bits),
        None,
        list(arr[:, 2 * k : 2 * k + nb]) if nb else None,
        list(arr[:, 2 * k + nb :]) if nb else None,
        [f"{os.path.basename(path)}:{x}" for x in lines],
        c_words,
        c_bits,
    )
    if d_path:
        _read_c_d(cases, None, d_path, fc, fr, path)
    else:
        w, bits = _words_of(d_items, path, fr, _HEX_WORD_FORMS)
        cases.d, cases.d_words, cases.d_bits = widen_words(w, fr, bits), w, bits
    return cases


def _short(e, limit: int = 160) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_npz(path, *, a_format="e4m3", b_format="e4m3", scale_block=0, result_format=None):
    """Read an .npz archive with arrays a, b, d and optional c, sa, sb: test cases
    (a, b: cases x K; d: cases), or a whole GEMM (a: M x K, b: K x N, d and c: M x N,
    sa / sb shaped as emu.gemm takes them) -> :class:`MatrixDump`.  c and d may be
    uint16 words where ``result_format`` (default fp32) is a 16-bit format."""
    import zipfile
    import zlib

    from emu.io import OPEN_ERRORS, add_input, as_loaded, check_npz_member

    add_input(path, "--npz")
    try:
        with open(path, "rb") as fh:
            single = fh.read(6) == b"\x93NUMPY"
    except tuple(OPEN_ERRORS) as e:
        raise read_error(e, f"--npz: {path}") from None
    except OSError as e:
        raise read_error(e, f"--npz: {path}") from None
    if single:  # not loaded: a single array, whatever its header says
        raise UsageError(f"--npz: {path}: is a single .npy array, expected an .npz archive")
    try:
        z = np.load(path, allow_pickle=False)
    except tuple(OPEN_ERRORS) as e:
        raise read_error(e, f"--npz: {path}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"--npz: {path}: not a readable .npz archive ({_short(e)})") from None
    if not hasattr(z, "files"):
        raise UsageError(f"--npz: {path}: is a single .npy array, expected an .npz archive")
    with z:
        arr = {}
        for k in z.files:
            try:
                check_npz_member(z, k)  # its header first: no huge or malformed one
                v = z[k]
            except (
                OSError,
                ValueError,
                EOFError,
                zipfile.BadZipFile,
                zlib.error,
                SyntaxError,
                MemoryError,
                RecursionError,
                NotImplementedError,  # a compression method zipfile lacks
            ) as e:
                raise UsageError(
                    f"--npz: {path}: array {k!r} is not readable ({_short(e)})"
                ) from None
            if not isinstance(v, np.ndarray):  # numpy returns other members as bytes
                raise UsageError(f"--npz: {path}: member {k!r} is not a .npy array")
            arr[k] = as_loaded(v)
    for k in ("a", "b", "d"):
        if k not in arr:
            raise UsageError(f"--npz: {path}: missing array {k!r} (has {', '.join(arr) or 'none'})")
    fr = fmt(result_format or "fp32")
    a = _operand(arr["a"], a_format, f"{path}: a")
    b = _operand(arr["b"], b_format, f"{path}: b")
    if arr["d"].ndim == 2:
        return _matrix_dump(path, arr, a, b, fr)
    if a.shape != b.shape:
        raise UsageError(f"{path}: a {a.shape} and b {b.shape}: expected the same (cases, K)")
    n, K = a.shape
    d, d_words, d_bits = _words(arr["d"], (n,), f"{path}: d", fr)
    c, c_words, c_bits = (
        _words(arr["c"], (n,), f"{path}: c", fr)
        if "c" in arr
        else (np.zeros(n, np.float32), None, 32)
    )
    scales = []
    for k in ("sa", "sb"):
        if k not in arr:
            scales.append(None)
            continue
        if not scale_block:
            raise UsageError(f"{path}: {k}: scales given but the config has scale_block = 0")
        s = arr[k]
        want = (n, n_blocks(K, scale_block))
        if s.dtype != np.uint8 or s.shape != want:
            raise UsageError(f"{path}: {k}: expected uint8 {want}, got {s.dtype} {s.shape}")
        scales.append(list(s))
    return Cases(
        list(a),
        list(b),
        c,
        d,
        scales[0],
        scales[1],
        [f"{os.path.basename(path)}[{i}]" for i in range(n)],
        c_words,
        c_bits,
        d_words,
        d_bits,
    )


@dataclass
class MatrixDump:
    """A whole GEMM dump: D (M, N) of C + A.B with A (M, K), B (K, N) codes."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray | None
    d: np.ndarray
    sa: np.ndarray | None
    sb: np.ndarray | None
    d_words: np.ndarray | None = None
    d_bits: int = 32

    def __len__(self):
        return self.d.size


def _matrix_dump(path, arr, a, b, fr) -> MatrixDump:
    M, K = a.shape
    if b.shape[0] != K:
        raise UsageError(f"{path}: a {a.shape} and b {b.shape}: inner dimensions differ")
    shape = (M, b.shape[1])
    mats = {}
    w16 = word_bits(fr) == 16
    for k in ("c", "d"):
        if k not in arr:
            continue
        x = arr[k]
        if x.shape != shape or x.dtype not in (np.uint32, np.float32, np.uint16):
            more = f" (or uint16 {fr.name} words)" if w16 else ""
            raise UsageError(
                f"{path}: {k}: expected uint32 fp32 words or float32{more} of shape "
                f"{shape}, got {x.dtype} {x.shape}"
            )
        mats[k] = _words(x, shape, f"{path}: {k}", fr)
    c = mats["c"][0] if "c" in mats else None
    d, d_words, d_bits = mats["d"]
    return MatrixDump(a, b, c, d, arr.get("sa"), arr.get("sb"), d_words, d_bits)


def _operand(x, f, what):
    if x.ndim != 2:
        raise UsageError(f"{what}: expected a 2-D (cases, K) array, got shape {x.shape}")
    if x.dtype == np.uint8:
        from emu.io import code_problem

        why = code_problem(x, f)
        if why:
            raise UsageError(f"{what}: {why}")
        return x
    if x.dtype == np.uint32 or x.dtype == np.float32:
        w = x.astype(np.float32).view(np.uint32) if x.dtype == np.float32 else x
        return np.stack([widened_to_codes(row, f, f"{what}[{i}]") for i, row in enumerate(w)])
    raise UsageError(
        f"{what}: expected uint32 fp32 words, float32 or uint8 codes, got dtype {x.dtype}"
    )


def _words(x, shape, what, f):
    """(float32 values, uint32 words or None, bits) of an npz array of C or D words:
    uint32 fp32 words, float32 values, or uint16 words of a 16-bit format f."""
    if x.shape != shape:
        raise UsageError(f"{what}: expected shape {_shape(shape)}, got {x.shape}")
    if x.dtype == np.uint32:
        return x.view(np.float32), x, 32
    if x.dtype == np.float32:
        return x, None, 32
    if x.dtype == np.uint16 and word_bits(f) == 16:
        w = x.astype(np.uint32)
        return widen_words(w, f, 16), w, 16
    more = f" or uint16 {fmt(f).name} words" if word_bits(f) == 16 else ""
    raise UsageError(f"{what}: expected uint32 fp32 words or float32{more}, got dtype {x.dtype}")


def _shape(shape) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else str(tuple(shape))


# ------------------------------------------------------------------ writing text
def hex_words(values) -> str:
    """fp32 values as one line of 8-hex-digit words."""
    w = np.asarray(values, dtype=np.float32).view(np.uint32)
    return " ".join(f"{int(x):08X}" for x in w)


def widen(codes, f) -> np.ndarray:
    """uint8 codes of f -> float32 values (NaN codes become the fp32 NaN 0x7FC00000)."""
    return decode_table(fmt(f).name)[np.asarray(codes, dtype=np.uint8)].astype(np.float32)


def bin_word(x) -> str:
    return format(int(np.asarray(x, dtype=np.float32).view(np.uint32)), "032b")


def write_text(cases: Cases, a_format, b_format) -> dict:
    """{name: text} of the text format: a.txt, b.txt, c.txt, d.txt (+ sa/sb.txt)."""
    out = {
        "a.txt": "".join(hex_words(widen(r, a_format)) + "\n" for r in cases.a),
        "b.txt": "".join(hex_words(widen(r, b_format)) + "\n" for r in cases.b),
        "c.txt": "".join(bin_word(v) + "\n" for v in cases.c),
    }
    if cases.d is not None:
        out["d.txt"] = "".join(bin_word(v) + "\n" for v in cases.d)
    for key, s in (("sa.txt", cases.sa), ("sb.txt", cases.sb)):
        if s is not None:
            out[key] = "".join(" ".join(f"{int(x):02X}" for x in row) + "\n" for row in s)
    return out


# ------------------------------------------------------------------ emulating
def batch_size(K: int) -> int:
    """Cases per emu.gemm call: g cases cost one (g, K) x (K, g) GEMM whose diagonal
    is kept, so g balances the g**2 * K work against the per-call overhead."""
    return max(1, min(64, int(math.sqrt(2.5e5 / max(K, 1)))))


def emulate(cases: Cases, config) -> np.ndarray:
    """The emulator's result (float32) for every case: D = c + row . column."""
    from emu import gemm

    n = len(cases)
    out = np.empty(n, np.float32)
    cfg = config.replace(scale_b_tile=0) if config.scale_b_tile else config
    bs = config.scale_block
    by_k = {}
    for i, row in enumerate(cases.a):
        by_k.setdefault(len(row), []).append(i)
    for K, idx in by_k.items():
        g = batch_size(K)
        nkb = n_blocks(K, bs)
        for s in range(0, len(idx), g):
            sel = idx[s : s + g]
            m = len(sel)
            A = np.stack([cases.a[i] for i in sel])
            B = np.stack([cases.b[i] for i in sel], axis=1)
            C = np.zeros((m, m), np.float32)
            C[np.arange(m), np.arange(m)] = cases.c[sel]
            sa = sb = None
            if bs:
                sa = (
                    np.stack([cases.sa[i] for i in sel])
                    if cases.sa is not None
                    else np.full((m, nkb), unit_scale(config), np.uint8)
                )
                sb = (
                    np.stack([cases.sb[i] for i in sel], axis=1)
                    if cases.sb is not None
                    else np.full((nkb, m), unit_scale(config), np.uint8)
                )
            with np.errstate(over="ignore"):  # the kernels' float32 casts
                D = gemm(A.reshape(m, K), B.reshape(K, m), c=C, sa=sa, sb=sb, config=cfg)
            out[sel] = np.diagonal(D)
    return out


@dataclass
class Mismatch:
    case: int
    where: str
    expected: float  # the emulator
    got: float  # the dump
    ulp: float
    expected_word: int = 0  # the words compared, ``bits`` wide
    got_word: int = 0
    bits: int = 32


@dataclass
class Report:
    """The outcome of :func:`check`.  Per case (arrays over every case): the
    emulator's and the dump's values (float32) and words (uint32, ``bits`` wide),
    the ULP distance in the result format and whether the case matches."""

    n: int
    passed: int
    mismatches: list
    result_format: str
    bits: int = 32
    any_nan: bool = False
    expected: np.ndarray | None = None
    got: np.ndarray | None = None
    expected_words: np.ndarray | None = None
    got_words: np.ndarray | None = None
    ulp: np.ndarray | None = None
    match: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.passed == self.n


def check(cases, config, any_nan: bool = False) -> Report:
    """Compare the dumped results with the emulator, bit for bit at the width of the
    dumped words (:class:`Cases` or a :class:`MatrixDump`); see the module doc for
    the NaN policy."""
    if isinstance(cases, MatrixDump):
        from emu import gemm

        with np.errstate(over="ignore"):
            exp = gemm(cases.a, cases.b, c=cases.c, sa=cases.sa, sb=cases.sb, config=config)
        N = exp.shape[1]
        words = None if cases.d_words is None else np.ravel(cases.d_words)
        return _compare(
            exp.ravel(),
            np.ravel(cases.d),
            words,
            cases.d_bits,
            lambda i: f"d[{i // N},{i % N}]",
            config,
            any_nan,
        )
    if cases.d is None:
        raise UsageError("no results (d) to validate")
    _check_case_codes(cases, config)
    return _compare(
        emulate(cases, config),
        np.asarray(cases.d, np.float32),
        cases.d_words,
        cases.d_bits,
        lambda i: cases.where[i] if cases.where else str(i),
        config,
        any_nan,
    )


def _check_case_codes(cases, config) -> None:
    """UsageError naming the case when a code of A or B does not fit its format (an
    FP4/FP6 code with a bit set above its width)."""
    from emu.io import code_problem

    for rows, f, name in ((cases.a, config.a_format, "a"), (cases.b, config.b_format, "b")):
        for i, row in enumerate(rows):
            why = code_problem(np.asarray(row), f)
            if why:
                where = cases.where[i] if cases.where else f"case {i}"
                raise UsageError(f"{where}: {name}: {why}")


def unit_scale(config) -> int:
    """The scale code of 1 in the config's scale format (UE8M0 0x7F, UE4M3 0x38): what
    an absent sa / sb stands for."""
    f = getattr(config, "scale_format", "ue8m0")
    return int(np.flatnonzero(decode_table(fmt(f).name) == 1.0)[0])


def _compare(exp, got, got_words, bits, where, config, any_nan) -> Report:
    f = result_format(config)
    if bits == 16 and word_bits(f) != 16:
        raise UsageError(
            f"the results are 16-bit words, but the result format {f.name} has 32-bit words"
        )
    exp = np.asarray(exp, np.float32)
    got = np.asarray(got, np.float32)
    exp_w = to_words(exp, f, bits)
    got_w = got.view(np.uint32) if got_words is None else np.asarray(got_words, np.uint32)
    same = exp_w == got_w
    if any_nan:
        same |= np.isnan(exp) & np.isnan(got)
    with np.errstate(invalid="ignore"):  # a signalling NaN in the dump
        dist = ulp_distance(got, exp, f)
    bad = np.flatnonzero(~same)
    mism = [
        Mismatch(
            int(i),
            where(int(i)),
            float(exp[i]),
            float(got[i]),
            float(dist[i]),
            int(exp_w[i]),
            int(got_w[i]),
            bits,
        )
        for i in bad
    ]
    return Report(
        len(exp),
        int(np.count_nonzero(same)),
        mism,
        f.name,
        bits,
        any_nan,
        exp,
        got,
        exp_w,
        got_w,
        dist,
        same,
    )


def _word(w: int, x: float, bits: int = 32) -> str:
    """A word and its value as ``0xHHHHHHHH (decimal)`` (4 digits for 16 bits)."""
    return f"0x{int(w):0{bits // 4}X} ({float(np.float32(x)):.9g})"


def _ulp_text(u: float) -> str:
    if u == 0:
        return "0 (sign of zero or NaN payload)"
    if math.isinf(u):
        return "nan"
    return f"{u:g}" + ("" if u == int(u) else " (off grid)")


def format_report(rep: Report, show: int = 10) -> str:
    """PASS/FAIL line and a table of the first ``show`` mismatches."""
    what = f"result format {rep.result_format}" + (", 16-bit words" if rep.bits == 16 else "")
    if rep.ok:
        return f"PASS: all {rep.n} cases match ({what})"
    lines = [f"FAIL: {rep.n - rep.passed} of {rep.n} cases differ, {rep.passed} pass ({what})"]
    rows = [("case", "where", "expected (emulator)", "got (dump)", f"ulp ({rep.result_format})")]
    for m in rep.mismatches[:show]:
        rows.append(
            (
                str(m.case),
                m.where,
                _word(m.expected_word, m.expected, m.bits),
                _word(m.got_word, m.got, m.bits),
                _ulp_text(m.ulp),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    if len(rep.mismatches) > show:
        lines.append(f"... {len(rep.mismatches) - show} more")
    return "\n".join(lines)


def nan_policy(bits: int, any_nan: bool = False) -> str:
    """The NaN rule a check applied, in words."""
    if any_nan:
        return "any NaN of the result format matches any NaN (--any-nan)"
    return f"NaN must be the canonical 0x{nan_word(bits):0{bits // 4}X}, bit exact"


def report_doc(rep: Report, config, cases=None, every: bool = False) -> dict:
    """The JSON document of a check: counts, the result format, the width of the
    words compared, the NaN policy, the config and the mismatches; with ``every``
    also ``all_cases``: every case's inputs (Cases: codes of A and B in k order,
    scale codes, the C word; a MatrixDump: the row and column), the emulator's and
    the dump's words and values, the ULP distance and whether it matches."""
    hx = f"0x{{:0{rep.bits // 4}X}}".format
    doc = {
        "cases": rep.n,
        "passed": rep.passed,
        "result_format": rep.result_format,
        "word_bits": rep.bits,
        "nan_policy": nan_policy(rep.bits, rep.any_nan),
        "config": config.to_dict(),
        "mismatches": [
            dict(
                case=m.case,
                where=m.where,
                expected=hx(m.expected_word),
                got=hx(m.got_word),
                ulp=m.ulp,
            )
            for m in rep.mismatches
        ],
    }
    if not every:
        return doc
    out = []
    matrix = isinstance(cases, MatrixDump)
    N = cases.d.shape[1] if matrix else 0
    if not matrix and cases is not None:
        c_bits = cases.c_bits
        c_words = cases.c_words if cases.c_words is not None else to_words(cases.c, "fp32", 32)
        chx = f"0x{{:0{c_bits // 4}X}}".format
        names = cases.names if cases.names and len(cases.names) == len(cases) else None
    for i in range(rep.n):
        e = {"case": i}
        if matrix:
            e.update(where=f"d[{i // N},{i % N}]", row=i // N, col=i % N)
        elif cases is not None:
            e["where"] = cases.where[i] if cases.where else str(i)
            if names:
                e["name"] = names[i]
            e["a"] = np.asarray(cases.a[i], np.uint8).tobytes().hex(" ").upper()
            e["b"] = np.asarray(cases.b[i], np.uint8).tobytes().hex(" ").upper()
            if cases.sa is not None:
                e["sa"] = np.asarray(cases.sa[i], np.uint8).tobytes().hex(" ").upper()
            if cases.sb is not None:
                e["sb"] = np.asarray(cases.sb[i], np.uint8).tobytes().hex(" ").upper()
            e["c"] = chx(int(c_words[i]))
        e.update(
            expected=hx(int(rep.expected_words[i])),
            got=hx(int(rep.got_words[i])),
            expected_value=float(rep.expected[i]),
            got_value=float(rep.got[i]),
            ulp=float(rep.ulp[i]),
            match=bool(rep.match[i]),
        )
        out.append(e)
    doc["all_cases"] = out
    return doc
