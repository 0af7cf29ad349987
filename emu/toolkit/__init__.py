"""The designer's and ML engineer's toolkit behind ``fp8emu compare / validate /
vectors / sweep``: error metrics against reference matmuls, validation of foreign
dumps, RTL test-vector export and parameter sweeps.  See docs/designer.md."""
