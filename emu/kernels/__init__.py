"""numba kernels behind emu.gemm, and the dispatch between them (as data).

``run(ops)`` (emu/kernels/dispatch.py):

1. decodes the operands once into flat integer arrays (magnitude, sign, exponent
   with product-time scales folded in, class) and builds the parameter record
   (:class:`~emu.kernels.record.Params`, made from the MacConfig and K in one place,
   ``Params.from_config``; the kernels get it as ``.record()`` and read it by field
   name): a :class:`Problem`;
2. picks the first kernel of :data:`KERNELS` that accepts the configuration
   (:func:`select`; the dispatch rule is below);
3. asks that kernel's data condition (``fits``) whether the decoded operands
   qualify: if so the kernel computes every element it decides and flags the rest
   in ``Problem.mask``; if not, the whole problem goes to the general kernel (not to
   the next kernel of the list);
4. the general kernel (the last entry, which accepts everything) computes the
   flagged elements, among them those whose row of A or column of B holds a NaN or
   an Inf or whose C is not finite.

The dispatch rule (safe by default).  Every kernel but the general one declares,
in ``supports``, a :class:`Rule` for each MacConfig field: the values it computes
bit for bit (``one_of(...)``), a test of the value in the context of the whole
config and K (``Rule(text, test)``), ``unused(reason)`` for a field that cannot
matter given the kernel's other declared values (``promote_round`` without
promotion), or a rule with ``.unless(reason, condition)`` for a field that cannot
matter only sometimes (``scale_apply`` when ``scale_block = 0``).  A kernel accepts
a config when every field of the config -- ``dataclasses.fields(cfg)``, never a
hard-coded list -- is allowed by its rule, or is in :data:`INDIFFERENT` (today only
``scale_b_tile``: emu.numerics.operands.check expands tile scales to per-column ones
before any kernel runs).  A field a kernel does not mention refuses every value, at
its default too, and a rule that cannot evaluate a value refuses it.  So a new
MacConfig field, or a new value of an existing field (a rounding mode, an operand
format, a new spelling), goes to the general kernel until its author declares it on
the fast kernels that honour it.  ``Kernel.refusal(cfg, K)`` says why a kernel does
not take a config; ``describe_support(field)`` writes the declarations for the docs.

To add a MacConfig field: give the general kernel what it needs (a field of
``Params``, see emu/kernels/record.py, read in emu/kernels/general.py), then declare
it in ``supports`` of each fast kernel that computes it bit for bit, ``unused``
where it cannot matter (emu/kernels/dispatch.py).  tests/test_dispatch.py fails
until every fast kernel declares every field, and checks that the presets still
land where they did.

To add a kernel: write a :class:`Kernel` in emu/kernels/dispatch.py (``supports``
with a rule for every field, ``fits`` for its data condition if it has one, ``run``
writing ``Problem.out`` and flagging in ``Problem.mask`` what it leaves undecided)
and put it in ``KERNELS`` before the kernels it takes precedence over, above the
general kernel; add a warm-up case for it (emu/warmup.py; tests/test_dispatch.py
checks that every kernel has one).

The modules: record.py (the parameter record), decode.py (operands -> Problem),
dispatch.py (the declarations, select, run; this package re-exports them), core.py
(numba building blocks), general.py, fast.py and floatpath.py (the kernels).
Importing the package, record, decode or dispatch loads no numba: a kernel's module
loads when the kernel first runs, so the declarations can be read cheaply (the docs'
tables, ``select``).
"""

from __future__ import annotations

from emu.kernels.decode import (
    FP32_NAN_BITS,
    Problem,
    decode_operands,
    decode_tables,
    finish,
    scale_exponents,
    values,
)
from emu.kernels.dispatch import (
    EXACT_STEP,
    FAST,
    FMA_CHAIN,
    GENERAL,
    INDIFFERENT,
    KERNELS,
    Kernel,
    Rule,
    describe_support,
    fast_params,
    one_of,
    params,
    run,
    select,
    unused,
)
from emu.kernels.record import Params

__all__ = [
    "EXACT_STEP",
    "FAST",
    "FMA_CHAIN",
    "FP32_NAN_BITS",
    "GENERAL",
    "INDIFFERENT",
    "KERNELS",
    "Kernel",
    "Params",
    "Problem",
    "Rule",
    "decode_operands",
    "decode_tables",
    "describe_support",
    "fast_params",
    "finish",
    "one_of",
    "params",
    "run",
    "scale_exponents",
    "select",
    "unused",
    "values",
]
