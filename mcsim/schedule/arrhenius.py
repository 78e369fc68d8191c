"""The quadrature behind :meth:`Schedule.integrate_arrhenius`: the Boltzmann factor
exp(-Ea/RT) and its adaptive Gauss-Legendre integral over a linear-temperature piece."""

from __future__ import annotations

import numpy as np

#: Molar gas constant, J/(mol K).
GAS_CONSTANT_J_PER_MOL_K = 8.314462618
#: 0 °C in kelvin.
_ZERO_C_IN_K = 273.15
#: Relative tolerance of :meth:`Schedule.integrate_arrhenius`.
ARRHENIUS_RTOL = 1e-12
#: Gauss-Legendre nodes and weights on [-1, 1] used for ramps.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)


def boltzmann(b_k: float, temp_c):
    """exp(-b / T) with T in kelvin; 0 at or below absolute zero."""
    temp_k = np.asarray(temp_c, dtype=float) + _ZERO_C_IN_K
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        value = np.where(temp_k > 0.0, np.exp(-b_k / np.where(temp_k > 0.0, temp_k, 1.0)),
                         0.0)
    return float(value) if value.ndim == 0 else value


def _gauss_ramp(b_k: float, temp0_c: float, rate: float, t0_s: float,
                lo_s: float, hi_s: float) -> float:
    """16-point Gauss-Legendre estimate of ∫ exp(-b/T) dt on [lo_s, hi_s] of a ramp."""
    half_s = 0.5 * (hi_s - lo_s)
    times = lo_s + half_s * (_GL_NODES + 1.0)
    temps = temp0_c + rate * (times - t0_s)
    return half_s * float(np.dot(_GL_WEIGHTS, boltzmann(b_k, temps)))


def adaptive_ramp_integral(b_k: float, temp0_c: float, rate: float,
                           t0_s: float, t1_s: float, depth: int = 0,
                           whole: float | None = None) -> float:
    """∫ exp(-b/T) dt over a linear-temperature piece, bisecting until converged."""
    if whole is None:
        whole = _gauss_ramp(b_k, temp0_c, rate, t0_s, t0_s, t1_s)
    mid_s = 0.5 * (t0_s + t1_s)
    left = _gauss_ramp(b_k, temp0_c, rate, t0_s, t0_s, mid_s)
    right = _gauss_ramp(b_k, temp0_c, rate, t0_s, mid_s, t1_s)
    both = left + right
    if abs(both - whole) <= ARRHENIUS_RTOL * abs(both) or depth >= 40:
        return both
    temp_mid_c = temp0_c + rate * (mid_s - t0_s)
    return (adaptive_ramp_integral(b_k, temp0_c, rate, t0_s, mid_s, depth + 1, left)
            + adaptive_ramp_integral(b_k, temp_mid_c, rate, mid_s, t1_s, depth + 1, right))
