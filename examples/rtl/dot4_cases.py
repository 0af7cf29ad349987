"""Test cases and the golden model of the fp8_dot4 RTL unit (fp8_dot4.v).

Shared by the cocotb bench (bench_dot4.py) and the runner (run.py); needs fp8emu
and numpy only, no simulator.

* :func:`unit_config`: the fp8emu configuration the unit equals bit for bit;
* :func:`golden`: the expected d of every case, from ``emu.gemm`` (the scoreboard's
  golden model);
* :func:`random_cases`: random cases (finite codes with subnormals and zeros, random
  scales in a moderate range and a few extreme ones, random fp32 C, a share with
  NaN / Inf codes, NaN scales and non-finite C);
* :func:`vector_cases`: the cases of a directory written by ``fp8emu vectors``, read
  with fp8emu's own reader of the ``validate`` text format;
* :func:`write_validate_dir`: a case set and the unit's results in the text format
  that ``fp8emu validate`` reads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

import emu
from emu.numerics.formats import decode
from emu.toolkit.validate import Cases, read_text, widen_words, write_text

LANES = 4
FORMATS = ("e4m3", "e5m2")
PAIRS = (("e4m3", "e4m3"), ("e5m2", "e5m2"), ("e4m3", "e5m2"), ("e5m2", "e4m3"))


def unit_config(a_format="e4m3", b_format="e4m3", acc16=False) -> emu.MacConfig:
    """The fp8emu configuration the unit equals: one exact dot product of the 4
    lanes and C (fused = "k", align_bits = "exact"), one UE8M0 scale code per
    operand for the 4 lanes (scale_block = 4, applied to the products), one
    round-to-nearest-even into fp32 (ACC16: fp16) with subnormals kept."""
    return emu.preset("exact").replace(
        a_format=a_format,
        b_format=b_format,
        scale_block=LANES,
        acc_format="fp16" if acc16 else "fp32",
    )


@dataclass
class CaseSet:
    """Cases of one source: codes a, b (n, 4) uint8, formats fa, fb (n,) of 0 (E4M3)
    or 1 (E5M2), scale codes sa, sb (n,) uint8, C as fp32 words (n,) uint32, and a
    label per case (where it came from).  ``expected``: the vectors' own d (uint32),
    when the set came from ``fp8emu vectors``."""

    name: str
    a: np.ndarray
    b: np.ndarray
    fa: np.ndarray
    fb: np.ndarray
    sa: np.ndarray
    sb: np.ndarray
    c: np.ndarray
    labels: list = field(default_factory=list)
    expected: np.ndarray | None = None
    acc16: bool = False
    golden: np.ndarray | None = None  # filled in by the bench: golden(self)
    source: str | None = None  # the vectors' directory

    def __len__(self):
        return len(self.c)

    def ports(self, i: int) -> dict:
        """The unit's input port values of case i."""
        return {
            "a_e5m2": int(self.fa[i]),
            "b_e5m2": int(self.fb[i]),
            "a": pack(self.a[i]),
            "b": pack(self.b[i]),
            "sa": int(self.sa[i]),
            "sb": int(self.sb[i]),
            "c": int(self.c[i]),
        }

    def describe(self, i: int) -> str:
        """Case i's inputs, as a line of a report."""
        f = FORMATS
        return (
            f"{f[self.fa[i]]} a=0x{pack(self.a[i]):08X} x {f[self.fb[i]]} "
            f"b=0x{pack(self.b[i]):08X} sa=0x{int(self.sa[i]):02X} "
            f"sb=0x{int(self.sb[i]):02X} c=0x{int(self.c[i]):08X}"
        )


def pack(codes) -> int:
    """4 lane codes -> the 32-bit port value, lane k in bits [8k+7:8k] (a.hex's
    layout)."""
    return sum(int(x) << (8 * k) for k, x in enumerate(codes))


def word(w: int) -> str:
    """An fp32 word as ``0xHHHHHHHH (decimal)``."""
    v = np.array([w], np.uint32).view(np.float32)[0]
    return f"0x{int(w):08X} ({float(v):.9g})"


# ---------------------------------------------------------------- golden model
def golden(cs: CaseSet) -> np.ndarray:
    """Every case's expected d (uint32 fp32 words) from emu.gemm under
    :func:`unit_config`.  g cases of the same formats run as one (g x 4) x (4 x g)
    GEMM with C on the diagonal (case i: row i of A, column i of B, scales sa[i],
    sb[i]); the diagonal is kept."""
    out = np.empty(len(cs), np.uint32)
    for fa in (0, 1):
        for fb in (0, 1):
            idx = np.flatnonzero((cs.fa == fa) & (cs.fb == fb))
            cfg = unit_config(FORMATS[fa], FORMATS[fb], cs.acc16)
            for s in range(0, len(idx), 64):
                sel = idx[s : s + 64]
                g = len(sel)
                c = np.zeros((g, g), np.float32)
                c[np.arange(g), np.arange(g)] = cs.c[sel].view(np.float32)
                with np.errstate(over="ignore"):
                    d = emu.gemm(
                        cs.a[sel],  # (g, 4): the rows of A
                        cs.b[sel].T,  # (4, g): the columns of B
                        c=c,
                        sa=cs.sa[sel].reshape(g, 1),  # one scale per row and block
                        sb=cs.sb[sel].reshape(1, g),
                        config=cfg,
                    )
                out[sel] = np.diagonal(d).view(np.uint32)
    return out


# ---------------------------------------------------------------- random cases
_ALL = np.arange(256, dtype=np.uint8)


def _code_classes(f: str):
    """(finite, subnormal, zero, special) codes of an FP8 format."""
    ebits, mbits = (4, 3) if f == "e4m3" else (5, 2)
    E = (_ALL >> mbits) & ((1 << ebits) - 1)
    frac = _ALL & ((1 << mbits) - 1)
    if f == "e4m3":
        special = (E == 15) & (frac == 7)
    else:
        special = E == 31
    return (
        _ALL[~special],
        _ALL[(E == 0) & (frac != 0)],
        np.array([0x00, 0x80], np.uint8),
        _ALL[special],
    )


def random_cases(n: int, seed: int = 1, acc16: bool = False, name="random", pairs=None) -> CaseSet:
    """n random cases over the format pairs (default all four: (a, b) of
    ("e4m3", "e5m2")).

    Lanes: 70% uniformly random finite codes, 15% subnormals, 15% zeros, either
    sign.  Scales, by case: 75% moderate (each 2^-20..2^20; fp16 results:
    2^-6..2^6), 10% placing the products near the result format's smallest normal
    (subnormal results, underflow to zero), 5% near its largest finite value
    (overflow), 5% extreme codes (0x00..0x0F, 0xF0..0xFE), 5% cancelling lanes
    (a pair of products of opposite signs, C = +-0 or the negated rest: exact
    zeros).  C: 20% a zero, 60% a random value near the products' magnitude, 20% a
    random finite fp32 pattern (subnormals included; fp16 results: exponents near
    fp16's range).  10% of the cases get
    specials: NaN / Inf codes (with a zero in the other operand: Inf x 0), a NaN
    scale (0xFF), or a NaN / Inf C."""
    rng = np.random.default_rng(seed)
    pairs = [(FORMATS.index(x), FORMATS.index(y)) for x, y in pairs or PAIRS]
    fa, fb = np.array(pairs, np.uint8)[rng.integers(0, len(pairs), n)].T
    classes = {f: _code_classes(f) for f in FORMATS}
    emin, emax, spread = (-14, 15, 6) if acc16 else (-126, 127, 20)

    def lanes(fmts):
        out = np.empty((n, LANES), np.uint8)
        for i in range(n):
            fin, sub, zero, _ = classes[FORMATS[fmts[i]]]
            for k in range(LANES):
                r = rng.random()
                pool = fin if r < 0.70 else sub if r < 0.85 else zero
                out[i, k] = rng.choice(pool) ^ (0x80 * int(rng.integers(0, 2)))
        return out

    a, b = lanes(fa), lanes(fb)
    sa = np.empty(n, np.uint8)
    sb = np.empty(n, np.uint8)
    c = np.zeros(n, np.uint32)
    mode = rng.choice(5, n, p=[0.75, 0.10, 0.05, 0.05, 0.05])
    for i in range(n):
        if mode[i] == 1:  # products near the smallest normal of the result
            t = emin - int(rng.integers(-4, 30 if not acc16 else 12))
        elif mode[i] == 2:  # near the largest finite value
            t = emax - int(rng.integers(-2, 8))
        else:
            t = None
        if t is not None:
            ha = t // 2
            sa[i], sb[i] = 127 + ha, 127 + t - ha
        elif mode[i] == 3:
            sa[i], sb[i] = rng.choice(np.r_[0:16, 240:255], 2)
        else:
            sa[i], sb[i] = 127 + rng.integers(-spread, spread + 1, 2)
        if mode[i] == 4:  # lane 1 = -lane 0: that pair cancels exactly
            a[i, 1], b[i, 1] = a[i, 0] ^ 0x80, b[i, 0]
            if rng.random() < 0.5:
                a[i, 2:] = 0x80 * rng.integers(0, 2, 2)  # every product zero
        r = rng.random()
        if r < 0.2 or mode[i] == 4:
            c[i] = 0x80000000 * int(rng.integers(0, 2))
        elif r < 0.8:
            e = int(sa[i]) + int(sb[i]) - 254 + int(rng.integers(-12, 13))
            v = rng.standard_normal() * 2.0 ** float(np.clip(e, -150, 126))
            c[i] = int(np.array([v], np.float32).view(np.uint32)[0])
        else:
            lo, hi = (127 + emin - 12, 127 + emax + 2) if acc16 else (0, 255)
            c[i] = int(rng.integers(0, 2**32)) & ~0x7F800000 | int(rng.integers(lo, hi)) << 23
    for i in np.flatnonzero(rng.random(n) < 0.10):  # specials
        r = rng.random()
        if r < 0.5:
            arr, fmts = (a, fa) if rng.random() < 0.5 else (b, fb)
            spec = classes[FORMATS[fmts[i]]][3]
            arr[i, rng.integers(0, LANES)] = rng.choice(spec)
            if rng.random() < 0.3:  # and a zero in the other operand: Inf x 0
                other = b if arr is a else a
                other[i, rng.integers(0, LANES)] = 0
        elif r < 0.7:
            if rng.random() < 0.5:
                sa[i] = 0xFF
            else:
                sb[i] = 0xFF
        else:
            c[i] = int(rng.choice([0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001]))
    labels = [f"{name}[{i}]" for i in range(n)]
    return CaseSet(name, a, b, fa, fb, sa, sb, c, labels, acc16=acc16)


# ---------------------------------------------------------------- fp8emu vectors
def vector_cases(vec_dir: str, acc16: bool = False) -> CaseSet:
    """The cases of a directory written by ``fp8emu vectors`` (config.toml, the
    text files a/b/c/d/sa/sb.txt, manifest.json), read with fp8emu's reader of the
    ``validate`` text format.  The directory's config must be one the unit
    implements (:func:`unit_config` of its formats)."""
    cfg = emu.MacConfig.from_toml(os.path.join(vec_dir, "config.toml"))
    want = unit_config(cfg.a_format, cfg.b_format, acc16)
    if cfg != want:
        diff = {
            k: (v, want.to_dict()[k]) for k, v in cfg.to_dict().items() if v != want.to_dict()[k]
        }
        raise ValueError(f"{vec_dir}: config is not the unit's (field: (vectors, unit)): {diff}")
    p = lambda f: os.path.join(vec_dir, f)  # noqa: E731
    cases: Cases = read_text(
        p("a.txt"),
        p("b.txt"),
        p("d.txt"),
        p("c.txt"),
        p("sa.txt"),
        p("sb.txt"),
        a_format=cfg.a_format,
        b_format=cfg.b_format,
        scale_block=cfg.scale_block,
    )
    n = len(cases)
    with open(p("manifest.json")) as fh:
        names = json.load(fh)["case_names"]
    if len(names) != n or any(len(r) != LANES for r in cases.a):
        raise ValueError(f"{vec_dir}: expected K = {LANES} and {len(names)} cases")
    name = os.path.basename(os.path.normpath(vec_dir))
    cs = CaseSet(
        name,
        np.stack(cases.a),
        np.stack(cases.b),
        np.full(n, FORMATS.index(cfg.a_format), np.uint8),
        np.full(n, FORMATS.index(cfg.b_format), np.uint8),
        np.array([s[0] for s in cases.sa], np.uint8),
        np.array([s[0] for s in cases.sb], np.uint8),
        cases.c.view(np.uint32).copy(),
        [f"{name} {w} {nm}" for w, nm in zip(cases.where, names)],
        cases.d.view(np.uint32).copy(),
        acc16,
        source=vec_dir,
    )
    # The $readmemh files hold the same cases, packed as the unit's ports; they keep
    # every code as it is (a NaN's sign too, which the .txt widening to fp32 does
    # not), so the unit is driven with them once they agree with the .txt files.
    for arr, fname, f in ((cs.a, "a.hex", cfg.a_format), (cs.b, "b.hex", cfg.b_format)):
        hexed = _hex_codes(p(fname), n)
        nan = np.isnan(decode(f, hexed)) & np.isnan(decode(f, arr))
        if not np.array_equal(np.where(nan, 0, hexed), np.where(nan, 0, arr)):
            i = int(np.flatnonzero(np.where(nan, 0, hexed) != np.where(nan, 0, arr))[0] // LANES)
            raise ValueError(f"{vec_dir}: {fname} line {i + 1} differs from the .txt file")
        arr[:] = hexed
    # c.hex holds C in the accumulator's own words (fp16: 4 hex digits, its code);
    # the unit's c port takes the value widened to fp32, as c.txt holds it
    with open(p("c.hex")) as fh:
        c_hex = np.array([int(x, 16) for x in fh.read().split()], np.uint32)
    if widen_words(c_hex, cfg.acc_format).view(np.uint32).tolist() != cs.c.tolist():
        raise ValueError(f"{vec_dir}: c.hex differs from c.txt")
    return cs


def _hex_codes(path: str, n: int) -> np.ndarray:
    """(n, 4) lane codes of a $readmemh file of fp8emu vectors (lane k in bits
    [8k+7:8k] of each line)."""
    with open(path) as fh:
        words = [int(x, 16) for x in fh.read().split()]
    if len(words) != n:
        raise ValueError(f"{path}: {len(words)} lines, expected {n}")
    return np.array([[(w >> (8 * k)) & 0xFF for k in range(LANES)] for w in words], np.uint8)


# ---------------------------------------------------------------- validate files
def write_validate_dir(cs: CaseSet, got: list, out_dir: str) -> list[str]:
    """Write the cases and the unit's results (``got``: one string of 32 binary
    digits per case, as the simulator gave them) in the text format of
    ``fp8emu validate``, one directory per format pair (out_dir/<pair>/ with
    config.toml, a/b/c/sa/sb.txt and d_rtl.txt).  Returns the directories."""
    dirs = []
    for fa in (0, 1):
        for fb in (0, 1):
            idx = np.flatnonzero((cs.fa == fa) & (cs.fb == fb))
            if not idx.size:
                continue
            cfg = unit_config(FORMATS[fa], FORMATS[fb], cs.acc16)
            d = os.path.join(out_dir, f"{FORMATS[fa]}_{FORMATS[fb]}")
            os.makedirs(d, exist_ok=True)
            cases = Cases(
                list(cs.a[idx]),
                list(cs.b[idx]),
                cs.c[idx].view(np.float32),
                None,
                [cs.sa[i : i + 1] for i in idx],
                [cs.sb[i : i + 1] for i in idx],
            )
            files = write_text(cases, cfg.a_format, cfg.b_format)
            files["d_rtl.txt"] = "".join(got[i] + "\n" for i in idx)
            files["config.toml"] = cfg.to_toml()
            for fname, text in files.items():
                with open(os.path.join(d, fname), "w") as fh:
                    fh.write(text)
            dirs.append(d)
    return dirs
