"""The numerics core: formats, fields, presets, configurations, block quantisation,
operand checks and the executable reference (the contract of docs/numerics.md in
Python integers).  Nothing here imports numba; the kernels build on this layer."""
