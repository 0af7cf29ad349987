"""``sweep``: vary one or two knobs and record the metrics of ``compare`` per point.

A knob is any MacConfig field (``align_bits``, ``fused``, ``acc_format``,
``promote_every``, ...) or an input knob: ``k``, ``m``, ``n``, ``dist``,
``scale_mode``, ``mean``, ``seed``.  Values are a comma list (``8,10,12``) or, for
integers, an inclusive range ``lo:hi[:step]`` (``8:16:2``).  Every point uses the
same random seed, so only the varied knob changes between points.  With a Dask
client (``fp8emu sweep --dask ADDRESS`` / ``--workers N``, :mod:`emu.distributed`)
every point is one task on the cluster; the rows are the local run's, in order.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import threading

from emu.errors import UsageError
from emu.numerics.config import FIELD_NAMES, coerce
from emu.toolkit.compare import (
    DISTS,
    REFERENCES,
    References,
    check_scales,
    check_size,
    generate,
    quantize_for,
    run_emulator,
)
from emu.toolkit.metrics import error_metrics, result_format

INPUT_KNOBS = {
    "k": int,
    "m": int,
    "n": int,
    "dist": str,
    "scale_mode": str,
    "mean": float,
    "seed": int,
}
MAX_POINTS = 100_000  # a grid larger than this is a typo (1:99999999), not a sweep
METRIC_NAMES = (
    "max_abs",
    "max_rel",
    "median_rel",
    "normwise",
    "bit_exact",
    "max_ulp",
    "special_mismatch",
)


def parse_vary(spec: str):
    """``knob=v1,v2`` or ``knob=lo:hi[:step]`` -> (knob, [value strings])."""
    if "=" not in spec:
        raise UsageError(f"--vary {spec!r}: expected knob=v1,v2,... or knob=lo:hi[:step]")
    knob, vals = (s.strip() for s in spec.split("=", 1))
    knob = knob.lower()
    if knob not in FIELD_NAMES and knob not in INPUT_KNOBS:
        raise UsageError(
            f"--vary {spec!r}: unknown knob {knob!r} (config fields, or {', '.join(INPUT_KNOBS)})"
        )
    if ":" in vals and "," not in vals:
        try:
            parts = [int(p) for p in vals.split(":")]
        except ValueError:
            raise UsageError(f"--vary {spec!r}: a range takes integers lo:hi[:step]") from None
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
            raise UsageError(f"--vary {spec!r}: expected lo:hi or lo:hi:step (step > 0)")
        lo, hi, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1
        r = range(lo, hi + 1, step)
        if len(r) > MAX_POINTS:
            raise UsageError(f"--vary {spec!r}: {len(r)} values, at most {MAX_POINTS}")
        values = [str(v) for v in r]
    else:
        values = [v.strip() for v in vals.split(",") if v.strip()]
    if not values:
        raise UsageError(f"--vary {spec!r}: no values")
    return knob, values


def _point(base, inputs: dict, assignment):
    """(config, inputs) of one sweep point, or UsageError naming the point."""
    from emu.numerics.quant import SCALE_MODES

    inp = dict(inputs)
    changes = {}
    where = ", ".join(f"{k}={v}" for k, v in assignment)
    for knob, val in assignment:
        if knob in INPUT_KNOBS:
            try:
                inp[knob] = INPUT_KNOBS[knob](val)
            except ValueError:
                raise UsageError(
                    f"sweep point {knob}={val}: expected {INPUT_KNOBS[knob].__name__}"
                ) from None
        else:
            changes[knob] = val
    try:
        cfg = base.replace(**{k: coerce(k, v) for k, v in changes.items()})
    except UsageError as e:
        raise UsageError(f"sweep point {where}: {e}") from None
    try:
        check_scales(cfg)
    except UsageError as e:
        raise UsageError(f"sweep point {where}: {e}") from None
    for knob, lo in (("m", 1), ("n", 1), ("k", 1), ("seed", 0)):
        if inp[knob] < lo:
            raise UsageError(f"sweep point {where}: {knob} must be >= {lo}, got {inp[knob]}")
    try:
        check_size(inp["m"], inp["n"], inp["k"])
    except UsageError as e:
        raise UsageError(f"sweep point {where}: {e}") from None
    if inp["dist"] not in DISTS:
        raise UsageError(
            f"sweep point {where}: dist must be one of {', '.join(DISTS)}, got {inp['dist']!r}"
        )
    if inp["scale_mode"] not in SCALE_MODES:
        raise UsageError(
            f"sweep point {where}: scale_mode must be one of "
            f"{', '.join(SCALE_MODES)}, got {inp['scale_mode']!r}"
        )
    return cfg, inp


def plan(base, varies, inputs: dict, references=("exact",)) -> list:
    """Check the whole grid before any work: [(assignment, config, inputs)] per point,
    or UsageError naming the first bad point (so nothing has run when it fails)."""
    if not 1 <= len(varies) <= 2:
        raise UsageError("give one or two --vary knobs")
    if len(varies) == 2 and varies[0][0] == varies[1][0]:
        raise UsageError(f"--vary: knob {varies[0][0]!r} given twice")
    for r in references:
        if r not in REFERENCES:
            raise UsageError(f"unknown reference {r!r} (expected one of {', '.join(REFERENCES)})")
    npoints = 1
    for _, vals in varies:
        npoints *= len(vals)
    if npoints > MAX_POINTS:
        raise UsageError(f"--vary: {npoints} points, at most {MAX_POINTS}")
    grid = itertools.product(*[[(k, v) for v in vals] for k, vals in varies])
    return [(a, *_point(base, inputs, a)) for a in grid]


class _Cache:
    """Inputs and references of the points, reused by the points that share them:
    the generated data (every set, or with ``keep_data=False`` only the last) and
    the references of one quantised input set at a time (memory stays bounded)."""

    def __init__(self, keep_data: bool = True):
        self.keep_data = keep_data
        self.data, self.refs = {}, {}

    def references(self, cfg, inp) -> References:
        dkey = tuple(inp[k] for k in ("dist", "m", "n", "k", "seed", "mean"))
        if dkey not in self.data:
            if not self.keep_data:
                self.data.clear()
            self.data[dkey] = generate(
                inp["dist"], inp["m"], inp["n"], inp["k"], inp["seed"], inp["mean"]
            )
        rkey = dkey + (
            inp["scale_mode"],
            cfg.a_format,
            cfg.b_format,
            cfg.scale_block,
            cfg.scale_b_tile,
        )
        if rkey not in self.refs:
            x, y = self.data[dkey]
            self.refs.clear()  # keep memory bounded: one input set at a time
            self.refs[rkey] = References(quantize_for(cfg, x, y, inp["scale_mode"]))
        return self.refs[rkey]


def _point_rows(assignment, cfg, R: References, references) -> list:
    """The rows of one point: the emulator's result against each reference."""
    d = run_emulator(cfg, R.q)
    f = result_format(cfg)
    rows = []
    for r in references:
        m = error_metrics(d, R.value(r), f, R.on_grid(r, f.name))
        hist = m.pop("ulp_hist")
        row = {k: v for k, v in assignment}
        row.update(reference=r, result_format=f.name, **m)
        row.update({f"ulp_{k}": v for k, v in hist.items()})
        rows.append(row)
    return rows


# On a Dask worker: one cache per worker thread, so that the points of one input
# set that run on a thread build its references once; released after each sweep.
_WORKER_CACHES: dict = {}
_WORKER_LOCK = threading.Lock()


def _remote_point(assignment, cfg, inp, references) -> list:
    """One point as a Dask task (:func:`emu.distributed.map_ordered`)."""
    with _WORKER_LOCK:
        cache = _WORKER_CACHES.setdefault(threading.get_ident(), _Cache(keep_data=False))
    return _point_rows(assignment, cfg, cache.references(cfg, inp), references)


def _release_worker_caches() -> None:
    with _WORKER_LOCK:
        _WORKER_CACHES.clear()


def warm() -> None:
    """One tiny point under every reference: loads the numba code of quantisation,
    the references and the metrics (``emu.warmup.warm`` loads the GEMM kernels)."""
    tiny = dict(m=2, n=2, k=32, dist="normal", seed=0, mean=0.0, scale_mode="floor")
    from emu.numerics.config import preset

    sweep(preset("default"), [("k", ["32"])], tiny, REFERENCES)


def sweep(
    base, varies, inputs: dict, references=("exact",), progress=None, points=None, client=None
) -> list:
    """Run every point of the grid of ``varies`` ([(knob, [values])], one or two).

    inputs: defaults for m, n, k, dist, seed, mean, scale_mode.  Returns one dict
    per (point, reference): the knob values, config, result_format, reference and
    the metrics of :func:`emu.toolkit.metrics.error_metrics` (ulp_hist flattened to
    ``ulp_<bin>`` columns).  ``progress(n)`` is called after each point.  ``points``:
    the result of :func:`plan` (computed here when not given).  ``client``: a Dask
    ``distributed.Client`` (:func:`emu.distributed.connect`): one task per point on
    its cluster, ``progress`` as points finish on any worker; the rows are those of
    the local run, in the same order, bit for bit.
    """
    if points is None:
        points = plan(base, varies, inputs, references)
    references = tuple(references)
    if client is not None:
        from emu.distributed import map_ordered

        try:
            per_point = map_ordered(
                client,
                _remote_point,
                [(a, cfg, inp, references) for a, cfg, inp in points],
                progress,
            )
        finally:
            with contextlib.suppress(Exception):
                client.run(_release_worker_caches)
        return [row for rows in per_point for row in rows]
    cache, rows = _Cache(), []
    for assignment, cfg, inp in points:
        rows.extend(_point_rows(assignment, cfg, cache.references(cfg, inp), references))
        if progress:
            progress(1)
    return rows


def to_csv(rows) -> str:
    """Rows as CSV text (header from the first row)."""
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def _num(v):
    try:
        return float(v)
    except ValueError:
        return None


def plot_png(
    rows, varies, metric: str = "max_rel", reference: str = "exact", title: str = ""
) -> bytes:
    """A PNG (bytes) of ``metric`` against the first knob, one line per value of the
    second; log scale when every value is positive.  matplotlib, Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if metric not in METRIC_NAMES:
        raise UsageError(f"--metric {metric!r}: expected one of {', '.join(METRIC_NAMES)}")
    k1, vals1 = varies[0]
    numeric = all(_num(v) is not None for v in vals1)
    xs = [float(v) for v in vals1] if numeric else list(range(len(vals1)))
    series = [(None, None)] if len(varies) == 1 else [(varies[1][0], v) for v in varies[1][1]]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    allpos = True
    for k2, v2 in series:
        ys = []
        for v1 in vals1:
            sel = [
                r
                for r in rows
                if r["reference"] == reference and r[k1] == v1 and (k2 is None or r[k2] == v2)
            ]
            ys.append(sel[0][metric] if sel else float("nan"))
        allpos &= all(y > 0 for y in ys if y == y)
        ax.plot(xs, ys, marker="o", label=None if k2 is None else f"{k2}={v2}")
    if allpos:
        ax.set_yscale("log")
    if not numeric:
        ax.set_xticks(xs, vals1)
    ax.set_xlabel(k1)
    ax.set_ylabel(f"{metric} vs {reference}")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    if len(varies) == 2:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def format_table(rows, varies) -> str:
    """Terminal table of the sweep rows (knobs, reference, main metrics)."""
    knobs = [k for k, _ in varies]
    head = (*knobs, "reference", "fmt", "max_abs", "max_rel", "median_rel", "normwise", "bit_exact")

    def f(v):
        return f"{v:.3e}" if isinstance(v, float) and v not in (0.0,) else str(v)

    body = [
        (
            *[str(r[k]) for k in knobs],
            r["reference"],
            r["result_format"],
            f(r["max_abs"]),
            f(r["max_rel"]),
            f(r["median_rel"]),
            f(r["normwise"]),
            f"{r['bit_exact']}/{r['n']}",
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in [head, *body]
    )
