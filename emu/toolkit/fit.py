"""``fit``: tell a chip's numerics from its outputs.

Given test cases (one dot product each: a row of A, a column of B, C, the UE8M0
scale codes) and the results D a chip (or an RTL simulation) returned for them,
search the configuration space of :class:`emu.MacConfig` for every configuration
that gives D bit for bit, and report them grouped into classes.

**The candidate space** is enumerated from the FIELDS table
(:mod:`emu.numerics.fields`): one rule per field in :data:`SEARCH` says which
values are searched, given the data (the operand formats come from ``--format``;
``fused`` runs over the divisors of K and ``"k"``; ``align_bits`` over 0 ...
``max_align`` and ``"exact"``; ``acc_format`` over :data:`ACC_FORMATS`; the scale
and promotion fields only when the cases carry scales, or with ``promotion``).  A
field without a rule (a field added to FIELDS later) is held at its default until
it gets one; ``space`` overrides (``--space FIELD=VALUES``) restrict or widen any
field.  Combinations that MacConfig refuses (config.RULES) are left out.

**Keys and variants.**  A candidate is a *key* (every field but ``promote_format``
and ``promote_round``) and, when the key promotes (``promote_every > 0``), one of
the promotion *variants* (format x rounding): the inner fused steps of a case are
computed once per key and each variant only adds its folds, so the promotion
fields cost almost nothing.

**Evaluation.**  Every case of every candidate is computed by the general kernel's
own per-element code (``emu.kernels.general.fused_step`` and ``promote``, the code
that serves every element emu.gemm's fast kernels do not take; the tests prove it
equal to the reference), called from one numba loop over (candidate, case): O(K)
work per case and candidate, no per-call overhead, no N x N diagonal.  A candidate
stops at its first mismatch (more precisely: once it misses more than a limit), so
a wrong candidate costs one or two cases and only the survivors run through all of
them.  Cases are tried in the order that stopped most candidates so far (updated
after each slab of candidates).  Candidates run on a thread pool
(``emu.kernels.core.rows_in_parallel``); results never depend on the thread count
or the order.

Measured on the project's 2-core machine: 5,000 random 32-long e4m3 dot products
over 317,520 configurations in about 1 s (h100, b200, ada; 2 s for exact, 6 s for
fp32-seq, whose class holds 280 one-product-step members that all run every case);
the 441-case probe in 1-2 s; with scales (21 to 39 million candidates) 6-10 s.  The
alternative, emu.gemm on 64 cases per candidate (validate's diagonal batches), costs
375 us per candidate, about 2 minutes per pass over the space.

**Exact fit, then best fit.**  The first pass keeps the candidates that miss no
case: they all give D's bits, so they form one class (the configurations these
cases cannot tell apart); the fields with more than one value in it are the ones
the data does not determine.  When no candidate explains every case, the
candidates that went furthest before their first miss are counted in full; the
best of those bounds the best count, and a second pass with that limit finds every
candidate within it, counted exactly; their results on all cases are computed and
candidates with identical results form the classes, best first.  (When that pass
would cost more than PASS_BUDGET case evaluations -- the best misses very many
cases -- the classes come from the candidates that went furthest: a heuristic, and
the report says so.)

**The space is built with numpy** (:func:`_enumerate`): the legality rules are
evaluated once per combination of the fields they read, the parameter records once
per combination of each group of fields that move the same record fields, and the
assembled records are checked against Params.from_config on sample keys.

**Confirmation.**  The chosen member of every reported class is run once more
through emu.gemm itself (the dispatching kernels, in validate's batches) and must
miss exactly the same cases; a difference would be a bug in fp8emu (exit 3).

**The chosen configuration** of a class is its member nearest a preset (fewest
fields differing; ties: the member with fewer of the words ``fused = "k"``,
``align_bits = "exact"`` -- a finite width where the cases cannot tell --, then the
preset first in the table, then the first member),
with the fields the data cannot see (``promote_format`` / ``promote_round``
without promotion, ``scale_b_tile``, ``zero_exp`` when not searched) taken from that
preset.

**zero_exp** is searched ("drop" and the presets' d) only where the data can see it:
zero terms at emin(acc_format) + d above the lowest non-zero term of the cases
(e5m2 products with fp16; not with scales, whose space times 4 is too large: there
``--space zero_exp=...`` searches it).  Keys whose d lies at or below every term are
computed once as their "drop" twin (the same bits) and listed in the classes.
"""

from __future__ import annotations

import itertools
import math
import time
import types
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from emu.errors import UsageError
from emu.numerics.config import RULES, MacConfig, preset, presets
from emu.numerics.fields import BY_NAME, FIELD_NAMES, FIELDS, check_value, coerce
from emu.numerics.formats import ROUND_MODES, get_format
from emu.numerics.operands import n_blocks

# e8mY from fp32 down to bf16, and fp16: the accumulators a matrix unit plausibly has
ACC_FORMATS = ("fp32",) + tuple(f"e8m{y}" for y in range(22, 7, -1)) + ("bf16", "fp16")
PROMOTE_FORMATS = ("fp32", "e8m13", "bf16", "fp16")
MAX_ALIGN = 40  # align_bits searched 0 .. MAX_ALIGN and "exact"
VARIANT_FIELDS = ("promote_format", "promote_round")  # evaluated per key, cheaply
# fields that change how the cases' operands are decoded (prepare decodes once)
NOT_SEARCHABLE = {
    "group": "it changes how the operands are decoded",
    "scale_format": "it changes how the scales are decoded",
}
# fields no data of this kind can tell (held out: the chosen takes the nearest preset's)
UNOBSERVABLE = {"scale_b_tile": "per-tile and per-column B scales are the same per case"}
# zero_exp values searched (besides "drop") where the data can see them: the presets'
ZERO_EXPS = tuple(
    sorted({p.zero_exp for n in presets() if isinstance((p := preset(n)).zero_exp, int)},
           reverse=True)
)  # fmt: skip
FAR_KEYS = 64  # keys counted in full to bound the best count when nothing fits
PASS_BUDGET = 10_000_000  # (key, case) evaluations the exhaustive second pass may cost
MAX_CLASS_MEMBERS = 4096  # members of the best class listed (results computed)
MAX_OTHERS = 512  # candidates within the bound whose results are grouped into classes
SLAB = 8192  # candidates per scan call (progress, case reordering)
FUSED_K = 1 << 30  # the parameter record's fused for fused = "k", whatever K is
ANY = "*"  # a field a configuration does not use (promotion fields without promotion)


# ------------------------------------------------------------------ the space
@dataclass
class Context:
    """What the data say about the space: formats, the K of the cases, the scale
    layout (codes per case, None without scales) and options."""

    a_format: str
    b_format: str
    ks: tuple  # distinct K, sorted
    blocks: tuple | None  # distinct (K, codes per case) pairs, or None
    max_align: int = MAX_ALIGN
    promotion: bool = False
    zero_floor: int | None = None  # lowest exponent a non-zero term can have (None: no term)

    def zero_seen(self, acc, d) -> bool:
        """Can zero terms at emin(acc) + d ever set e_max in these cases?  Only when
        that lies above some non-zero term; else zero_exp d is "drop" here."""
        if d == "drop" or self.zero_floor is None:
            return False
        return get_format(acc).emin + d > self.zero_floor


def _divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0] if n > 0 else [1]


def _fused(ctx):
    vals = sorted({d for k in ctx.ks for d in _divisors(k)})
    return vals + ["k"]


def _scale_block(ctx):
    if ctx.blocks is None:
        return [0]
    kmax = max(ctx.ks)
    pool = {1 << i for i in range(31)} | {d for k in ctx.ks for d in _divisors(k)}
    ok = sorted(v for v in pool if all(n_blocks(k, v) == nb for k, nb in ctx.blocks))
    if not ok:
        return []
    single = [v for v in ok if v >= kmax]  # one block per case: all the same
    return [v for v in ok if v < kmax] + single[:1]


MIN_PROMOTE = 16  # promotion intervals searched: 0 and powers of two from 16 up to K


def _promote_every(ctx):
    if ctx.blocks is None and not ctx.promotion:
        return [0]
    top = 1 << max(1, max(ctx.ks) - 1).bit_length()  # smallest power of two >= K
    vals = {1 << i for i in range(top.bit_length()) if (1 << i) >= MIN_PROMOTE}
    if ctx.blocks is not None:
        vals |= {v for v in _scale_block(ctx) if v <= top}  # promotion-time scales
    return [0] + sorted(v for v in vals if v <= top)


def _zero_exp(ctx):
    """ "drop" and the presets' d that the data can see (some acc_format); none with
    scales: a scaled space times 4 is too large (--space zero_exp=... searches it)."""
    if ctx.blocks is not None:
        return ["drop"]
    return ["drop"] + [d for d in ZERO_EXPS if any(ctx.zero_seen(a, d) for a in ACC_FORMATS)]


# field -> the values searched, given the data.  A field of FIELDS without an entry
# is held at its default (a new field: one entry here, and a probe family).
SEARCH = {
    "a_format": lambda ctx: [ctx.a_format],
    "b_format": lambda ctx: [ctx.b_format],
    "fused": _fused,
    "align_bits": lambda ctx: list(range(ctx.max_align + 1)) + ["exact"],
    "align_round": lambda ctx: list(BY_NAME["align_round"].values),
    "acc_format": lambda ctx: list(ACC_FORMATS),
    "acc_round": lambda ctx: list(ROUND_MODES),
    "acc_subnormals": lambda ctx: [True, False],
    "c_in_alignment": lambda ctx: [True, False],
    "scale_block": _scale_block,
    "scale_apply": lambda ctx: (
        ["product"] if ctx.blocks is None else list(BY_NAME["scale_apply"].values)
    ),
    "scale_b_tile": lambda ctx: [0],
    "promote_every": _promote_every,
    "promote_format": lambda ctx: list(PROMOTE_FORMATS),
    "promote_round": lambda ctx: list(ROUND_MODES),
    "overflow": lambda ctx: list(BY_NAME["overflow"].values),
    "zero_sign": lambda ctx: list(BY_NAME["zero_sign"].values),
    "zero_exp": _zero_exp,
}


def parse_space(specs) -> dict:
    """``--space FIELD=V1,V2`` / ``FIELD=LO:HI[:STEP]`` strings -> {field: [values]}
    (each value coerced and checked as the field's)."""
    out = {}
    for spec in specs:
        name, sep, vals = (s.strip() for s in spec.partition("="))
        if not sep:
            raise UsageError(f"--space {spec!r}: expected field=v1,v2,... or field=lo:hi[:step]")
        name = name.lower()
        if name in NOT_SEARCHABLE:
            raise UsageError(
                f"--space {spec!r}: {name} cannot be searched yet ({NOT_SEARCHABLE[name]})"
            )
        if name not in BY_NAME:
            raise UsageError(
                f"--space {spec!r}: unknown field {name!r} (fields: {', '.join(FIELD_NAMES)})"
            )
        if ":" in vals and "," not in vals:
            try:
                parts = [int(p, 0) for p in vals.split(":")]
            except ValueError:
                raise UsageError(f"--space {spec!r}: a range takes integers lo:hi[:step]") from None
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                raise UsageError(f"--space {spec!r}: expected lo:hi or lo:hi:step (step > 0)")
            r = range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1)
            if len(r) > 4096:
                raise UsageError(f"--space {spec!r}: {len(r)} values, at most 4096")
            raw = [str(v) for v in r]
        else:
            raw = [v.strip() for v in vals.split(",") if v.strip()]
        if not raw:
            raise UsageError(f"--space {spec!r}: no values")
        values = []
        for v in raw:
            try:
                x = coerce(name, v)
                if isinstance(x, str):
                    x = x.strip().lower()
                check_value(BY_NAME[name], x)
            except UsageError as e:
                raise UsageError(f"--space {spec!r}: {e}") from None
            if BY_NAME[name].type == "format" and get_format(x).name != x:
                x = get_format(x).name  # e8m23 -> fp32: one spelling per format
            if x not in values:
                values.append(x)
        out[name] = values
    return out


def search_space(ctx: Context, overrides: dict | None = None) -> dict:
    """{field: [values searched]} for every field of FIELDS, in FIELDS order."""
    overrides = overrides or {}
    space = {}
    for f in FIELDS:
        if f.name in overrides:
            space[f.name] = list(overrides[f.name])
        elif f.name in SEARCH:
            space[f.name] = list(SEARCH[f.name](ctx))
        else:
            space[f.name] = [f.default]
        if not space[f.name]:
            raise UsageError(f"{f.name}: no value fits the data (the scale codes per case)")
    for fixed, what in (("a_format", ctx.a_format), ("b_format", ctx.b_format)):
        if space[fixed] != [what]:
            raise UsageError(f"--space {fixed}: the operand formats are set by --format")
    if ctx.blocks is None and any(v != 0 for v in space["scale_block"]):
        raise UsageError("--space scale_block: the cases carry no scales (no --sa/--sb)")
    if ctx.blocks is not None:
        bad = [v for v in space["scale_block"] if v not in _scale_block(ctx) and v != 0]
        if 0 in space["scale_block"] or bad:
            v = 0 if 0 in space["scale_block"] else bad[0]
            raise UsageError(
                f"--space scale_block={v}: the scale codes per case do not fit it "
                f"(ceil(K / scale_block) codes per case)"
            )
    return space


@dataclass
class Candidates:
    """The enumerated space: keys (records for the kernels) and their variants."""

    space: dict
    key_fields: tuple  # field names of a key, in FIELDS order
    index: np.ndarray  # (keys, key fields): the index of each key's value in space
    records: np.ndarray  # parameter records (emu.kernels.record.RECORD_DTYPE)
    variants: list  # (promote_format, promote_round) pairs
    var_records: np.ndarray
    promote: np.ndarray  # promote_every of each key
    nvar: np.ndarray  # variants of each key (1 without promotion)
    group: np.ndarray  # decode group of each key
    groups: list  # (scale_block, scale_apply) of each decode group

    def __len__(self):
        return int(self.nvar.sum())

    @property
    def n_keys(self) -> int:
        return len(self.index)

    def config(self, q: int, v: int) -> dict:
        """The field values of candidate (key q, variant v); unused fields are ANY."""
        d = {n: self.space[n][j] for n, j in zip(self.key_fields, self.index[q])}
        if self.promote[q]:
            d.update(zip(VARIANT_FIELDS, self.variants[v]))
        else:
            d.update(dict.fromkeys(VARIANT_FIELDS, ANY))
        return {f.name: d[f.name] for f in FIELDS}


def enumerate_space(space: dict) -> Candidates:
    """The candidates of a space (remembered: fits of the same space share them)."""
    return _enumerate(tuple((k, tuple(v)) for k, v in space.items()))


class _Reads:
    """A config-like namespace that records which fields are read (to find what the
    rules and the parameter record depend on)."""

    def __init__(self, values: dict):
        self.__dict__["_v"] = values
        self.__dict__["read"] = set()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self.read.add(name)
        return self._v[name]


def _ns(space, key_fields, idx, conv=True):
    """The namespace of one combination (value indices idx, in key_fields order),
    format fields as Format rows (get_format passes them through)."""
    d = {}
    for n, j in zip(key_fields, idx):
        v = space[n][j]
        d[n] = get_format(v) if conv and BY_NAME[n].type == "format" else v
    return d


def _closure(space, key_fields, fn) -> tuple:
    """The key fields fn(namespace) reads, over every combination of those fields
    (the others at their first values): fn depends on nothing else."""
    read: set = set()
    while True:
        names = [n for n in key_fields if n in read]
        new = set(read)
        for combo in itertools.product(*(range(len(space[n])) for n in names)):
            idx = [0] * len(key_fields)
            for n, j in zip(names, combo):
                idx[key_fields.index(n)] = j
            r = _Reads(_ns(space, key_fields, idx))
            fn(r)
            new |= r.read & set(key_fields)
        if new == read:
            return tuple(n for n in key_fields if n in read)
        read = new


@lru_cache(maxsize=4)
def _enumerate(frozen) -> Candidates:
    """Every legal key of the space, with its parameter record, built with numpy.

    Legality: config.RULES, evaluated once per combination of the fields they read
    (found by :func:`_closure`).  Records: Params.from_config, evaluated once per
    combination of each group of fields that the record's fields depend on together
    (found by varying one field at a time over sample keys), then assembled; the
    assembly is checked against from_config on sample keys, and a mismatch falls
    back to from_config for every key."""
    from emu.kernels.record import MODE_CODES, RECORD_DTYPE, Params

    space = {k: list(v) for k, v in frozen}
    key_fields = tuple(f.name for f in FIELDS if f.name not in VARIANT_FIELDS)
    variants = list(itertools.product(space["promote_format"], space["promote_round"]))
    sizes = [len(space[n]) for n in key_fields]
    extra = dict(promote_format=get_format(variants[0][0]), promote_round=variants[0][1])

    def legal(ns):
        return not any(rule(ns) for rule in RULES)

    def rec_of(idx):
        d = _ns(space, key_fields, idx)
        d.update(extra)
        return tuple(Params.from_config(types.SimpleNamespace(**d), FUSED_K))

    # legality over the product, from a table over the fields the rules read
    rule_fields = _closure(space, key_fields, lambda ns: legal(_with(ns, extra)))
    rpos = [key_fields.index(n) for n in rule_fields]
    grid = np.stack(
        np.meshgrid(*(np.arange(m, dtype=np.int16) for m in sizes), indexing="ij"), axis=-1
    ).reshape(-1, len(sizes))
    table = {}
    for combo in itertools.product(*(range(sizes[j]) for j in rpos)):
        idx = [0] * len(key_fields)
        for j, c in zip(rpos, combo):
            idx[j] = c
        d = _ns(space, key_fields, idx)
        d.update(extra)
        table[combo] = legal(types.SimpleNamespace(**d))
    if rpos:
        radix = np.cumprod([1] + [sizes[j] for j in rpos[:-1]])
        flat = np.zeros(len(grid), np.int64)
        for r, j in zip(radix, rpos):
            flat += grid[:, j].astype(np.int64) * int(r)
        ok = np.zeros(int(np.prod([sizes[j] for j in rpos])), bool)
        for combo, good in table.items():
            ok[sum(int(c) * int(r) for c, r in zip(combo, radix))] = good
        grid = grid[ok[flat]]
    elif not table.get((), True):
        grid = grid[:0]
    if not len(grid):
        raise UsageError("the search space is empty (no legal combination of the fields)")
    records = _records(space, key_fields, grid, rec_of, RECORD_DTYPE)
    template = Params.from_config(MacConfig(), 1)
    var_recs = [
        tuple(
            template._replace(
                promote_ebits=get_format(f).ebits,
                promote_mbits=get_format(f).mbits,
                promote_mode=MODE_CODES[r],
            )
        )
        for f, r in variants
    ]
    j_bs, j_ap, j_pe = (
        key_fields.index(n) for n in ("scale_block", "scale_apply", "promote_every")
    )
    prom = np.array(space["promote_every"], np.int64)[grid[:, j_pe]]
    groups, gidx = {}, np.zeros(len(grid), np.int64)
    for jb, bs in enumerate(space["scale_block"]):
        for ja, ap in enumerate(space["scale_apply"]):
            sel = (grid[:, j_bs] == jb) & (grid[:, j_ap] == ja)
            if sel.any():
                g = (bs, ap if bs else "product")
                gidx[sel] = groups.setdefault(g, len(groups))
    return Candidates(
        space=space,
        key_fields=key_fields,
        index=grid,
        records=records,
        variants=variants,
        var_records=np.array(var_recs, dtype=RECORD_DTYPE),
        promote=prom,
        nvar=np.where(prom > 0, len(variants), 1).astype(np.int64),
        group=gidx,
        groups=list(groups),
    )


def _with(ns, extra):
    """A _Reads namespace that also answers the variant fields (not key fields)."""
    ns._v.update({k: v for k, v in extra.items() if k not in ns._v})
    return ns


def _records(space, key_fields, grid, rec_of, dtype) -> np.ndarray:
    """The parameter record of every key (rows of grid), see :func:`_enumerate`."""
    from emu.kernels.record import RECORD_DTYPE

    rng = np.random.default_rng(7)
    n = len(grid)
    names = RECORD_DTYPE.names
    sample = grid[rng.choice(n, min(n, 24), replace=False)]
    # which record fields each key field moves (over sample keys, one field at a time)
    moves = {j: set() for j in range(len(key_fields))}
    for base in sample:
        r0 = rec_of(base)
        for j in range(len(key_fields)):
            for v in range(len(space[key_fields[j]])):
                if v == base[j]:
                    continue
                idx = base.copy()
                idx[j] = v
                try:
                    r1 = rec_of(idx)
                except (UsageError, KeyError, ValueError, TypeError):
                    continue
                moves[j] |= {k for k, (x, y) in enumerate(zip(r0, r1)) if x != y}
    # groups: key fields connected through the record fields they move together
    parent = list(range(len(key_fields)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner = {}
    for j, ks in moves.items():
        for k in ks:
            if k in owner:
                parent[find(j)] = find(owner[k])
            else:
                owner[k] = j
    comps = {}
    for j in range(len(key_fields)):
        comps.setdefault(find(j), []).append(j)
    base = grid[0].copy()
    r_base = rec_of(base)
    out = np.zeros(n, dtype=dtype)
    for k, name in enumerate(names):
        out[name] = r_base[k]
    for members in comps.values():
        fields_k = sorted({k for j in members for k in moves[j]})
        if not fields_k:
            continue
        code = np.zeros(n, np.int64)
        for j in members:  # mixed radix: one integer per combination of the group
            code = code * len(space[key_fields[j]]) + grid[:, j]
        ucode, first, inv = np.unique(code, return_index=True, return_inverse=True)
        uniq = grid[first][:, members]
        vals = np.zeros((len(ucode), len(fields_k)), np.int64)
        for u, combo in enumerate(uniq):
            idx = base.copy()
            idx[members] = combo
            try:
                r = rec_of(idx)
            except (UsageError, KeyError, ValueError, TypeError):
                # a combination legal only with other fields: take it from a key that has it
                q = int(np.flatnonzero(inv.ravel() == u)[0])
                r = rec_of(grid[q])
            vals[u] = [r[k] for k in fields_k]
        for c, k in enumerate(fields_k):
            out[names[k]] = vals[inv.ravel(), c]
    check = np.unique(np.concatenate([rng.choice(n, min(n, 2000), replace=False), [0, n - 1]]))
    for q in check:
        if tuple(out[q].tolist()) != rec_of(grid[q]):
            return np.array([rec_of(g) for g in grid], dtype=dtype)  # exact, slow
    return out


# ------------------------------------------------------------------ the data
@dataclass
class Prepared:
    """The cases as the kernels read them, decoded once per decode group (the
    product-time scales fold into the exponents)."""

    n: int
    ks: np.ndarray  # K of each case
    c64: np.ndarray
    d64: np.ndarray
    dnan: np.ndarray  # d is a NaN the check accepts
    arrays: tuple  # am3, as3, ae3, ac3, bm3, bs3, be3, bc3, sa3, sb3 (stacked per group)


def prepare(cases, a_format, b_format, groups, any_nan=False) -> Prepared:
    from emu.kernels import decode_operands

    n = len(cases)
    ks = np.array([len(r) for r in cases.a], np.int64)
    kmax = max(int(ks.max()), 1)
    A = np.zeros((n, kmax), np.uint8)
    B = np.zeros((n, kmax), np.uint8)
    for i, (ra, rb) in enumerate(zip(cases.a, cases.b)):
        A[i, : len(ra)] = ra
        B[i, : len(rb)] = rb
    per = []
    for bs, apply in groups:
        nkb = max(1, max(n_blocks(int(k), bs) for k in ks)) if bs else 0
        SA = np.full((n, nkb), 127, np.uint8)
        SB = np.full((n, nkb), 127, np.uint8)
        for i in range(n):
            if bs and cases.sa is not None:
                SA[i, : len(cases.sa[i])] = cases.sa[i]
            if bs and cases.sb is not None:
                SB[i, : len(cases.sb[i])] = cases.sb[i]
        cfg = types.SimpleNamespace(  # the fields decoding reads (the others searched)
            a_format=a_format,
            b_format=b_format,
            scale_block=bs,
            scale_apply=apply,
            scale_format=BY_NAME["scale_format"].default,
            group=BY_NAME["group"].default,
        )
        ops = types.SimpleNamespace(
            config=cfg, a=A, b=np.ascontiguousarray(B.T), sa=SA, sb=np.ascontiguousarray(SB.T)
        )
        dec = decode_operands(ops)
        a_m, a_s, a_e, a_c, b_m, b_s, b_e, b_c, sa_p, sb_p = dec
        per.append(
            (
                a_m,
                a_s,
                a_e,
                a_c,
                np.ascontiguousarray(b_m.T),
                np.ascontiguousarray(b_s.T),
                np.ascontiguousarray(b_e.T),
                np.ascontiguousarray(b_c.T),
                sa_p,
                np.ascontiguousarray(sb_p.T),
            )
        )
    width = max(1, max(p[8].shape[1] for p in per))
    stacked = []
    for j in range(10):
        parts = [p[j] for p in per]
        if j >= 8:  # scale exponents: pad to a common width (unused columns)
            parts = [np.pad(x, ((0, 0), (0, width - x.shape[1]))) for x in parts]
        stacked.append(np.ascontiguousarray(np.stack(parts)))
    c = np.asarray(cases.c, np.float32)
    d = np.asarray(cases.d, np.float32)
    bits = d.view(np.uint32)
    dnan = np.isnan(d) & (any_nan | (bits == np.uint32(0x7FFFFFFF)))
    return Prepared(n, ks, c.astype(np.float64), d.astype(np.float64), dnan, tuple(stacked))


# ------------------------------------------------------------------ the kernels
# numba loops, cached on disk like the kernels' (this module loads numba; the CLI
# imports it only inside `fp8emu fit`).
from emu.kernels.core import KLIMBS, jit  # noqa: E402
from emu.kernels.general import fused_step, promote  # noqa: E402
from emu.kernels.record import NAN_SCALE  # noqa: E402


@jit
def _same(v, d, dnan):
    if v != v:
        return dnan
    return v == d and math.copysign(1.0, v) == math.copysign(1.0, d)


@jit
def _one_case(i, K, P, prm, am, as_, ae, ac, bm, bs, be, bc, c0, sa, sb, pro, nv, alive, out, lb):
    """Case i under key prm: out[v] for each alive promotion variant v (out[0]
    without promotion).  The control flow of emu.kernels.general.dot_element, with
    the fused steps of an interval computed once for every variant."""
    step = max(prm.fused, 1)
    if P == 0:
        acc = c0
        for k0 in range(0, K, step):
            k1 = min(k0 + step, K)
            acc = fused_step(acc, i, i, k0, k1, am, as_, ae, ac, bm, bs, be, bc, prm, lb)
        out[0] = acc
        return
    for v in range(nv):
        out[v] = c0
    for p0 in range(0, K, P):
        inner = 0.0
        for k0 in range(p0, min(p0 + P, K), step):
            k1 = min(k0 + step, K)
            inner = fused_step(inner, i, i, k0, k1, am, as_, ae, ac, bm, bs, be, bc, prm, lb)
        s = 0
        if prm.scale_at_promotion:
            kb = p0 // prm.scale_block
            x, y = sa[i, kb], sb[i, kb]
            s = NAN_SCALE if (x == NAN_SCALE or y == NAN_SCALE) else x + y
        for v in range(nv):
            if alive[v]:
                out[v] = promote(out[v], inner, s, pro[v])


@jit
def _scan_kernel(r0, r1, keys, kgroup, kP, knv, pro, am3, as3, ae3, ac3, bm3, bs3, be3, bc3,
                 sa3, sb3, c64, Ks, order, d64, dnan, limit, counts, seen, killer):  # fmt: skip
    """Keys r0 <= q < r1: count each variant's missed cases over ``order`` until it
    misses more than limit[0] (counts[q, v]; killer[q, v]: the position in order of
    the miss that stopped it, -1 if none); seen[q]: the cases computed."""
    lb = np.zeros(KLIMBS, np.int64)
    nvmax = pro.shape[0]
    out = np.empty(nvmax, np.float64)
    alive = np.empty(nvmax, np.bool_)
    lim = limit[0]
    for q in range(r0, r1):
        g = kgroup[q]
        P = kP[q]
        nv = knv[q]
        am, as_, ae, ac = am3[g], as3[g], ae3[g], ac3[g]
        bm, bs, be, bc = bm3[g].T, bs3[g].T, be3[g].T, bc3[g].T
        sa, sb = sa3[g], sb3[g]
        left = nv
        for v in range(nvmax):
            alive[v] = v < nv
            counts[q, v] = 0
            killer[q, v] = -1
        n = 0
        for t in range(order.shape[0]):
            i = order[t]
            _one_case(i, Ks[i], P, keys[q], am, as_, ae, ac, bm, bs, be, bc, c64[i], sa, sb,
                      pro, nv, alive, out, lb)  # fmt: skip
            n += 1
            for v in range(nv):
                if alive[v] and not _same(out[v], d64[i], dnan[i]):
                    counts[q, v] += 1
                    if counts[q, v] > lim:
                        alive[v] = False
                        killer[q, v] = t
                        left -= 1
            if left == 0:
                break
        seen[q] = n


@jit
def _results_kernel(r0, r1, sel_key, sel_var, keys, kgroup, kP, knv, pro, am3, as3, ae3, ac3,
                    bm3, bs3, be3, bc3, sa3, sb3, c64, Ks, out):  # fmt: skip
    """out[s, i]: the result of case i under candidate s (key sel_key[s], variant
    sel_var[s]), for r0 <= s < r1."""
    lb = np.zeros(KLIMBS, np.int64)
    nvmax = pro.shape[0]
    vals = np.empty(nvmax, np.float64)
    alive = np.zeros(nvmax, np.bool_)
    for s in range(r0, r1):
        q = sel_key[s]
        g = kgroup[q]
        am, as_, ae, ac = am3[g], as3[g], ae3[g], ac3[g]
        bm, bs, be, bc = bm3[g].T, bs3[g].T, be3[g].T, bc3[g].T
        sa, sb = sa3[g], sb3[g]
        alive[:] = False
        alive[sel_var[s]] = True
        nv = knv[q]
        for i in range(out.shape[1]):
            _one_case(i, Ks[i], kP[q], keys[q], am, as_, ae, ac, bm, bs, be, bc, c64[i], sa, sb,
                      pro, nv, alive, vals, lb)  # fmt: skip
            out[s, i] = vals[sel_var[s]] if kP[q] else vals[0]


def _scan(cands: Candidates, prep: Prepared, limit: int, order, progress=None, perm=None):
    """(counts, seen, order) of every key (see the scan kernel), slab by slab; after
    each slab the cases are reordered: those that stopped most candidates first."""
    from emu.kernels.core import rows_in_parallel

    nk = cands.n_keys
    nvmax = len(cands.variants)
    counts = np.zeros((nk, nvmax), np.int64)
    seen = np.zeros(nk, np.int64)
    killer = np.full((nk, nvmax), -1, np.int64)
    kills = np.zeros(prep.n, np.int64)
    perm = np.arange(nk) if perm is None else perm
    lim = np.array([limit], np.int64)
    order = np.asarray(order, np.int64)
    kmean = max(1, int(prep.ks.mean())) if prep.n else 1
    for s0 in range(0, nk, SLAB):
        idx = perm[s0 : s0 + SLAB]
        m = len(idx)
        c_sub = np.zeros((m, nvmax), np.int64)
        s_sub = np.zeros(m, np.int64)
        k_sub = np.full((m, nvmax), -1, np.int64)
        rows_in_parallel(
            _scan_kernel,
            m,
            m * kmean * 64,
            cands.records[idx],
            cands.group[idx],
            cands.promote[idx],
            cands.nvar[idx],
            cands.var_records,
            *prep.arrays,
            prep.c64,
            prep.ks,
            order,
            prep.d64,
            prep.dnan,
            lim,
            c_sub,
            s_sub,
            k_sub,
            block=64,
        )
        counts[idx], seen[idx], killer[idx] = c_sub, s_sub, k_sub
        hit = k_sub[k_sub >= 0]
        if hit.size:
            np.add.at(kills, order[hit], 1)
            order = order[np.argsort(-kills[order], kind="stable")]
        if progress is not None:
            progress(m, nk)
    return counts, seen, order


def _results(cands: Candidates, prep: Prepared, sel) -> np.ndarray:
    """float64 (len(sel), cases): the results of candidates sel ((key, variant) pairs)."""
    from emu.kernels.core import rows_in_parallel

    sel = list(sel)
    out = np.zeros((len(sel), prep.n), np.float64)
    if not sel:
        return out
    sk = np.array([q for q, _ in sel], np.int64)
    sv = np.array([v for _, v in sel], np.int64)
    rows_in_parallel(
        _results_kernel,
        len(sel),
        len(sel) * prep.n * max(1, int(prep.ks.mean())),
        sk,
        sv,
        cands.records,
        cands.group,
        cands.promote,
        cands.nvar,
        cands.var_records,
        *prep.arrays,
        prep.c64,
        prep.ks,
        out,
        block=1,
    )
    return out


# ------------------------------------------------------------------ the result
@dataclass
class FitClass:
    """Candidates with identical results on every case."""

    members: list  # field dicts (ANY for unused fields)
    missed: np.ndarray  # indices of the cases the class does not explain
    results: np.ndarray | None  # float32 results (None: equal to the dump)
    chosen: MacConfig = None
    nearest: str = ""
    differs: tuple = ()  # fields where chosen differs from the nearest preset
    confirmed: bool = False
    hidden: tuple = tuple(UNOBSERVABLE)  # fields held out of the search (FitResult)

    @cached_property
    def values(self) -> dict:
        """{field: the values the members take} (ANY: a member that does not use it)."""
        out = {}
        for f in FIELDS:
            vs = {m[f.name] for m in self.members}
            out[f.name] = _sorted_values(f.name, vs)
        return out

    @property
    def undetermined(self) -> list:
        return [k for k, v in self.values.items() if len([x for x in v if x != ANY]) > 1]

    def contains(self, config: MacConfig) -> bool:
        """Is config a member (up to the fields the cases cannot see)?"""
        d = config.to_dict()
        if not d["promote_every"]:
            d.update(dict.fromkeys(VARIANT_FIELDS, ANY))
        for f in self.hidden:
            d.pop(f, None)
        d = _norm(d)
        for m in self.members:
            mm = {k: v for k, v in m.items() if k not in self.hidden}
            if _norm(mm) == d:
                return True
        return False

    @cached_property
    def _box_list(self) -> list:
        return _boxes(self.members)

    def boxes(self) -> list:
        """The members as a union of boxes: {field: [values]} whose every
        combination is a member (few boxes, not always the fewest; [] for a class
        of over MAX_BOX_MEMBERS members)."""
        return self._box_list


def _norm(d):
    out = {}
    for k, v in d.items():
        if BY_NAME.get(k) is not None and BY_NAME[k].type == "format" and v != ANY:
            v = get_format(v).name
        out[k] = v
    return out


def _order_key(name, v):
    if v == ANY:
        return (2, 0, "")
    if isinstance(v, bool):
        return (0, -int(v), "")
    if isinstance(v, int):
        return (0, v, "")
    f = BY_NAME[name]
    if f.type == "format" and name in ("acc_format", "promote_format"):
        fm = get_format(v)
        return (0, -(fm.ebits * 100 + fm.mbits), v)
    if f.type == "enum":
        return (0, list(f.values).index(v) if v in f.values else 99, v)
    return (1, 0, str(v))


def _sorted_values(name, vs):
    return sorted(vs, key=lambda v: _order_key(name, v))


MAX_BOX_MEMBERS = 50_000


def _boxes(members: list) -> list:
    if not members or len(members) > MAX_BOX_MEMBERS:
        return []
    names = [f.name for f in FIELDS]
    tuples = {tuple(m[n] for n in names) for m in members}
    return [dict(zip(names, b)) for b in _split(tuples, names, 0)]


def _split(tuples: set, names, depth) -> list:
    """Cover a set of tuples by boxes (tuples of value lists): split on a field,
    cover each part, merge boxes that differ in that field only.  The top two levels
    try every field and keep the split with the fewest boxes; deeper ones split on
    the first field that varies."""
    proj = [sorted({t[i] for t in tuples}, key=lambda v, n=names[i]: _order_key(n, v))
            for i in range(len(names))]  # fmt: skip
    if math.prod(len(p) for p in proj) == len(tuples):
        return [tuple(proj)]
    varying = [i for i, p in enumerate(proj) if len(p) > 1]
    best = None
    for i in varying if depth < 2 else varying[:1]:
        parts = {}
        for t in tuples:
            parts.setdefault(t[i], set()).add(t)
        sub = []
        for v in proj[i]:
            for box in _split(parts[v], names, depth + 1):
                for j, other in enumerate(sub):  # merge boxes equal but for field i
                    if all(other[x] == box[x] for x in range(len(names)) if x != i):
                        sub[j] = other[:i] + (other[i] + box[i],) + other[i + 1 :]
                        break
                else:
                    sub.append(box)
        if best is None or len(sub) < len(best):
            best = sub
        if len(best) <= 2:
            break
    return best


@dataclass
class FitResult:
    n: int  # cases
    ks: tuple
    formats: tuple
    space: dict
    candidates: int
    exact: bool
    classes: list  # FitClass, best first
    heuristic: bool  # the best were found by the beyond-64-misses heuristic
    seconds: float
    evaluations: int  # (candidate key, case) pairs computed
    where: list = field(default_factory=list)
    d: np.ndarray | None = None
    unobservable: dict = field(default_factory=lambda: dict(UNOBSERVABLE))  # {field: why}
    twins: int = 0  # candidates computed as their zero_exp = "drop" twin (same results)

    @property
    def best(self) -> FitClass | None:
        return self.classes[0] if self.classes else None

    @property
    def chosen(self) -> MacConfig | None:
        return self.best.chosen if self.classes else None


def _choose(cls: FitClass, b_tile=None) -> None:
    """cls.chosen: the member nearest a preset (see the module doc); b_tile: the
    scale_b_tile the dump's layout says (None: the cases cannot tell)."""
    best = None
    names = list(presets())
    for pi, pname in enumerate(names):
        pd = preset(pname).to_dict()
        for mi, m in enumerate(cls.members):
            dist = sum(
                1
                for f in FIELDS
                if f.name not in cls.hidden
                and m[f.name] != ANY
                and _norm({f.name: m[f.name]}) != _norm({f.name: pd[f.name]})
            )
            special = sum(1 for f in ("fused", "align_bits") if m[f] in ("k", "exact"))
            key = (dist, special, pi, mi)
            if best is None or key < best[0]:
                best = (key, pname, m)
    (_, pname, m) = best
    pd = preset(pname).to_dict()
    d = {k: (pd[k] if v == ANY else v) for k, v in m.items()}
    for f in cls.hidden:
        d[f] = pd[f]
    if b_tile is not None:
        d["scale_b_tile"] = b_tile
    try:
        cfg = MacConfig(**d)
    except UsageError:  # the preset's unobservable value does not fit this member
        for f in cls.hidden:
            d[f] = BY_NAME[f].default
        cfg = MacConfig(**d)
    cls.chosen = cfg
    cls.nearest = pname
    cls.differs = tuple(
        f.name
        for f in FIELDS
        if _norm({f.name: getattr(cfg, f.name)}) != _norm({f.name: pd[f.name]})
    )


def context_of(cases, a_format, b_format, max_align=MAX_ALIGN, promotion=False) -> Context:
    ks = tuple(sorted({len(r) for r in cases.a}))
    blocks = None
    if cases.sa is not None or cases.sb is not None:
        src = cases.sa if cases.sa is not None else cases.sb
        blocks = tuple(sorted({(len(a), len(s)) for a, s in zip(cases.a, src)}))
    floor = _zero_floor(cases, a_format, b_format)
    return Context(a_format, b_format, ks, blocks, max_align, promotion, floor)


def _exp_table(name) -> np.ndarray:
    """Hardware exponent of each code of an operand format (a large sentinel for
    zero, NaN and Inf: codes that make no non-zero finite term)."""
    from emu.numerics.formats import classify

    t = np.full(256, 1 << 20, np.int64)
    for code in range(256):
        c = classify(name, code)
        if c[0] == "num" and c[2]:
            t[code] = c[3]
    return t


def _zero_floor(cases, a_format, b_format):
    """The lowest exponent a non-zero term of these cases can have (2.1 step 1): the
    least e_a + e_b of a non-zero product, lowered by the least scale exponents of a
    case (scale codes 0xFF excepted; also the exponent of a group term); None
    without a non-zero product.  Zero terms at or below it never set e_max."""
    ta, tb = _exp_table(a_format), _exp_table(b_format)
    low = None
    by_k = {}
    for i, r in enumerate(cases.a):
        by_k.setdefault(len(r), []).append(i)
    for k, idx in by_k.items():
        if not k:
            continue
        A = ta[np.stack([cases.a[i] for i in idx])]
        B = tb[np.stack([cases.b[i] for i in idx])]
        e = A + B
        e = e[(A < (1 << 20)) & (B < (1 << 20))]
        if e.size:
            low = int(e.min()) if low is None else min(low, int(e.min()))
    if low is None:
        return None
    if cases.sa is not None or cases.sb is not None:
        s_lo = 0
        for sa_i, sb_i in zip(
            cases.sa if cases.sa is not None else [None] * len(cases.a),
            cases.sb if cases.sb is not None else [None] * len(cases.a),
        ):
            lo = 0
            for s in (sa_i, sb_i):
                if s is not None:
                    s = np.asarray(s, np.int64)
                    s = s[s != 0xFF]
                    lo += int(s.min()) - 127 if s.size else 0
            s_lo = min(s_lo, lo)
        low = min(low + s_lo, s_lo)  # a scaled product, or a group term (exponent s)
    return low


def _unobservable(ctx: Context, sp: dict, overrides: dict, n_keys: int) -> dict:
    """{field: why} of the fields held out of this fit (the chosen takes the nearest
    preset's value): UNOBSERVABLE, and zero_exp unless it is searched."""
    out = dict(UNOBSERVABLE)
    if "zero_exp" in overrides or len(sp["zero_exp"]) > 1:
        return out
    seen = any(ctx.zero_seen(a, d) for a in sp["acc_format"] for d in ZERO_EXPS)
    if seen and ctx.blocks is not None:
        out["zero_exp"] = (
            "not searched: the scales of these cases put products below emin(acc_format) "
            f"{ZERO_EXPS[0]}, so zero_exp can matter, but searching "
            f"{', '.join(map(str, ZERO_EXPS))} would multiply the {n_keys:,} keys; "
            "--space zero_exp=drop," + ",".join(map(str, ZERO_EXPS)) + " searches it"
        )
    else:
        out["zero_exp"] = (
            "not observable: zero terms at emin(acc_format) + d (d <= 0) lie at or below "
            "every non-zero term of these cases"
            + (
                f" (lowest product exponent {ctx.zero_floor})" if ctx.zero_floor is not None else ""
            )  # fmt: skip
            + ", so they never set e_max"
        )
    return out


def _zero_twins(cands: Candidates, ctx: Context):
    """Keys with an integer zero_exp that these cases cannot tell from "drop" (zero
    terms at or below every non-zero term, for that key's acc_format), when the
    space also has "drop": (mask of those keys, {acc_format: [their d]})."""
    sp = cands.space
    vals = sp["zero_exp"]
    mask = np.zeros(cands.n_keys, bool)
    twins = {}
    if "drop" not in vals or len(vals) < 2:
        return mask, twins
    jz, ja = cands.key_fields.index("zero_exp"), cands.key_fields.index("acc_format")
    for ia, acc in enumerate(sp["acc_format"]):
        for iz, d in enumerate(vals):
            if d != "drop" and not ctx.zero_seen(acc, d):
                mask |= (cands.index[:, ja] == ia) & (cands.index[:, jz] == iz)
                twins.setdefault(acc, []).append(d)
    return mask, twins


def _subset(cands: Candidates, keep: np.ndarray) -> Candidates:
    return Candidates(
        space=cands.space,
        key_fields=cands.key_fields,
        index=cands.index[keep],
        records=cands.records[keep],
        variants=cands.variants,
        var_records=cands.var_records,
        promote=cands.promote[keep],
        nvar=cands.nvar[keep],
        group=cands.group[keep],
        groups=cands.groups,
    )


def _with_twins(members: list, twins: dict) -> list:
    """members and, after each with zero_exp "drop", its twins (same results)."""
    if not twins:
        return members
    out = []
    for m in members:
        out.append(m)
        if m["zero_exp"] == "drop":
            out += [{**m, "zero_exp": d} for d in twins.get(m["acc_format"], ())]
    return out


def fit(
    cases,
    *,
    a_format="e4m3",
    b_format=None,
    space=None,
    max_align=MAX_ALIGN,
    promotion=False,
    any_nan=False,
    progress=None,
    confirm=True,
    max_classes=10,
    b_tiles=False,
) -> FitResult:
    """Search the configuration space for every configuration consistent with the
    cases (validate's :class:`~emu.toolkit.validate.Cases` with ``d``); see the
    module doc.  ``space``: {field: [values]} overrides of the searched values;
    ``progress(n, total)``: called as n more of the first pass's total candidate
    keys are done.  ``b_tiles``: B's scales came per 128 x 128 tile (a whole-GEMM
    dump), so scale_block is 128 and the chosen config has scale_b_tile = 128."""
    t0 = time.perf_counter()
    b_format = b_format or a_format
    if cases.d is None:
        raise UsageError("no results (d) to fit")
    if len(cases) == 0:
        raise UsageError("no test cases")
    ctx = context_of(cases, get_format(a_format).name, get_format(b_format).name, max_align,
                     promotion)  # fmt: skip
    sp = search_space(ctx, space)
    if b_tiles:
        if 128 not in sp["scale_block"]:
            raise UsageError("B's scales are per 128 x 128 tile, but scale_block 128 does not "
                             "fit the scale codes")  # fmt: skip
        sp["scale_block"] = [128]
    cands = enumerate_space(sp)
    unobservable = _unobservable(ctx, sp, space or {}, cands.n_keys)
    total = len(cands)
    twin_mask, twins = _zero_twins(cands, ctx)
    if twin_mask.any():  # searched once, as their "drop" twin; listed in the classes
        cands = _subset(cands, ~twin_mask)
    prep = prepare(cases, ctx.a_format, ctx.b_format, cands.groups, any_nan)
    perm = np.random.default_rng(0).permutation(cands.n_keys)
    order = np.arange(prep.n)
    counts, seen, order = _scan(cands, prep, 0, order, progress, perm)
    evaluations = int(seen.sum())
    valid = _valid(counts, cands)
    d = np.asarray(cases.d, np.float32)
    exact = bool((valid & (counts == 0)).any())
    heuristic = False
    classes = []
    if exact:
        hits = zip(*np.nonzero(valid & (counts == 0)))
        members = _with_twins([cands.config(int(q), int(v)) for q, v in hits], twins)
        classes.append(FitClass(members, np.zeros(0, np.int64), None))
    else:
        # the keys that went furthest before their first miss, counted in full, bound
        # the best count; one more pass at that bound finds every candidate within it
        far = np.argsort(-seen, kind="stable")[:FAR_KEYS]
        sel = [(int(q), v) for q in far for v in range(int(cands.nvar[q]))]
        res = _finish(_results(cands, prep, sel))
        miss = np.array([len(_missed(r, d, any_nan)) for r in res])
        bound = int(miss.min())
        if cands.n_keys * (bound + 1) <= PASS_BUDGET:
            counts, seen, _ = _scan(cands, prep, bound, order, None, perm)
            evaluations += int(seen.sum())
            within = valid & (counts <= bound)
            sel = sorted(
                ((int(q), int(v)) for q, v in zip(*np.nonzero(within))),
                key=lambda qv: counts[qv[0], qv[1]],
            )
            best = counts[sel[0][0], sel[0][1]]
            n_best = sum(1 for q, v in sel if counts[q, v] == best)
            sel = sel[: max(min(n_best, MAX_CLASS_MEMBERS), MAX_OTHERS)]
            res = _finish(_results(cands, prep, sel))
        else:  # too many misses for an exhaustive pass: those that went furthest
            heuristic = True
        groups = {}
        for s_, (q, v) in enumerate(sel):
            groups.setdefault(res[s_].tobytes(), []).append((s_, q, v))
        for items in groups.values():
            r = res[items[0][0]]
            members = _with_twins([cands.config(q, v) for _, q, v in items], twins)
            classes.append(FitClass(members, _missed(r, d, any_nan), r))
        classes.sort(key=lambda c: (len(c.missed), -len(c.members)))
        classes = classes[:max_classes]
    for c in classes:
        c.hidden = tuple(unobservable)
        _choose(c, 128 if b_tiles else None)
        if confirm:
            _confirm(c, cases, any_nan)
    return FitResult(
        n=len(cases),
        ks=ctx.ks,
        formats=(ctx.a_format, ctx.b_format),
        space=cands.space,
        candidates=total,
        exact=exact,
        classes=classes,
        heuristic=heuristic,
        seconds=time.perf_counter() - t0,
        evaluations=evaluations,
        where=list(cases.where) if cases.where else [],
        d=np.asarray(cases.d, np.float32),
        unobservable=unobservable,
        twins=total - len(cands),
    )


def _finish(res) -> np.ndarray:
    """float64 results -> float32 with the canonical NaN (what emu.gemm returns)."""
    r = res.astype(np.float32)
    r.view(np.uint32)[np.isnan(r)] = np.uint32(0x7FFFFFFF)
    return r


def _missed(r, d, any_nan) -> np.ndarray:
    same = r.view(np.uint32) == d.view(np.uint32)
    if any_nan:
        same |= np.isnan(r) & np.isnan(d)
    return np.flatnonzero(~same)


def _valid(counts, cands):
    """Mask of (key, variant) pairs that exist (keys without promotion: variant 0)."""
    v = np.arange(counts.shape[1])[None, :]
    return v < cands.nvar[:, None]


def _confirm(cls: FitClass, cases, any_nan) -> None:
    """The chosen member through emu.gemm (validate's batches): the same misses."""
    from emu.toolkit.validate import emulate

    with np.errstate(over="ignore", invalid="ignore"):
        got = emulate(cases, cls.chosen)
    d = np.asarray(cases.d, np.float32)
    same = got.view(np.uint32) == d.view(np.uint32)
    if any_nan:
        same |= np.isnan(got) & np.isnan(d)
    missed = np.flatnonzero(~same)
    if not np.array_equal(missed, cls.missed):
        raise RuntimeError(
            f"fit: emu.gemm misses {len(missed)} cases under the chosen configuration, "
            f"the search's per-element path {len(cls.missed)}"
        )
    cls.confirmed = True


# ------------------------------------------------------------------ reading dumps
MAX_CASES = 1 << 20  # cases of one fit (a whole-GEMM dump: M x N)


def read_dump(a_path=None, b_path=None, d_path=None, c_path=None, sa_path=None, sb_path=None,
              npz_path=None, *, a_format="e4m3", b_format=None):  # fmt: skip
    """The cases and results of a dump, read by validate's readers (text or .npz:
    test cases, or a whole GEMM, whose elements become the cases): (Cases, tiles)
    where tiles says B's scales came per 128 x 128 tile.  The scale layout (codes per
    case) is taken from the files: fit searches the scale_block values it fits."""
    from emu.toolkit import validate as V

    b_format = b_format or a_format
    kw = dict(a_format=a_format, b_format=b_format)
    if npz_path:
        try:
            got = V.read_npz(npz_path, scale_block=0, **kw)
        except UsageError as e:
            if "scales given but the config has scale_block = 0" not in str(e):
                raise
            got = V.read_npz(npz_path, scale_block=_npz_block(npz_path), **kw)
        if isinstance(got, V.MatrixDump):
            return _matrix_cases(got, npz_path)
        return got, False
    block = 0
    for path, opt in ((sa_path, "--sa"), (sb_path, "--sb")):
        if path:
            block = _text_block(a_path, path, opt)
            break
    cases = V.read_text(a_path, b_path, d_path, c_path, sa_path, sb_path, scale_block=block,
                        **kw)  # fmt: skip
    return cases, False


def _text_block(a_path, s_path, opt) -> int:
    """A scale_block that gives every case its number of scale codes (validate's
    reader then checks every case against it): the smallest b with ceil(K / b) = n
    for every line's K and n; if none, the first line's (the reader names the
    line that does not fit)."""
    from emu.toolkit import validate as V

    rows_a = V._lines(a_path, "--a")
    rows_s = V._lines(s_path, opt)
    pairs = {(len(ra[1]), len(rs[1])) for ra, rs in zip(rows_a, rows_s)}
    if not pairs or any(k == 0 or n == 0 for k, n in pairs):
        return 1
    lo = max(-(-k // n) for k, n in pairs)  # b >= K / n
    hi = min((-(-k // (n - 1)) - 1) if n > 1 else 1 << 30 for k, n in pairs)  # b < K/(n-1)
    if lo <= hi:
        return lo
    k, n = len(rows_a[0][1]), len(rows_s[0][1])
    return -(-k // n)


def _npz_block(path) -> int:
    z = np.load(path, allow_pickle=False)
    with z:
        a = z["a"]
        s = z["sa"] if "sa" in z.files else z["sb"]
    k = a.shape[1] if a.ndim == 2 else 0
    n = s.shape[1] if s.ndim == 2 else 0
    return -(-k // n) if k and n else 1


def _matrix_cases(m, path):
    """A whole-GEMM dump (validate.MatrixDump) as cases: element (i, j) is the case
    row i of A, column j of B."""
    from emu.toolkit.validate import Cases

    M, K = m.a.shape
    N = m.b.shape[1]
    if M * N > MAX_CASES:
        raise UsageError(f"--npz: {path}: {M} x {N} results, at most {MAX_CASES} cases")
    tiles = False
    sa = sb = None
    if m.sa is not None or m.sb is not None:
        nkb = (m.sa if m.sa is not None else m.sb).shape[1 if m.sa is not None else 0]
        sa = m.sa if m.sa is not None else np.full((M, nkb), 127, np.uint8)
        sb = m.sb if m.sb is not None else np.full((nkb, N), 127, np.uint8)
        for what, s, want in (("sa", sa, (M, nkb)), ("sb", sb, (nkb, None))):
            if (
                s.dtype != np.uint8
                or s.ndim != 2
                or s.shape[0] != want[0]
                or (want[1] is not None and s.shape[1] != want[1])
            ):
                raise UsageError(f"--npz: {path}: {what}: expected uint8 {want}, got {s.dtype} "
                                 f"{s.shape}")  # fmt: skip
        if sb.shape[1] != N:
            if sb.shape[1] != n_blocks(N, 128):
                raise UsageError(
                    f"--npz: {path}: sb: expected ({nkb}, {N}) or 128 x 128 tiles "
                    f"({nkb}, {n_blocks(N, 128)}), got {sb.shape}"
                )
            sb = np.repeat(sb, 128, axis=1)[:, :N]
            tiles = True
    c = m.c if m.c is not None else np.zeros((M, N), np.float32)
    ii, jj = np.divmod(np.arange(M * N), N)
    cases = Cases(
        [m.a[i] for i in ii],
        [np.ascontiguousarray(m.b[:, j]) for j in jj],
        np.ascontiguousarray(c, np.float32).ravel(),
        np.ascontiguousarray(m.d, np.float32).ravel(),
        None if sa is None else [sa[i] for i in ii],
        None if sb is None else [np.ascontiguousarray(sb[:, j]) for j in jj],
        [f"d[{i},{j}]" for i, j in zip(ii, jj)],
    )
    return cases, tiles


# ------------------------------------------------------------------ reports
def show_values(name: str, values) -> str:
    """Values of a field for people: integer runs as lo..hi, ANY as (not used)."""
    vals = [v for v in values if v != ANY]
    if not vals:
        return "(not used)"
    parts, run = [], []

    def flush():
        if len(run) > 2:
            parts.append(f"{run[0]}..{run[-1]}")
        else:
            parts.extend(str(x) for x in run)
        run.clear()

    for v in vals:
        if isinstance(v, int) and not isinstance(v, bool) and run and v == run[-1] + 1:
            run.append(v)
            continue
        flush()
        if isinstance(v, int) and not isinstance(v, bool):
            run.append(v)
        else:
            parts.append(str(v).lower() if isinstance(v, bool) else str(v))
    flush()
    text = ", ".join(parts)
    return text + (" (or not used)" if ANY in values else "")


def _word(x) -> str:
    return f"0x{int(np.float32(x).view(np.uint32)):08X}"


def _case_label(res: FitResult, i: int) -> str:
    w = res.where[i] if i < len(res.where) else ""
    return f"{i} ({w})" if w and w != str(i) else str(i)


def _k_text(ks) -> str:
    return f"K = {ks[0]}" if len(ks) == 1 else f"K = {', '.join(map(str, ks))}"


def format_report(res: FitResult, show: int = 5, out_path: str | None = None) -> str:
    """The table the command prints."""
    lines = [
        f"fit: {res.n} cases ({_k_text(res.ks)}, {res.formats[0]} x {res.formats[1]}); "
        f"{res.candidates:,} configurations searched in {res.seconds:.1f} s"
        + (
            f" ({res.twins:,} as their zero_exp = drop twin: zero terms below every product "
            "give the same bits)"
            if res.twins
            else ""
        )
    ]
    best = res.best
    if res.exact:
        n = len(best.members)
        lines.append(
            f"EXACT FIT: {n} configuration{'s' if n != 1 else ''} give{'' if n != 1 else 's'} "
            "every case's bits (one class)"
        )
    else:
        miss = len(best.missed)
        lines.append(
            f"NO EXACT FIT: the best explains {res.n - miss} of {res.n} cases ({miss} missed)"
            + (
                " [a heuristic: too many misses for an exhaustive search; these classes "
                "are the candidates that went furthest]"
                if res.heuristic
                else ""
            )
        )
        rows = [("class", "explains", "configs", "nearest preset (differs in)", "first missed")]
        for j, c in enumerate(res.classes[:show], 1):
            first = ", ".join(_case_label(res, int(i)) for i in c.missed[:3])
            if len(c.missed) > 3:
                first += ", ..."
            rows.append(
                (
                    str(j),
                    f"{res.n - len(c.missed)}/{res.n}",
                    str(len(c.members)),
                    f"{c.nearest} ({', '.join(c.differs) or '-'})",
                    first,
                )
            )
        lines += _table(rows)
        lines.append("class 1:")
    vals = best.values
    undet = set(best.undetermined)
    rows = [("field", "value", "")]
    for f in FIELDS:
        note = ""
        if f.name in undet:
            note = "not determined by these cases"
        elif f.name in res.unobservable:
            why = res.unobservable[f.name]
            note = why if why.startswith("not ") else "not observable: " + why
        rows.append((f.name, show_values(f.name, vals[f.name]), note))
    lines += _table(rows)
    boxes = best.boxes()
    if len(boxes) > 1:
        lines.append(
            f"the class is {len(boxes)} boxes (every combination inside a box is a member):"
        )
        for b in boxes[:12]:
            lines.append(
                "  " + "; ".join(f"{k} {show_values(k, v)}" for k, v in b.items() if k in undet)
            )
        if len(boxes) > 12:
            lines.append(f"  ... {len(boxes) - 12} more")
    lines.append(
        f"chosen: nearest preset {best.nearest} (differs in "
        f"{', '.join(best.differs) or 'none'})" + (f" -> {out_path}" if out_path else "")
    )
    if not res.exact:
        wider = ["--space FIELD=VALUES"]
        if res.space.get("promote_every") == [0]:
            wider.insert(0, "--promotion (promotion without scales)")
        lines.append("no configuration of the space searched explains every case; widen it "
                     "with " + " or ".join(wider) + ", or look at the missed cases:")  # fmt: skip
        lines.append(f"missed cases of class 1 ({len(best.missed)}):")
        rows = [("case", "model (chosen)", "dump")]
        for i in best.missed[: show * 2]:
            rows.append((_case_label(res, int(i)), _word(best.results[i]), _word(res.d[i])))
        lines += _table(rows)
        if len(best.missed) > show * 2:
            lines.append(f"... {len(best.missed) - show * 2} more")
    return "\n".join(lines)


def _table(rows) -> list:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]


def _jsonable(v):
    return v if v != ANY else None


def to_json(res: FitResult, show: int = 10) -> dict:
    def cls_doc(c: FitClass):
        return dict(
            explains=res.n - len(c.missed),
            missed=len(c.missed),
            configurations=len(c.members),
            fields={k: [_jsonable(x) for x in v] for k, v in c.values.items()},
            undetermined=c.undetermined,
            boxes=[{k: [_jsonable(x) for x in v] for k, v in b.items()} for b in c.boxes()[:64]],
            chosen=c.chosen.to_dict(),
            nearest_preset=c.nearest,
            differs_from_preset=list(c.differs),
            confirmed_by_emu_gemm=c.confirmed,
            first_missed=[
                dict(
                    case=int(i),
                    where=res.where[i] if i < len(res.where) else str(i),
                    model=_word(c.results[i]),
                    dump=_word(res.d[i]),
                )
                for i in c.missed[:show]
            ],
        )

    return dict(
        cases=res.n,
        k=list(res.ks),
        formats=list(res.formats),
        exact=res.exact,
        heuristic=res.heuristic,
        searched=dict(
            configurations=res.candidates,
            fields={k: [_jsonable(x) for x in v] for k, v in res.space.items()},
            seconds=round(res.seconds, 3),
            evaluations=res.evaluations,
            zero_exp_twins=res.twins,
            held_out={k: v for k, v in res.unobservable.items()},
        ),
        chosen=res.chosen.to_dict(),
        classes=[cls_doc(c) for c in res.classes],
    )


def to_toml(res: FitResult) -> str:
    c = res.best
    head = [
        f"# fp8emu fit: {res.n} cases ({_k_text(res.ks)}); "
        + (
            f"an exact fit: {len(c.members)} configurations give every case's bits"
            if res.exact
            else f"NO exact fit: the best explains {res.n - len(c.missed)} of {res.n}"
        ),
        "# not determined by these cases: " + (", ".join(c.undetermined) or "none"),
        f"# chosen: the member nearest preset {c.nearest} (differs in "
        f"{', '.join(c.differs) or 'none'})",
    ]
    return "\n".join(head) + "\n" + c.chosen.to_toml()


# ------------------------------------------------------------------ benchmark
def bench(n: int = 5000, k: int = 32, config=None, seed: int = 0) -> float:
    """Seconds to fit n random k-long e4m3 dot products (probe.random_cases) made
    under ``config`` (default: h100 with a 20-bit window, not a preset), the space
    enumerated anew; numba compiled beforehand (``make bench`` prints it)."""
    from emu.toolkit.probe import random_cases
    from emu.toolkit.validate import emulate

    cfg = config or preset("h100").replace(align_bits=20)
    warm = random_cases(8, k, cfg.a_format, cfg.b_format, seed=seed + 1)
    warm.d = emulate(warm, cfg)
    fit(warm, a_format=cfg.a_format, b_format=cfg.b_format, confirm=False)
    cases = random_cases(n, k, cfg.a_format, cfg.b_format, seed=seed)
    with np.errstate(over="ignore", invalid="ignore"):
        cases.d = emulate(cases, cfg)
    _enumerate.cache_clear()
    t0 = time.perf_counter()
    res = fit(cases, a_format=cfg.a_format, b_format=cfg.b_format)
    dt = time.perf_counter() - t0
    if not (res.exact and res.best.contains(cfg)):
        raise RuntimeError("fit.bench: the fit did not find the configuration")
    return dt
