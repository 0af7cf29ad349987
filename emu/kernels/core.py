"""Scalar numba building blocks shared by every kernel: JIT settings, exact rounding
of integers and float64 pairs, TwoSum, and a Kulisch (long fixed-point) accumulator.

Rounding modes are coded RZ=0, RNE=1, RU=2, RD=3 (defined in emu.kernels.record).
Formats are passed as (ebits, mbits) integers: IEEE-style, Inf/NaN at the all-ones
exponent, and must fit in fp32 (MacConfig validates that), so every result is a
float64 exactly.
"""

from __future__ import annotations

import glob
import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from emu.kernels.record import MODE_CODES, RD, RNA, RNE, RU, RZ  # noqa: F401  (re-exported)


def purge_stale_caches() -> bool:
    """Delete numba's cached machine code of the kernels when any kernel source has
    changed since it was cached.  numba checks only the timestamp of the file that
    holds each function, so code compiled from general.py keeps an old inlined copy
    of a changed core.py function; the stamp (a hash of every file whose jitted
    functions call each other) catches that.  Only numba's default cache location
    (the ``__pycache__`` folders) is purged; with NUMBA_CACHE_DIR set, clear it
    yourself after editing kernels.  Returns True when something was deleted."""
    here = os.path.dirname(os.path.abspath(__file__))
    sources = sorted(glob.glob(os.path.join(here, "*.py")))
    sources.append(os.path.join(os.path.dirname(here), "toolkit", "fit.py"))
    h = hashlib.sha256()
    for path in sources:
        try:
            with open(path, "rb") as fh:
                h.update(fh.read())
        except OSError:
            pass
    digest = h.hexdigest()
    stamp = os.path.join(here, "__pycache__", "numba-sources.sha256")
    try:
        with open(stamp) as fh:
            if fh.read().strip() == digest:
                return False
    except OSError:
        pass
    purged = False
    for folder in {os.path.join(os.path.dirname(p), "__pycache__") for p in sources}:
        for f in glob.glob(os.path.join(folder, "*.nb[ic]")):
            try:
                os.remove(f)
                purged = True
            except OSError:
                pass
    try:
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        with open(stamp, "w") as fh:
            fh.write(digest + "\n")
    except OSError:  # a read-only install: nothing cached there either
        pass
    return purged


purge_stale_caches()

# A flag added to a rounding mode: every overflow gives +-Inf (overflow = "inf").
OVF_INF = 8

# All JIT settings live here: cached, no fastmath (bit accuracy), no Python objects,
# the GIL released so that row ranges run on Python threads (see rows_in_parallel).
jit = numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")


# Kulisch accumulator: value = sum(limb[t] * 2**(32*t + KBASE)).  Covers every term a
# step can produce: lsb >= -286 (e5m2 subnormal products with two 2**-127 scales),
# magnitude < 2**287 per term, times up to 2**30 terms.
KBASE = -320
KLIMBS = 22
MASK32 = 0xFFFFFFFF


@jit
def bitlen(n):
    """Number of bits of a non-negative int64 (0 for 0)."""
    if n <= 0:
        return 0
    e = math.frexp(float(n))[1]
    if (n >> (e - 1)) == 0:  # float(n) rounded up to a power of two
        e -= 1
    return e


@jit
def float_bounds(ebits, mbits):
    """(2**emin, max finite) of the format (ebits, mbits) as float64 bit patterns
    (int64): the limits the vectorised roundings compare magnitudes with."""
    lo = np.int64(1023 + 2 - (1 << (ebits - 1))) << 52
    hi = (np.int64(1023 + (1 << (ebits - 1)) - 1) << 52) | (
        ((np.int64(1) << mbits) - 1) << (52 - mbits)
    )
    return lo, hi


@jit
def shift_round(a, sh, neg, mode):
    """The magnitude a >= 0 of a value of sign ``neg`` divided by 2**sh (0 < sh <= 62)
    and rounded to an integer by mode: RZ truncates; RNE nearest, ties to even; RNA
    nearest, ties away from zero; RU / RD toward +Inf / -Inf (on the signed value).
    The rounding step of every integer rounding here."""
    q = a >> sh
    rem = a & ((np.int64(1) << sh) - 1)
    half = np.int64(1) << (sh - 1)
    if mode == RNE:
        if rem > half or (rem == half and (q & 1) == 1):
            q += 1
    elif mode == RNA:
        if rem >= half:
            q += 1
    elif mode == RU:
        if rem != 0 and not neg:
            q += 1
    elif mode == RD:
        if rem != 0 and neg:
            q += 1
    return q


@jit
def round_int(n, e, neg, ebits, mbits, mode, subnormals):
    """(-1)**neg * n * 2**e (0 < n < 2**62) rounded once into (ebits, mbits); float64.

    Tie rule: RNE ties to even, RNA ties away from zero; RZ/RU/RD directed.  Overflow
    (|r| > max finite): Inf for RNE, RNA and RU (+) / RD (-), max finite otherwise
    (IEEE 754); ``mode + OVF_INF`` (overflow = "inf"): Inf whatever the mode.  A value
    that rounds to zero keeps its sign.  subnormals=False flushes results whose
    rounded magnitude is below 2**emin to a zero of the same sign.  Matches
    emu.numerics.formats.round_exact (tested) and IEEE 754 for binary32 (fp32 = (8, 23)).
    """
    ovf_inf = mode >= OVF_INF
    mode = mode & (OVF_INF - 1)
    emin = 2 - (1 << (ebits - 1))
    top = bitlen(n) - 1 + e
    lsb = max(top, emin) - mbits
    drop = lsb - e
    if drop <= 0:
        m = n << (-drop)
    elif drop > 62:
        m = 0
        if mode == RU and not neg or mode == RD and neg:
            m = 1
    else:
        m = shift_round(n, drop, neg, mode)
    emax = (1 << (ebits - 1)) - 1
    lsb_max = emax - mbits
    max_sig = (np.int64(2) << mbits) - 1
    if lsb > lsb_max or (lsb == lsb_max and m > max_sig):
        if (
            ovf_inf
            or mode == RNE
            or mode == RNA
            or (mode == RU and not neg)
            or (mode == RD and neg)
        ):
            v = np.inf
        else:
            v = math.ldexp(float(max_sig), lsb_max)
    else:
        if not subnormals and m < (np.int64(1) << mbits) and lsb == emin - mbits:
            m = 0
        v = math.ldexp(float(m), lsb)
    return -v if neg else v


@jit
def round_f64(x, tail, ebits, mbits, mode, subnormals):
    """Round the exact value x + tail into (ebits, mbits), where x is a non-zero finite
    float64 and |tail| < ulp(x)/2 carries only its sign (as from TwoSum)."""
    neg = x < 0
    fr, ex = math.frexp(abs(x))  # |x| = fr * 2**ex, fr in [0.5, 1)
    n = np.int64(math.ldexp(fr, 53)) * 4  # 55-bit integer, two guard bits
    if tail != 0:
        n += 1 if (tail < 0) == neg else -1
    return round_int(n, ex - 55, neg, ebits, mbits, mode, subnormals)


@jit
def two_sum(a, b):
    """s = fl(a + b) and the exact error e (a + b == s + e), Knuth's TwoSum."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


@jit
def add_exact_round(x, y, ebits, mbits, mode, subnormals):
    """round(x + y) for finite float64 x, y whose exact sum is not zero."""
    s, err = two_sum(x, y)
    return round_f64(s, err, ebits, mbits, mode, subnormals)


@jit
def kulisch_add(limbs, v, e, neg):
    """limbs += (-1)**neg * v * 2**e, for 0 <= v < 2**62 and e >= KBASE."""
    off = e - KBASE
    t = off >> 5
    sh = off & 31
    lo = (v & MASK32) << sh
    hi = (v >> 32) << sh
    if neg:
        limbs[t] -= lo & MASK32
        limbs[t + 1] -= (lo >> 32) + (hi & MASK32)
        limbs[t + 2] -= hi >> 32
    else:
        limbs[t] += lo & MASK32
        limbs[t + 1] += (lo >> 32) + (hi & MASK32)
        limbs[t + 2] += hi >> 32


@jit
def kulisch_round(limbs, ebits, mbits, mode, subnormals):
    """Round the accumulator's exact value into (ebits, mbits).  Returns (zero, value):
    zero is True when the exact value is 0 (value is then meaningless).  Clears limbs."""
    n = limbs.shape[0]
    for t in range(n - 1):  # carry-propagate: limbs in [0, 2**32)
        carry = limbs[t] >> 32
        limbs[t] -= carry << 32
        limbs[t + 1] += carry
    neg = limbs[n - 1] < 0
    if neg:  # magnitude of a negative value
        for t in range(n):
            limbs[t] = -limbs[t]
        for t in range(n - 1):
            carry = limbs[t] >> 32
            limbs[t] -= carry << 32
            limbs[t + 1] += carry
    h = n - 1
    while h >= 0 and limbs[h] == 0:
        h -= 1
    if h < 0:
        return True, 0.0
    if h == 0:
        v = round_int(limbs[0], KBASE, neg, ebits, mbits, mode, subnormals)
    else:
        # the top 61 bits (whatever the top limb holds), then a sticky bit: enough
        # for every format round_int takes (mbits <= 52, norm_bits included)
        need = 61 - bitlen(limbs[h])  # bits taken from below the top limb: 29..60
        sticky = False
        if need <= 32:
            top = (limbs[h] << need) | (limbs[h - 1] >> (32 - need))
            sticky = (limbs[h - 1] & ((np.int64(1) << (32 - need)) - 1)) != 0
            lowest = h - 1
        elif h == 1:  # two limbs hold fewer than 61 bits: exact
            top = (limbs[1] << 32) | limbs[0]
            need = 32
            lowest = 0
        else:
            top = (limbs[h] << need) | (limbs[h - 1] << (need - 32)) | (limbs[h - 2] >> (64 - need))
            sticky = (limbs[h - 2] & ((np.int64(1) << (64 - need)) - 1)) != 0
            lowest = h - 2
        for t in range(lowest):
            if limbs[t] != 0:
                sticky = True
        e = 32 * h + KBASE - need
        if sticky:  # a set bit below all kept bits
            top = top * 2 + 1
            e -= 1
        v = round_int(top, e, neg, ebits, mbits, mode, subnormals)
    limbs[:] = 0
    return False, v


# ---------------------------------------------------------------- threads
SERIAL_WORK = 1 << 21  # below this many MACs one thread is faster
_POOL = {}


def n_threads() -> int:
    """Threads to use: NUMBA_NUM_THREADS if set, else the machine's cores."""
    env = os.environ.get("NUMBA_NUM_THREADS")
    return max(1, int(env)) if env and env.isdigit() else max(1, os.cpu_count() or 1)


def rows_in_parallel(kernel, M: int, work: int, *args, block: int = 1) -> None:
    """kernel(r0, r1, *args) over row ranges covering [0, M).  Each output element is
    computed by one call from its own inputs only, so the split (a fixed partition
    into chunks of ``block`` rows) and the thread count never change any bit."""
    n = n_threads()
    if n == 1 or work < SERIAL_WORK or M <= block:
        kernel(0, M, *args)
        return
    if n not in _POOL:
        _POOL[n] = ThreadPoolExecutor(n, thread_name_prefix="fp8emu")
    chunk = max(block, -(-M // (4 * n) // block) * block)
    bounds = [(r0, min(r0 + chunk, M)) for r0 in range(0, M, chunk)]
    for f in [_POOL[n].submit(kernel, r0, r1, *args) for r0, r1 in bounds]:
        f.result()


_BATCH_POOL = {}


def run_calls(calls) -> list:
    """Run argument-less calls on n_threads() threads (a pool of its own: the calls
    may use rows_in_parallel's), in contiguous shares; results in order."""
    n = n_threads()
    if n not in _BATCH_POOL:
        _BATCH_POOL[n] = ThreadPoolExecutor(n, thread_name_prefix="fp8emu-batch")
    share = -(-len(calls) // n)
    parts = [calls[i : i + share] for i in range(0, len(calls), share)]
    futures = [_BATCH_POOL[n].submit(lambda p=p: [f() for f in p]) for p in parts]
    return [r for fut in futures for r in fut.result()]
