"""Checking and normalising gemm operands (shared by the reference and the kernels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emu.errors import UsageError
from emu.numerics.config import MacConfig, preset
from emu.numerics.formats import as_codes


@dataclass
class Operands:
    a: np.ndarray  # (M, K) uint8 codes of config.a_format
    b: np.ndarray  # (K, N) uint8 codes of config.b_format
    c: np.ndarray  # (M, N) float32
    sa: np.ndarray  # (M, nkb) uint8 codes of config.scale_format (1.0 when not given)
    sb: np.ndarray  # (nkb, N) uint8 codes, expanded from 128x128 tiles
    config: MacConfig

    @property
    def shape(self):
        return self.a.shape[0], self.b.shape[1], self.a.shape[1]


def n_blocks(K: int, block: int) -> int:
    return -(-K // block) if block else 0


# The dtype that holds each scale format's codes besides uint8, and the code of 1.0.
SCALE_DTYPES = {"ue8m0": "float8_e8m0fnu", "ue4m3": "float8_e4m3fn"}
ONE = {"ue8m0": 127, "ue4m3": 0x38}


def _scale_codes(s, what, fmt="ue8m0"):
    s = np.asarray(s)
    if s.dtype.name == SCALE_DTYPES[fmt] and s.dtype.itemsize == 1:
        s = s.view(np.uint8)
    if s.dtype != np.uint8:
        raise UsageError(
            f"{what}: expected uint8 {fmt.upper()} codes or {SCALE_DTYPES[fmt]}, "
            f"got dtype {s.dtype}"
        )
    if s.ndim != 2:
        raise UsageError(f"{what}: expected a 2-D array, got shape {s.shape}")
    return np.ascontiguousarray(s)


def check(a, b, c=None, sa=None, sb=None, config=None) -> Operands:
    """Validate shapes and dtypes (UsageError naming the argument) and normalise.

    Missing scales (with scale_block > 0) mean 1.0 everywhere (UE8M0 code 127,
    UE4M3 code 0x38)."""
    if config is None:
        config = preset("default")
    if not isinstance(config, MacConfig):
        raise UsageError(f"config: expected an emu.MacConfig, got {type(config).__name__}")
    for name, x, dims in (("a", a, "(M, K)"), ("b", b, "(K, N)")):
        shape = np.shape(x)  # before as_codes, which makes 0-d arrays 1-d
        if len(shape) != 2:
            raise UsageError(f"{name}: expected a 2-D {dims} array, got shape {shape}")
    a = as_codes(a, config.a_format, "a")
    b = as_codes(b, config.b_format, "b")
    M, K = a.shape
    if b.shape[0] != K:
        raise UsageError(f"b: shape {b.shape} does not fit a {a.shape}: expected ({K}, N)")
    N = b.shape[1]
    if c is None:
        c = np.zeros((M, N), dtype=np.float32)
    else:
        c = np.asarray(c)
        if c.dtype != np.float32:
            raise UsageError(f"c: expected float32, got dtype {c.dtype}")
        if c.shape != (M, N):
            raise UsageError(f"c: expected shape {(M, N)}, got {c.shape}")
        c = np.ascontiguousarray(c)
    bs = config.scale_block
    nkb = n_blocks(K, bs)
    if not bs:
        if sa is not None or sb is not None:
            raise UsageError("sa/sb: scales given but the config has scale_block = 0")
        sa = np.full((M, 0), 127, np.uint8)
        sb = np.full((0, N), 127, np.uint8)
    else:
        sf = config.scale_format
        one = ONE[sf]
        sa = np.full((M, nkb), one, np.uint8) if sa is None else _scale_codes(sa, "sa", sf)
        if sa.shape != (M, nkb):
            raise UsageError(f"sa: expected shape {(M, nkb)} (M x ceil(K/{bs})), got {sa.shape}")
        if config.scale_b_tile:
            nt = n_blocks(N, 128)
            sb = np.full((nkb, nt), one, np.uint8) if sb is None else _scale_codes(sb, "sb", sf)
            if sb.shape != (nkb, nt):
                raise UsageError(
                    f"sb: expected shape {(nkb, nt)} (ceil(K/128) x "
                    f"ceil(N/128) tiles), got {sb.shape}"
                )
            sb = np.ascontiguousarray(np.repeat(sb, 128, axis=1)[:, :N])
        else:
            sb = np.full((nkb, N), one, np.uint8) if sb is None else _scale_codes(sb, "sb", sf)
            if sb.shape != (nkb, N):
                raise UsageError(
                    f"sb: expected shape {(nkb, N)} (ceil(K/{bs}) x N), got {sb.shape}"
                )
    return Operands(a, b, c, sa, sb, config)


def batched(gemm2d=None, *, parallel=None):
    """Extend a 2-D gemm to stacked operands: ``a`` (..., M, K), ``b`` (..., K, N),
    and ``c`` (..., M, N), ``sa`` (..., M, nkb), ``sb`` (..., nkb, N|tiles) stacked
    the same way (any of them may be 2-D, shared by every matrix of the stack; the
    leading dimensions broadcast as numpy's).  Returns (..., M, N), each matrix
    bit-identical to a call on it alone (every element depends only on its own row
    of A, column of B, C, and scales).  When B and its scales are shared, the stack
    is one call on the rows of all the A's (as fast per MAC as one large GEMM);
    otherwise one call per matrix, through ``parallel(calls, macs)`` when given (it
    runs the list of argument-less calls, each of ``macs`` multiply-adds, and returns
    their results in order; emu.gemm runs small ones on threads).  Use as
    ``@batched`` or ``@batched(parallel=...)``."""
    if gemm2d is None:
        return lambda f: batched(f, parallel=parallel)

    def gemm(a, b, *, c=None, sa=None, sb=None, config=None):
        if np.ndim(a) == 2 and np.ndim(b) == 2:
            return gemm2d(a, b, c=c, sa=sa, sb=sb, config=config)
        args = {"a": a, "b": b, "c": c, "sa": sa, "sb": sb}
        arrs = {k: np.asarray(v) for k, v in args.items() if v is not None}
        for k, x in arrs.items():
            if x.ndim < 2:
                raise UsageError(f"{k}: expected a 2-D or stacked array, got shape {x.shape}")
        try:
            batch = np.broadcast_shapes(*(x.shape[:-2] for x in arrs.values()))
        except ValueError:
            shapes = ", ".join(f"{k} {x.shape}" for k, x in arrs.items())
            raise UsageError(f"stacked operands do not broadcast: {shapes}") from None
        stacked = {k: x.ndim > 2 for k, x in arrs.items()}
        if not stacked["b"] and not stacked.get("sb", False):
            # B shared: the rows of every A (and of C, sa) form one GEMM
            def rows(k):
                x = arrs.get(k)
                if x is None:
                    return None
                x = np.broadcast_to(x, (*batch, *x.shape[-2:]))
                return x.reshape(-1, x.shape[-1])

            d = gemm2d(rows("a"), arrs["b"], c=rows("c"), sa=rows("sa"), sb=arrs.get("sb"),
                       config=config)  # fmt: skip
            return d.reshape(*batch, -1, d.shape[-1])
        out = None
        idxs = list(np.ndindex(*batch))

        def call(idx):
            item = {}
            for k, x in arrs.items():
                item[k] = np.broadcast_to(x, (*batch, *x.shape[-2:]))[idx] if x.ndim > 2 else x
            return lambda: gemm2d(item.pop("a"), item.pop("b"), config=config, **item)

        calls = [call(idx) for idx in idxs]
        macs = arrs["a"].shape[-2] * arrs["a"].shape[-1] * arrs["b"].shape[-1]
        results = parallel(calls, macs) if parallel else [f() for f in calls]
        for idx, d in zip(idxs, results, strict=True):
            if out is None:
                out = np.empty((*batch, *d.shape), d.dtype)
            out[idx] = d
        if out is None:  # an empty stack
            out = np.zeros((*batch, arrs["a"].shape[-2], arrs["b"].shape[-1]), np.float32)
        return out

    gemm.__doc__ = gemm2d.__doc__
    gemm.__name__, gemm.__qualname__ = gemm2d.__name__, gemm2d.__qualname__
    gemm.__module__ = gemm2d.__module__
    return gemm
