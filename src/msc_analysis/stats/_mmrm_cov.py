"""Within-subject covariance structures of the MMRM (private helper of :mod:`.mmrm`).

Each structure has two parameterisations:

* the *natural* parameters ``theta``, the ones SAS PROC MIXED reports in "Covariance Parameter
  Estimates" (variances, covariances, correlations), in SAS's order. Inference (the asymptotic
  covariance of the covariance parameters, Satterthwaite and Kenward-Roger) works on ``theta``,
  so the second-derivative term of the Kenward-Roger adjustment is the one SAS computes
  (it is not invariant to the parameterisation; for the linear structures UN, CS and TOEP it is
  zero, as in SAS).
* unconstrained parameters ``psi`` (log-Cholesky, log variances, tanh / logistic correlations,
  Durbin-Levinson partial autocorrelations) over which the likelihood is optimised, so that every
  ``psi`` gives a positive definite matrix.

``theta_from_psi`` uses only arithmetic, ``exp`` and ``tanh`` so that complex-step
differentiation gives its Jacobian to machine precision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

STRUCTURES: tuple[str, ...] = ("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh")
"""Names accepted by :func:`make_structure` (SAS types UN, TOEP, TOEPH, AR(1), ARH(1), CS, CSH)."""


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _durbin_levinson(partial):
    """Autocorrelations rho_1..rho_m from partial autocorrelations phi_1..phi_m.

    A Toeplitz correlation matrix built from the result is positive definite whenever every
    partial autocorrelation lies in (-1, 1).
    """
    m = len(partial)
    rho = [partial[0]] if m else []
    coef = [partial[0]] if m else []
    for j in range(1, m):
        phi = partial[j]
        pred = sum(coef[i] * rho[j - 1 - i] for i in range(j))
        explained = sum(coef[i] * rho[i] for i in range(j))
        rho.append(pred + phi * (1.0 - explained))
        coef = [coef[i] - phi * coef[j - 1 - i] for i in range(j)] + [phi]
    return rho


@dataclass(frozen=True)
class CovStructure:
    """A covariance structure for ``k`` visits.

    Attributes
    ----------
    name : str
        Structure name (``"us"``, ``"ar1"``, ...).
    k : int
        Number of visits.
    theta_names : tuple of str
        SAS-style names of the natural parameters.
    """

    name: str
    k: int
    theta_names: tuple[str, ...]
    _psi_to_theta: Callable
    _sigma: Callable[[FloatArray], FloatArray]
    _dsigma: Callable[[FloatArray], FloatArray]
    _d2sigma: Callable[[FloatArray], FloatArray]
    _start: Callable[[FloatArray], FloatArray]

    @property
    def n_theta(self) -> int:
        """Number of covariance parameters."""
        return len(self.theta_names)

    def theta_from_psi(self, psi: NDArray) -> NDArray:
        """Natural parameters from unconstrained ones (accepts complex input)."""
        return self._psi_to_theta(psi)

    def jacobian(self, psi: FloatArray) -> FloatArray:
        """Jacobian d theta / d psi (n_theta x n_psi) by complex-step differentiation."""
        h = 1e-30
        n = len(psi)
        jac = np.empty((self.n_theta, n))
        for j in range(n):
            z = psi.astype(complex)
            z[j] += 1j * h
            jac[:, j] = np.imag(np.asarray(self._psi_to_theta(z))) / h
        return jac

    def sigma(self, theta: FloatArray) -> FloatArray:
        """The k x k covariance matrix."""
        return self._sigma(theta)

    def dsigma(self, theta: FloatArray) -> FloatArray:
        """First derivatives d Sigma / d theta_m, shape (n_theta, k, k)."""
        return self._dsigma(theta)

    def d2sigma(self, theta: FloatArray) -> FloatArray:
        """Second derivatives, shape (n_theta, n_theta, k, k)."""
        return self._d2sigma(theta)

    def start(self, visit_var: FloatArray) -> FloatArray:
        """Starting ``psi``: the visit variances given, no correlation."""
        return self._start(np.asarray(visit_var, dtype=float))


# --------------------------------------------------------------------------------------------
# linear structures: Sigma = sum_m theta_m B_m (UN, CS, TOEP, and the one-visit case)


def _linear(
    name: str,
    k: int,
    names: tuple[str, ...],
    basis: FloatArray,
    psi_to_theta: Callable,
    start: Callable[[FloatArray], FloatArray],
) -> CovStructure:
    n = len(names)

    def sigma(theta: FloatArray) -> FloatArray:
        return np.einsum("m,mde->de", theta, basis)

    return CovStructure(
        name=name,
        k=k,
        theta_names=names,
        _psi_to_theta=psi_to_theta,
        _sigma=sigma,
        _dsigma=lambda theta: basis,
        _d2sigma=lambda theta: np.zeros((n, n, k, k)),
        _start=start,
    )


def _unstructured(k: int) -> CovStructure:
    pairs = [(i, j) for i in range(k) for j in range(i + 1)]
    names = tuple(f"UN({i + 1},{j + 1})" for i, j in pairs)
    basis = np.zeros((len(pairs), k, k))
    for m, (i, j) in enumerate(pairs):
        basis[m, i, j] = basis[m, j, i] = 1.0

    def psi_to_theta(psi):
        # log-Cholesky: L lower triangular with exp() on the diagonal, Sigma = L L'
        rows: list[list] = [[0.0] * k for _ in range(k)]
        for m, (i, j) in enumerate(pairs):
            rows[i][j] = np.exp(psi[m]) if i == j else psi[m]
        out = []
        for i, j in pairs:
            out.append(sum(rows[i][c] * rows[j][c] for c in range(j + 1)))
        return np.array(out)

    def start(var: FloatArray) -> FloatArray:
        psi = np.zeros(len(pairs))
        for m, (i, j) in enumerate(pairs):
            if i == j:
                psi[m] = 0.5 * np.log(var[i])
        return psi

    return _linear("us", k, names, basis, psi_to_theta, start)


def _compound_symmetry(k: int) -> CovStructure:
    lo = -1.0 / (k - 1)
    basis = np.stack([np.ones((k, k)), np.eye(k)])

    def psi_to_theta(psi):
        total = np.exp(psi[0])
        rho = lo + (1.0 - lo) * _sigmoid(psi[1])
        return np.array([rho * total, (1.0 - rho) * total])

    def start(var: FloatArray) -> FloatArray:
        p = -lo / (1.0 - lo)  # rho = 0
        return np.array([np.log(np.mean(var)), np.log(p / (1.0 - p))])

    return _linear("cs", k, ("CS", "Residual"), basis, psi_to_theta, start)


def _toeplitz(k: int) -> CovStructure:
    lag = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    basis = np.stack([(lag == b).astype(float) for b in range(1, k)] + [np.eye(k)])
    names = (*(f"TOEP({b + 1})" for b in range(1, k)), "Residual")

    def psi_to_theta(psi):
        var = np.exp(psi[0])
        rho = _durbin_levinson([np.tanh(p) for p in psi[1:]])
        return np.array([var * r for r in rho] + [var])

    def start(var: FloatArray) -> FloatArray:
        return np.concatenate([[np.log(np.mean(var))], np.zeros(k - 1)])

    return _linear("toep", k, names, basis, psi_to_theta, start)


def _scalar(name: str) -> CovStructure:
    basis = np.ones((1, 1, 1))
    return _linear(
        name,
        1,
        ("Residual",),
        basis,
        lambda psi: np.array([np.exp(psi[0])]),
        lambda var: np.array([np.log(var[0])]),
    )


# --------------------------------------------------------------------------------------------
# AR(1), homogeneous: theta = (rho, sigma^2), Sigma = sigma^2 rho^|i-j|


def _ar1(k: int) -> CovStructure:
    lag = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)

    def corr(rho: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        c = rho**lag
        d1 = np.where(lag >= 1, lag * rho ** np.maximum(lag - 1, 0), 0.0)
        d2 = np.where(lag >= 2, lag * (lag - 1) * rho ** np.maximum(lag - 2, 0), 0.0)
        return c, d1, d2

    def sigma(theta: FloatArray) -> FloatArray:
        return theta[1] * corr(theta[0])[0]

    def dsigma(theta: FloatArray) -> FloatArray:
        c, d1, _ = corr(theta[0])
        return np.stack([theta[1] * d1, c])

    def d2sigma(theta: FloatArray) -> FloatArray:
        _, d1, d2 = corr(theta[0])
        out = np.zeros((2, 2, k, k))
        out[0, 0] = theta[1] * d2
        out[0, 1] = out[1, 0] = d1
        return out

    return CovStructure(
        name="ar1",
        k=k,
        theta_names=("AR(1)", "Residual"),
        _psi_to_theta=lambda psi: np.array([np.tanh(psi[0]), np.exp(psi[1])]),
        _sigma=sigma,
        _dsigma=dsigma,
        _d2sigma=d2sigma,
        _start=lambda var: np.array([0.0, np.log(np.mean(var))]),
    )


# --------------------------------------------------------------------------------------------
# heterogeneous structures: theta = (v_1..v_k, r), Sigma = D C(r) D with D = diag(sqrt(v))


def _heterogeneous(
    name: str,
    k: int,
    r_names: tuple[str, ...],
    corr: Callable[[FloatArray], tuple[FloatArray, FloatArray, FloatArray]],
    r_from_psi: Callable,
    r_start: FloatArray,
) -> CovStructure:
    nr = len(r_names)
    names = tuple(f"Var({i + 1})" for i in range(k)) + r_names
    n = k + nr
    unit = np.eye(k)

    def parts(theta: FloatArray):
        v = theta[:k]
        s = np.sqrt(v)
        c, dc, d2c = corr(theta[k:])
        # dD/dv_a = e_a e_a' / (2 s_a); d2D/dv_a^2 = -e_a e_a' / (4 s_a^3)
        e1 = np.stack([np.outer(unit[a], unit[a]) / (2.0 * s[a]) for a in range(k)])
        e2 = np.stack([-np.outer(unit[a], unit[a]) / (4.0 * s[a] ** 3) for a in range(k)])
        return np.diag(s), c, dc, d2c, e1, e2

    def sigma(theta: FloatArray) -> FloatArray:
        d, c, *_ = parts(theta)
        return d @ c @ d

    def dsigma(theta: FloatArray) -> FloatArray:
        d, c, dc, _, e1, _ = parts(theta)
        out = np.empty((n, k, k))
        for a in range(k):
            out[a] = e1[a] @ c @ d + d @ c @ e1[a]
        for b in range(nr):
            out[k + b] = d @ dc[b] @ d
        return out

    def d2sigma(theta: FloatArray) -> FloatArray:
        d, c, dc, d2c, e1, e2 = parts(theta)
        out = np.zeros((n, n, k, k))
        for a in range(k):
            for a2 in range(k):
                out[a, a2] = e1[a] @ c @ e1[a2] + e1[a2] @ c @ e1[a]
            out[a, a] += e2[a] @ c @ d + d @ c @ e2[a]
            for b in range(nr):
                out[a, k + b] = out[k + b, a] = e1[a] @ dc[b] @ d + d @ dc[b] @ e1[a]
        for b in range(nr):
            for b2 in range(nr):
                out[k + b, k + b2] = d @ d2c[b, b2] @ d
        return out

    def psi_to_theta(psi):
        v = [np.exp(p) for p in psi[:k]]
        return np.array(v + list(r_from_psi(psi[k:])))

    def start(var: FloatArray) -> FloatArray:
        return np.concatenate([np.log(var), r_start])

    return CovStructure(
        name=name,
        k=k,
        theta_names=names,
        _psi_to_theta=psi_to_theta,
        _sigma=sigma,
        _dsigma=dsigma,
        _d2sigma=d2sigma,
        _start=start,
    )


def _csh(k: int) -> CovStructure:
    lo = -1.0 / (k - 1)
    off = 1.0 - np.eye(k)

    def corr(r: FloatArray):
        return np.eye(k) + r[0] * off, off[None], np.zeros((1, 1, k, k))

    p = -lo / (1.0 - lo)
    return _heterogeneous(
        "csh",
        k,
        ("CSH",),
        corr,
        lambda z: [lo + (1.0 - lo) * _sigmoid(z[0])],
        np.array([np.log(p / (1.0 - p))]),
    )


def _ar1h(k: int) -> CovStructure:
    lag = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)

    def corr(r: FloatArray):
        rho = r[0]
        c = rho**lag
        d1 = np.where(lag >= 1, lag * rho ** np.maximum(lag - 1, 0), 0.0)
        d2 = np.where(lag >= 2, lag * (lag - 1) * rho ** np.maximum(lag - 2, 0), 0.0)
        return c, d1[None], d2[None, None]

    return _heterogeneous("ar1h", k, ("ARH(1)",), corr, lambda z: [np.tanh(z[0])], np.zeros(1))


def _toeph(k: int) -> CovStructure:
    lag = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    dc = np.stack([(lag == b).astype(float) for b in range(1, k)])

    def corr(r: FloatArray):
        c = np.eye(k) + np.einsum("b,bde->de", r, dc)
        return c, dc, np.zeros((k - 1, k - 1, k, k))

    return _heterogeneous(
        "toeph",
        k,
        tuple(f"TOEPH({b})" for b in range(1, k)),
        corr,
        lambda z: _durbin_levinson([np.tanh(p) for p in z]),
        np.zeros(k - 1),
    )


def make_structure(name: str, k: int) -> CovStructure:
    """Build covariance structure ``name`` for ``k`` visits.

    Parameters
    ----------
    name : str
        One of :data:`STRUCTURES`.
    k : int
        Number of distinct visits (at least 1). With one visit every structure reduces to a
        single variance.

    Returns
    -------
    CovStructure
    """
    if name not in STRUCTURES:
        raise ValueError(f"covariance must be one of {', '.join(STRUCTURES)}; got {name!r}")
    if k < 1:
        raise ValueError("at least one visit is needed")
    if k == 1:
        return _scalar(name)
    builders = {
        "us": _unstructured,
        "cs": _compound_symmetry,
        "toep": _toeplitz,
        "ar1": _ar1,
        "csh": _csh,
        "ar1h": _ar1h,
        "toeph": _toeph,
    }
    return builders[name](k)
