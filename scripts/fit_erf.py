# SPDX-License-Identifier: Apache-2.0
"""Fits the rational approximation of erf that pretext's float GELU uses
(include/pretext/backend/cpu/activation.hpp, detail::erf_rational):

    erf(z) ~= z P(z^2) / Q(z^2),  z clamped to [-C, C],  P of degree 6, Q of degree 4, Q(0) = 1.

Linearised least squares on Chebyshev nodes of [0, C] (e Q - z P = 0), reweighted by the last Q
(Sanathanan-Koerner iteration) so that the fit converges to the least-squares error of the ratio
itself. Then checks the coefficients in float32 arithmetic against math.erf over GELU's inputs.

Run: /usr/bin/python3 scripts/fit_erf.py   (needs numpy only)
"""
import math

import numpy as np

C = 3.92  # erf(3.92) = 1 - 6e-9: float's 1 beyond this
DP, DQ = 6, 4


def fit(n=6000, iters=20):
    z = (np.cos(np.pi * (np.arange(n) + 0.5) / n) * 0.5 + 0.5) * C
    e = np.array([math.erf(v) for v in z])
    t = z * z
    cols = [z * t**k for k in range(DP + 1)] + [-e * t**k for k in range(1, DQ + 1)]
    a = np.stack(cols, 1)
    scale = np.abs(a).max(0)
    q_prev = np.ones(n)
    for _ in range(iters):
        w = 1.0 / q_prev
        sol, *_ = np.linalg.lstsq((a / scale) * w[:, None], e * w, rcond=None)
        sol = sol / scale
        p, q = sol[: DP + 1], np.concatenate([[1.0], sol[DP + 1 :]])
        q_prev = np.polyval(q[::-1], t)
    assert q_prev.min() > 0.5, "Q has a root in range"
    return p, q


def erf_float32(p, q, x):
    f = np.float32
    z = np.clip(x.astype(f), f(-C), f(C))
    t = z * z
    num = f(p[-1])
    for c in p[-2::-1]:
        num = num * t + f(c)
    den = f(q[-1])
    for c in q[-2::-1]:
        den = den * t + f(c)
    return z * num / den


def main():
    p, q = fit()
    x = np.linspace(-8, 8, 400001).astype(np.float32)  # GELU's x; erf is taken at x / sqrt 2
    z = (x * np.float32(0.70710678118654752440)).astype(np.float32)
    ref = np.array([math.erf(float(v)) for v in z])
    err = np.abs(erf_float32(p, q, z).astype(np.float64) - ref).max()
    print(f"max |erf error| in float32 over z in [-5.7, 5.7]: {err:.3g}")
    print("P:", ", ".join(f"{c:.17g}" for c in p))
    print("Q:", ", ".join(f"{c:.17g}" for c in q))


if __name__ == "__main__":
    main()
