"""fp8emu: a bit-accurate emulator of an FP8 tensor core with UE8M0 block scales.

Public API::

    emu.MacConfig, emu.preset(name), emu.presets()
    emu.gemm(a, b, *, c=None, sa=None, sb=None, config)   # numba kernels
    emu.reference.gemm(...)                                # the exact, slow spec
    emu.quantize(x, fmt, block, scale_mode)                # FP32 -> FP8 + UE8M0
"""

from emu import _interrupt  # noqa: F401  (first: Ctrl-C while emu loads is one line)
from emu.errors import MachineFault, UsageError
from emu.gemm import gemm  # noqa: E402  (binds the function over the submodule name)
from emu.numerics import reference
from emu.numerics.config import MacConfig, preset, presets

__version__ = "0.1.0"
__all__ = [
    "MacConfig",
    "preset",
    "presets",
    "gemm",
    "quantize",
    "dequantize",
    "reference",
    "UsageError",
    "MachineFault",
    "__version__",
]


def quantize(x, fmt="e4m3", block=(1, 128), scale_mode="floor"):
    """FP32 -> (FP8 codes, UE8M0 scale codes) (see :func:`emu.numerics.quant.quantize`)."""
    from emu.numerics.quant import quantize as _q

    return _q(x, fmt, block, scale_mode)


def dequantize(codes, scales, fmt="e4m3", block=(1, 128)):
    """(codes, scales) -> float64 values (see :func:`emu.numerics.quant.dequantize`)."""
    from emu.numerics.quant import dequantize as _dq

    return _dq(codes, scales, fmt, block)
