"""``validate``: compare the emulator with dumps of another implementation (an RTL
simulation, silicon), one dot product per test case.

Text format (one test case per line; blank lines and ``#`` or ``//`` comments are
skipped; ``_`` inside a word is ignored, as in Verilog):

* ``a.txt``: the row of A, K words of 8 hex digits separated by white space, each
  the fp32 bit pattern of the FP8 value widened to fp32 (exact; -0 stays -0);
* ``b.txt``: the column of B, same layout;
* ``c.txt`` (optional, absent = +0) and ``d.txt``: one fp32 word per line as 32
  binary digits, most significant bit first;
* ``sa.txt`` / ``sb.txt`` (optional, absent = 0x7F, i.e. 2**0): the UE8M0 scale codes
  of the case's row / column, 2 hex digits each, one per K block of scale_block
  values (for ``scale_b_tile = 128``: the code of the tile holding the column).

An ``.npz`` with arrays ``a``, ``b`` (cases x K: uint32 fp32 words, float32 values or
uint8 FP8 codes), ``d`` and optional ``c`` (cases: uint32 words or float32) and
``sa``, ``sb`` (cases x blocks, uint8) carries the same data; with a 2-D ``d`` the
archive is a whole GEMM (a: M x K, b: K x N, c, d: M x N, scales as emu.gemm takes
them).

A case passes when the dumped word equals the emulator's bit for bit (NaN must be
the canonical 0x7FFFFFFF unless ``any_nan``).  The ULP distance of a mismatch is
measured on the result format's grid (see :mod:`emu.toolkit.metrics`).
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
_BIN32 = re.compile(r"^[01]{32}$")


@dataclass
class Cases:
    """Test cases: a[i], b[i] (uint8 codes, length K_i), c, d (float32), scales."""

    a: list
    b: list
    c: np.ndarray
    d: np.ndarray | None = None
    sa: list | None = None
    sb: list | None = None
    where: list = field(default_factory=list)  # "file:line" of each case

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
            else f"{v[i]:.9g} is not exactly a value of {f.name}"
        )
        raise UsageError(f"{where}: word {i + 1} 0x{int(w[i]):08X}: {why}")
    return _codes(v, f)


def _representable(v, f) -> np.ndarray:
    """Which float64 values are exactly values of f (any NaN counts as NaN)."""
    fin = np.isfinite(v)
    ok = np.where(
        fin, (round_array(v, f, "rne", overflow="ieee") == v) & (np.abs(v) <= f.max_finite), True
    )
    return ok & ~(np.isinf(v) & (f.kind == "fn"))


def _codes(v, f) -> np.ndarray:
    nan = np.isnan(v)
    codes = values_to_codes(f, np.where(nan, 0.0, v))
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
) -> Cases:
    """Read the text format (see module doc) into :class:`Cases`."""
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
    c = np.zeros(n, np.float32)
    if c_path:
        rc = _parse(c_path, "--c", _BIN32, "32 binary digits", 2, one_per_line=True)
        _same_count(rc, n, c_path, a_path)
        c = np.array([v[0] for _, v in rc], dtype=np.uint32).view(np.float32)
    d = None
    if d_path:
        rd = _parse(d_path, "--d", _BIN32, "32 binary digits", 2, one_per_line=True)
        _same_count(rd, n, d_path, a_path)
        d = np.array([v[0] for _, v in rd], dtype=np.uint32).view(np.float32)
    sa = sb = None
    for path, opt in ((sa_path, "--sa"), (sb_path, "--sb")):
        if not path:
            continue
        if not scale_block:
            raise UsageError(f"{opt}: scales given but the config has scale_block = 0")
        rs = _parse(path, opt, _HEX2, "2 hex digits (a UE8M0 code)", 16)
        _same_count(rs, n, path, a_path)
        out = []
        for (ln, vals), row in zip(rs, a):
            want = n_blocks(len(row), scale_block)
            if len(vals) != want:
                raise UsageError(
                    f"{path}:{ln}: {len(vals)} scale codes, expected {want} "
                    f"(ceil(K/{scale_block}) for K = {len(row)})"
                )
            out.append(np.array(vals, dtype=np.uint8))
        if opt == "--sa":
            sa = out
        else:
            sb = out
    return Cases(a, b, c, d, sa, sb, where)


def _same_count(rows, n, path, ref):
    if len(rows) != n:
        raise UsageError(f"{path}: {len(rows)} test cases, but {ref} has {n}")


def _short(e, limit: int = 160) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_npz(path, *, a_format="e4m3", b_format="e4m3", scale_block=0):
    """Read an .npz archive with arrays a, b, d and optional c, sa, sb: test cases
    (a, b: cases x K; d: cases), or a whole GEMM (a: M x K, b: K x N, d and c: M x N,
    sa / sb shaped as emu.gemm takes them) -> :class:`MatrixDump`."""
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
    a = _operand(arr["a"], a_format, f"{path}: a")
    b = _operand(arr["b"], b_format, f"{path}: b")
    if arr["d"].ndim == 2:
        return _matrix_dump(path, arr, a, b)
    if a.shape != b.shape:
        raise UsageError(f"{path}: a {a.shape} and b {b.shape}: expected the same (cases, K)")
    n, K = a.shape
    d = _words(arr["d"], n, f"{path}: d")
    c = _words(arr["c"], n, f"{path}: c") if "c" in arr else np.zeros(n, np.float32)
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

    def __len__(self):
        return self.d.size


def _matrix_dump(path, arr, a, b) -> MatrixDump:
    M, K = a.shape
    if b.shape[0] != K:
        raise UsageError(f"{path}: a {a.shape} and b {b.shape}: inner dimensions differ")
    shape = (M, b.shape[1])
    mats = {}
    for k in ("c", "d"):
        if k not in arr:
            continue
        x = arr[k]
        if x.shape != shape or x.dtype not in (np.uint32, np.float32):
            raise UsageError(
                f"{path}: {k}: expected uint32 fp32 words or float32 of shape "
                f"{shape}, got {x.dtype} {x.shape}"
            )
        mats[k] = x.view(np.float32) if x.dtype == np.uint32 else x
    return MatrixDump(a, b, mats.get("c"), mats["d"], arr.get("sa"), arr.get("sb"))


def _operand(x, f, what):
    if x.ndim != 2:
        raise UsageError(f"{what}: expected a 2-D (cases, K) array, got shape {x.shape}")
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.uint32 or x.dtype == np.float32:
        w = x.astype(np.float32).view(np.uint32) if x.dtype == np.float32 else x
        return np.stack([widened_to_codes(row, f, f"{what}[{i}]") for i, row in enumerate(w)])
    raise UsageError(
        f"{what}: expected uint32 fp32 words, float32 or uint8 codes, got dtype {x.dtype}"
    )


def _words(x, n, what):
    if x.shape != (n,):
        raise UsageError(f"{what}: expected shape ({n},), got {x.shape}")
    if x.dtype == np.uint32:
        return x.view(np.float32)
    if x.dtype == np.float32:
        return x
    raise UsageError(f"{what}: expected uint32 fp32 words or float32, got dtype {x.dtype}")


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
                    else np.full((m, nkb), 127, np.uint8)
                )
                sb = (
                    np.stack([cases.sb[i] for i in sel], axis=1)
                    if cases.sb is not None
                    else np.full((nkb, m), 127, np.uint8)
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


@dataclass
class Report:
    n: int
    passed: int
    mismatches: list
    result_format: str

    @property
    def ok(self) -> bool:
        return self.passed == self.n


def check(cases, config, any_nan: bool = False) -> Report:
    """Compare the dumped results with the emulator, bit for bit (:class:`Cases` or
    a :class:`MatrixDump`)."""
    if isinstance(cases, MatrixDump):
        from emu import gemm

        with np.errstate(over="ignore"):
            exp = gemm(cases.a, cases.b, c=cases.c, sa=cases.sa, sb=cases.sb, config=config)
        N = exp.shape[1]
        return _compare(
            exp.ravel(), cases.d.ravel(), lambda i: f"d[{i // N},{i % N}]", config, any_nan
        )
    if cases.d is None:
        raise UsageError("no results (d) to validate")
    return _compare(
        emulate(cases, config),
        np.asarray(cases.d, np.float32),
        lambda i: cases.where[i] if cases.where else str(i),
        config,
        any_nan,
    )


def _compare(exp, got, where, config, any_nan) -> Report:
    same = exp.view(np.uint32) == got.view(np.uint32)
    if any_nan:
        same |= np.isnan(exp) & np.isnan(got)
    f = result_format(config)
    bad = np.flatnonzero(~same)
    dist = ulp_distance(got[bad], exp[bad], f) if bad.size else np.zeros(0)
    mism = [
        Mismatch(int(i), where(int(i)), float(exp[i]), float(got[i]), float(u))
        for i, u in zip(bad, dist)
    ]
    return Report(len(exp), int(np.count_nonzero(same)), mism, f.name)


def _word(x: float) -> str:
    """An fp32 value as ``0xHHHHHHHH (decimal)``."""
    w = int(np.float32(x).view(np.uint32))
    return f"0x{w:08X} ({float(np.float32(x)):.9g})"


def format_report(rep: Report, show: int = 10) -> str:
    """PASS/FAIL line and a table of the first ``show`` mismatches."""
    if rep.ok:
        return f"PASS: all {rep.n} cases match (result format {rep.result_format})"
    lines = [
        f"FAIL: {rep.n - rep.passed} of {rep.n} cases differ, {rep.passed} pass "
        f"(result format {rep.result_format})"
    ]
    rows = [("case", "where", "expected (emulator)", "got (dump)", f"ulp ({rep.result_format})")]
    for m in rep.mismatches[:show]:
        u = (
            "nan"
            if math.isinf(m.ulp)
            else f"{m.ulp:g}" + ("" if m.ulp == int(m.ulp) else " (off grid)")
        )
        if m.ulp == 0:
            u = "0 (sign of zero or NaN payload)"
        rows.append((str(m.case), m.where, _word(m.expected), _word(m.got), u))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    if len(rep.mismatches) > show:
        lines.append(f"... {len(rep.mismatches) - show} more")
    return "\n".join(lines)
