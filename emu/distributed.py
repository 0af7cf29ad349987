"""fp8emu on a Dask cluster (the optional extra ``pip install fp8emu[dask]``).

* :func:`connect`: a ``distributed.Client`` of a running cluster (``address``, e.g.
  ``tcp://host:8786`` of a ``dask scheduler``) or of a ``LocalCluster`` of
  ``workers`` processes on this machine, with fp8emu checked (same version) and its
  numba kernels loaded on every worker (``emu.warmup.warm``) before any work;
* :func:`gemm`: ``emu.gemm`` with the rows of A split into blocks computed on the
  cluster (stacked operands too); every element of D depends only on its own row of
  A, C and sa, so the result is bit-identical to ``emu.gemm`` on one machine;
* sweeps: ``emu.toolkit.sweep.sweep(..., client=client)`` (``fp8emu sweep --dask
  ADDRESS`` / ``--workers N``) runs one task per point, rows in the local order.

Dask is imported only inside these functions, so ``import emu`` and every command
without ``--dask``/``--workers`` work without it; a missing Dask is one
:class:`emu.errors.UsageError` line (``--dask needs the optional extra: pip install
fp8emu[dask]``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading

import numpy as np

from emu.errors import UsageError

EXTRA = "pip install fp8emu[dask]"
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler and to see its first worker
LOCAL_WORKERS_PER_CORE = 2  # a LocalCluster larger than this only oversubscribes


def require(option: str = "emu.distributed"):
    """The ``distributed`` module, or UsageError ``<option> needs the optional extra``."""
    try:
        import distributed
    except ImportError:
        raise UsageError(f"{option} needs the optional extra: {EXTRA}") from None
    return distributed


def nthreads(client) -> int:
    """Worker threads of the cluster now (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def _setup_worker(warm: bool):
    """On a worker: fp8emu's version, after loading (or compiling) every kernel of
    emu.gemm and of the sweeps."""
    import emu

    if warm:
        import emu.toolkit.sweep
        import emu.warmup

        try:
            emu.warmup.warm(verbose=False)
        except SystemExit as e:  # warm() refuses kernels that differ from the reference
            raise RuntimeError(str(e)) from None
        emu.toolkit.sweep.warm()
    return emu.__version__


@contextlib.contextmanager
def _workers_ignore_sigint():
    """Spawn the worker processes with SIGINT ignored (spawned processes inherit an
    ignored signal): a Ctrl-C reaches the whole process group, and only this
    process should act on it (cancel, close the cluster) instead of every worker
    printing a traceback.  A Ctrl-C during the start itself (about a second) is
    lost.  Only the main thread may change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _check_workers(client, where: str, warm: bool, timeout: float) -> None:
    """Wait for a worker, then run :func:`_setup_worker` once on every worker."""
    import emu

    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise UsageError(
            f"{where}: no Dask worker joined within {timeout:g} s "
            "(start one with: dask worker SCHEDULER_ADDRESS)"
        ) from None
    futures = {
        w: client.submit(_setup_worker, warm, workers=[w], allow_other_workers=False, pure=False)
        for w in client.scheduler_info(n_workers=-1)["workers"]
    }
    for w, f in futures.items():  # every worker at once
        try:
            version = f.result()
        except Exception as e:
            raise UsageError(
                f"{where}: worker {w} cannot run fp8emu ({type(e).__name__}: {e}); "
                f"install fp8emu {emu.__version__} with the dask extra on every worker"
            ) from None
        if version != emu.__version__:
            raise UsageError(
                f"{where}: worker {w} has fp8emu {version}, this machine "
                f"{emu.__version__}: install the same version everywhere"
            )


def _open_client(distributed, where: str, address, timeout: float):
    """A Client of the scheduler at ``address``, or UsageError naming it."""
    if not isinstance(address, str):
        raise UsageError(f"{where}: expected an address string such as tcp://host:8786")
    if not address.startswith("inproc://"):  # in-process clusters (tests) have no port
        try:
            distributed.comm.get_address_host_port(address)
        except ValueError as e:
            raise UsageError(f"{where}: not a scheduler address ({e})") from None
    client = distributed.Client.__new__(distributed.Client)
    try:
        client.__init__(address, timeout=timeout)
    except BaseException as e:
        # a Client that failed to start would try to close itself again when it is
        # collected (and wait 20 s for a loop that has stopped): mark it closed
        with contextlib.suppress(Exception):
            client._loop_runner.stop()
        client.status = "closed"
        if isinstance(e, OSError | ValueError | TypeError):
            raise UsageError(f"{where}: cannot reach a Dask scheduler ({e})") from None
        raise
    return client


@contextlib.contextmanager
def connect(
    address: str | None = None,
    *,
    workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    warm: bool = True,
    timeout: float = CONNECT_TIMEOUT,
    option: str | None = None,
):
    """``with connect(...) as client:`` a ``distributed.Client``, closed at the end.

    ``address``: the scheduler of a running cluster (``tcp://host:8786``); else a
    ``LocalCluster`` on 127.0.0.1 of ``workers`` (default: one per core) workers of
    ``threads_per_worker`` threads, processes unless ``processes=False`` (the
    kernels of each process then use cores / (workers x threads) threads: the
    variable ``NUMBA_NUM_THREADS``, unless it is set here).
    ``warm``: load every numba kernel on every worker first.  ``option`` names the
    setting in error messages (``--dask``, ``--workers``).
    """
    if address is not None and workers is not None:
        raise UsageError(
            f"{option or 'connect'}: give an address (a running cluster) or a number "
            "of local workers, not both"
        )
    if option is None:
        option = "emu.distributed"
    if address is not None and not str(address).strip():
        raise UsageError(f"{option}: empty scheduler address (expected e.g. tcp://host:8786)")
    distributed = require(option)
    cluster = None
    if address is not None:
        where = f"{option} {address}"
        client = _open_client(distributed, where, address, timeout)
    else:
        cores = os.cpu_count() or 1
        if workers is None:
            workers = max(1, cores // threads_per_worker)
        if workers < 1 or threads_per_worker < 1:
            raise UsageError(f"{option}: workers and threads per worker must be >= 1")
        limit = LOCAL_WORKERS_PER_CORE * cores
        if workers * threads_per_worker > limit:
            raise UsageError(
                f"{option} {workers}: at most {limit} local worker threads on this machine "
                f"({cores} cores); for more, start a cluster and use its address"
            )
        where = f"{option} {workers}"
        kw = {}
        if processes and "NUMBA_NUM_THREADS" not in os.environ:
            kw["env"] = {"NUMBA_NUM_THREADS": str(max(1, cores // (workers * threads_per_worker)))}
        try:
            with _workers_ignore_sigint() if processes else contextlib.nullcontext():
                cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=threads_per_worker,
                    processes=processes,
                    host="127.0.0.1",
                    # the scheduler's HTTP server (health, metrics) on a free loopback
                    # port, no dashboard: 8787 may be taken by another cluster
                    dashboard_address="127.0.0.1:0",
                    scheduler_kwargs={"dashboard": False},
                    # stderr holds fp8emu's errors only: a failed task is raised here
                    silence_logs=logging.CRITICAL,
                    **kw,
                )
            client = distributed.Client(cluster)
        except BaseException as e:
            if cluster is not None:
                cluster.close()
            if isinstance(e, OSError):
                raise UsageError(f"{where}: cannot start a local Dask cluster ({e})") from None
            raise
    try:
        _check_workers(client, where, warm, timeout)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_ordered(client, fn, items, progress=None) -> list:
    """``[fn(*args) for args in items]`` as one task per item on the cluster, in the
    order of ``items``; ``progress(1)`` as each finishes (in any order, on any
    worker).  The first failure cancels the rest and is raised here."""
    items = list(items)
    if not items:
        return []
    from distributed import as_completed

    futures = client.map(fn, *zip(*items), pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    out = [None] * len(items)
    done = False
    try:
        for f in as_completed(futures):
            out[index[f.key]] = f.result()
            if progress:
                progress(1)
        done = True
    finally:
        if not done:
            client.cancel(futures)
    return out


# ------------------------------------------------------------------ gemm
def _block(block, b, sb, config):
    """On a worker: emu.gemm of one row block ``(a, c, sa)`` with the shared B."""
    from emu.gemm import gemm

    a, c, sa = block
    return gemm(a, b, c=c, sa=sa, sb=sb, config=config)


def _checked(a, b, c, sa, sb, config):
    """One 2-D problem checked here (UsageError as emu.gemm's) and normalised:
    (operands, c given, sa given, sb as given)."""
    from emu.numerics.operands import check

    ops = check(a, b, c, sa, sb, config)
    return ops, c is not None, sa is not None, None if sb is None else np.asarray(sb)


def _submit(client, problem, rows: int) -> list:
    """Futures of the row blocks of one checked 2-D problem."""
    ops, has_c, has_sa, sb = problem
    M = ops.a.shape[0]
    blocks = [
        (
            ops.a[r0 : r0 + rows],
            ops.c[r0 : r0 + rows] if has_c else None,
            ops.sa[r0 : r0 + rows] if has_sa else None,
        )
        for r0 in range(0, M, rows)
    ]
    b_f = client.scatter(ops.b, hash=False)
    sb_f = None if sb is None else client.scatter(sb, hash=False)
    block_fs = client.scatter(blocks, hash=False)
    return [client.submit(_block, f, b_f, sb_f, ops.config, pure=False) for f in block_fs]


def _gather(client, jobs) -> list:
    """The results of every job's row blocks, one array per job (all or nothing)."""
    futures = [f for fs in jobs for f in fs]
    try:
        got = iter(client.gather(futures))
    except BaseException:
        client.cancel(futures)
        raise
    return [np.concatenate([next(got) for _ in fs], axis=0) for fs in jobs]


def gemm(a, b, *, c=None, sa=None, sb=None, config=None, client=None, rows=None) -> np.ndarray:
    """``emu.gemm(a, b, c=c, sa=sa, sb=sb, config=config)`` with A's rows split into
    blocks of ``rows`` rows (default: one block per worker thread), each block one
    ``emu.gemm`` task on ``client``'s cluster (default: the current Dask client).

    Bit-identical to ``emu.gemm`` on one machine: each element of D depends only on
    its own row of A, C and sa.  Operands are checked here first (the same errors
    as ``emu.gemm``); B and sb are sent once per problem.  Stacked operands work as
    in ``emu.gemm``: with B shared, the rows of every A form one problem; with B
    stacked, each matrix is split on its own.
    """
    distributed = require("emu.distributed.gemm")
    if client is None:
        try:
            client = distributed.default_client()
        except ValueError:
            raise UsageError(
                "emu.distributed.gemm: no Dask client: pass client=, e.g. from "
                "emu.distributed.connect()"
            ) from None
    if rows is not None and (
        isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 1
    ):
        raise UsageError(f"rows: expected a positive integer, got {rows!r}")

    if np.ndim(a) == 2 and np.ndim(b) == 2:
        problems, finish = [_checked(a, b, c, sa, sb, config)], lambda ds: ds[0]
    else:
        problems, finish = _stacked(a, b, c, sa, sb, config)
    total = sum(p[0].a.shape[0] for p in problems)
    if not problems:  # an empty stack
        return finish([])
    if total == 0:  # nothing to split
        from emu.gemm import gemm as local

        return local(a, b, c=c, sa=sa, sb=sb, config=config)
    if rows is None:
        rows = max(1, math.ceil(total / nthreads(client)))
    rows = int(rows)
    return finish(_gather(client, [_submit(client, p, rows) for p in problems]))


def _stacked(a, b, c, sa, sb, config):
    """Checked 2-D problems of a stack, and the function that assembles their
    results: the same split as :func:`emu.numerics.operands.batched`."""
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

    def full(k):
        x = arrs[k]
        return np.broadcast_to(x, (*batch, *x.shape[-2:]))

    if arrs["b"].ndim == 2 and ("sb" not in arrs or arrs["sb"].ndim == 2):
        # B shared: the rows of every A (and of C, sa) form one problem
        def rows(k):
            if k not in arrs:
                return None
            x = full(k)
            return x.reshape(-1, x.shape[-1])

        p = _checked(rows("a"), arrs["b"], rows("c"), rows("sa"), arrs.get("sb"), config)
        return [p], lambda ds: ds[0].reshape(*batch, -1, ds[0].shape[-1])
    idxs = list(np.ndindex(*batch))
    problems = []
    for idx in idxs:
        item = {k: (full(k)[idx] if x.ndim > 2 else x) for k, x in arrs.items()}
        problems.append(
            _checked(item["a"], item["b"], item.get("c"), item.get("sa"), item.get("sb"), config)
        )

    def finish(ds):
        M, N = arrs["a"].shape[-2], arrs["b"].shape[-1]
        out = np.empty((*batch, M, N), np.float32)
        for idx, d in zip(idxs, ds):
            out[idx] = d
        return out

    return problems, finish
