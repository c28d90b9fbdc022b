"""Reference values for bayes_signrank from the independent `baycomp` package (Benavoli et al.).

Not a project dependency and not needed by the test suite.  Reproduce with
    /work/venv/bin/pip install baycomp==1.0.3
    /work/venv/bin/python tests/reference/baycomp_reference.py
Monte Carlo: 200000 posterior samples, random_state=0.  The printed numbers are pinned in tests/test_stats.py::test_bayes_signrank_matches_baycomp.
"""
import numpy as np
from baycomp import SignedRankTest

a10 = np.array([0.612, 0.587, 0.633, 0.601, 0.645, 0.598, 0.620, 0.575, 0.640, 0.609])
b10 = np.array([0.625, 0.583, 0.654, 0.609, 0.634, 0.615, 0.622, 0.601, 0.634, 0.624])
a30 = np.array([0.631, 0.667, 0.651, 0.579, 0.589, 0.664, 0.551, 0.657, 0.654, 0.611, 0.589,
                0.586, 0.583, 0.608, 0.616, 0.622, 0.679, 0.653, 0.631, 0.679, 0.578, 0.571,
                0.630, 0.556, 0.555, 0.617, 0.611, 0.669, 0.632, 0.617])
b30 = np.array([0.651, 0.682, 0.690, 0.543, 0.613, 0.629, 0.572, 0.625, 0.685, 0.571, 0.608,
                0.563, 0.584, 0.626, 0.611, 0.651, 0.705, 0.690, 0.672, 0.635, 0.544, 0.579,
                0.636, 0.528, 0.598, 0.620, 0.618, 0.680, 0.642, 0.608])
for name, x, y in (("n10", a10, b10), ("n30", a30, b30)):
    # ropes chosen so that no Walsh sum d_i + d_j (multiples of 0.001 here) lies exactly on
    # +-2*rope: there baycomp's answer depends on floating-point rounding of the sums.
    for rope in (0.00525, 0.01025):
        # x = a, y = b: baycomp works on y - x, i.e. b - a (our sign convention)
        p = SignedRankTest.probs(x, y, rope=rope, nsamples=200000, random_state=0)
        print(name, rope, tuple(round(float(v), 4) for v in p))
    p = SignedRankTest.probs(x, y, rope=0, nsamples=200000, random_state=0)
    print(name, 0, tuple(round(float(v), 4) for v in p))
