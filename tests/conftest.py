"""Hypothesis profiles and the fixtures; the shared helpers are in tests/helpers.py."""

import os

import numpy as np
import pytest
from hypothesis import settings

# CI runs the same examples every time (derandomize); HYPOTHESIS_PROFILE=explore
# searches new ones (run it locally after changing a kernel).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
