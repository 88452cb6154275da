"""Likelihood engine of the MMRM (private helper of :mod:`.mmrm`).

The response vector is split by subject; each subject's covariance matrix is the sub-matrix of
the visit-level matrix ``Sigma`` at the subject's observed visits. Subjects are grouped by their
pattern of observed visits, and the cross-products the likelihood needs are accumulated once per
pattern, so one evaluation costs a few small dense operations per pattern whatever the number of
subjects.

Notation (Kenward & Roger 1997; SAS PROC MIXED documentation): ``V`` block-diagonal covariance,
``B = V^-1``, ``A = (X' B X)^-1`` (the model-based covariance of the fixed effects),
``P = B - B X A X' B``. The objective is ``-2 log L``::

    REML: log|V| + log|X'BX| + r'Br + (n - p) log(2 pi)
    ML:   log|V| + r'Br + n log(2 pi)

with ``r = y - X beta_hat`` (generalised least squares), the constants as in SAS.

Derivatives are taken with respect to the natural covariance parameters ``theta``
(``V_k = dV/dtheta_k``, ``V_kl`` the second derivatives)::

    d(-2 l)/d theta_k        = tr(P V_k) - y'P V_k P y                (REML; B for P in tr, ML)
    d2(-2 l)/d theta_k theta_l = tr(P V_kl) - tr(P V_k P V_l) + 2 y'P V_k P V_l P y - y'P V_kl P y

and the Kenward-Roger pieces ``M_k = X'B V_k B X`` (= -P_k of KR), ``N_kl = X'B V_k B V_l B X``
(Q_kl of KR) and ``R_kl = X'B V_kl B X``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_LOG_2PI = float(np.log(2.0 * np.pi))


class NotPositiveDefiniteError(ArithmeticError):
    """A covariance matrix (or X'V^-1 X) is not numerically positive definite."""


@dataclass(frozen=True)
class _Pattern:
    idx: IntArray  # observed visit indices (sorted)
    y: FloatArray  # (m, d)
    x: FloatArray  # (m, d, q)
    kxx: FloatArray  # (d, d, q, q): sum_i X_i[d, q] X_i[e, r]
    rows: IntArray  # (m, d): positions of the rows in the model arrays


@dataclass(frozen=True)
class Evaluation:
    """Objective and first-order quantities at one covariance matrix."""

    objective: float  # -2 log L (REML or ML)
    grad_sigma: FloatArray  # d objective / d Sigma (k x k), entries treated as free
    beta: FloatArray
    a: FloatArray  # (X'V^-1 X)^-1


@dataclass(frozen=True)
class SecondOrder:
    """Observed Hessian of -2 log L in ``theta`` and the Kenward-Roger matrices."""

    hessian: FloatArray  # (t, t)
    m: FloatArray  # (t, q, q)
    n: FloatArray  # (t, t, q, q)
    r: FloatArray  # (t, t, q, q)


class Engine:
    """REML / ML likelihood of a linear model with block-diagonal covariance over visits.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Response.
    x : ndarray, shape (n, q)
        Full-rank fixed-effects design matrix.
    subject : ndarray of int, shape (n,)
        Subject codes.
    visit : ndarray of int, shape (n,)
        Visit indices 0..k-1; at most one row per subject and visit.
    k : int
        Number of visits.
    """

    def __init__(
        self, y: FloatArray, x: FloatArray, subject: IntArray, visit: IntArray, k: int
    ) -> None:
        self.n, self.q = x.shape
        self.k = k
        order = np.lexsort((visit, subject))
        subj_sorted = subject[order]
        starts = np.flatnonzero(np.r_[True, subj_sorted[1:] != subj_sorted[:-1]])
        ends = np.r_[starts[1:], len(order)]
        groups: dict[tuple[int, ...], list[IntArray]] = {}
        for s, e in zip(starts, ends, strict=True):
            rows = order[s:e]
            groups.setdefault(tuple(int(v) for v in visit[rows]), []).append(rows)
        self.patterns: list[_Pattern] = []
        for key in sorted(groups, key=lambda t: (len(t), t)):
            rows = np.stack(groups[key])
            xp = x[rows]
            self.patterns.append(
                _Pattern(
                    idx=np.array(key, dtype=np.int64),
                    y=y[rows],
                    x=xp,
                    kxx=np.einsum("mdq,mer->deqr", xp, xp),
                    rows=rows,
                )
            )
        self.n_subjects = len(starts)

    # ----------------------------------------------------------------------------------------
    def _blocks(self, sigma: FloatArray) -> list[tuple[FloatArray, float]]:
        out = []
        for p in self.patterns:
            sd = sigma[np.ix_(p.idx, p.idx)]
            try:
                c, low = linalg.cho_factor(sd, lower=True, check_finite=False)
            except linalg.LinAlgError as exc:
                raise NotPositiveDefiniteError("covariance matrix not positive definite") from exc
            sinv = linalg.cho_solve((c, low), np.eye(len(p.idx)), check_finite=False)
            logdet = 2.0 * float(np.sum(np.log(np.diag(c))))
            out.append((sinv, logdet))
        return out

    def _gls(
        self, blocks: list[tuple[FloatArray, float]]
    ) -> tuple[FloatArray, FloatArray, float, list[FloatArray]]:
        xtbx = np.zeros((self.q, self.q))
        xtby = np.zeros(self.q)
        for p, (sinv, _) in zip(self.patterns, blocks, strict=True):
            xtbx += np.einsum("de,deqr->qr", sinv, p.kxx)
            xtby += np.einsum("de,mdq,me->q", sinv, p.x, p.y)
        xtbx = 0.5 * (xtbx + xtbx.T)
        try:
            c, low = linalg.cho_factor(xtbx, lower=True, check_finite=False)
        except linalg.LinAlgError as exc:
            raise NotPositiveDefiniteError("X'V^-1 X not positive definite") from exc
        a = linalg.cho_solve((c, low), np.eye(self.q), check_finite=False)
        beta = a @ xtby
        logdet_xtbx = 2.0 * float(np.sum(np.log(np.diag(c))))
        resid = [p.y - np.einsum("mdq,q->md", p.x, beta) for p in self.patterns]
        return beta, a, logdet_xtbx, resid

    def evaluate(self, sigma: FloatArray, reml: bool) -> Evaluation:
        """Objective ``-2 log L`` and its derivative with respect to ``Sigma``.

        Raises
        ------
        NotPositiveDefiniteError
            When ``Sigma`` (at an observed pattern) or ``X'V^-1 X`` is not positive definite.
        """
        blocks = self._blocks(sigma)
        beta, a, logdet_xtbx, resid = self._gls(blocks)
        obj = 0.0
        grad = np.zeros((self.k, self.k))
        for p, (sinv, logdet), r in zip(self.patterns, blocks, resid, strict=True):
            m = r.shape[0]
            rr = r.T @ r
            obj += m * logdet + float(np.sum(sinv * rr))
            g = m * sinv - sinv @ rr @ sinv
            if reml:
                g -= sinv @ np.einsum("deqr,qr->de", p.kxx, a) @ sinv
            grad[np.ix_(p.idx, p.idx)] += g
        if reml:
            obj += logdet_xtbx + (self.n - self.q) * _LOG_2PI
        else:
            obj += self.n * _LOG_2PI
        return Evaluation(objective=obj, grad_sigma=grad, beta=beta, a=a)

    def second_order(
        self, sigma: FloatArray, dsigma: FloatArray, d2sigma: FloatArray, reml: bool
    ) -> SecondOrder:
        """Observed Hessian of ``-2 log L`` in ``theta`` and the matrices M, N, R."""
        blocks = self._blocks(sigma)
        _, a, _, resid = self._gls(blocks)
        t = dsigma.shape[0]
        q = self.q
        m_k = np.zeros((t, q, q))
        n_kl = np.zeros((t, t, q, q))
        r_kl = np.zeros((t, t, q, q))
        tr_bb = np.zeros((t, t))
        tr_bvkl = np.zeros((t, t))
        y1 = np.zeros((t, t))
        y2 = np.zeros((t, t))
        xba = np.zeros((t, q))
        for p, (sinv, _), r in zip(self.patterns, blocks, resid, strict=True):
            ix = np.ix_(p.idx, p.idx)
            dk = dsigma[:, ix[0], ix[1]]
            dkl = d2sigma[:, :, ix[0], ix[1]]
            m = r.shape[0]
            rr = r.T @ r
            xr = np.einsum("mdq,me->deq", p.x, r)
            sd = sinv @ dk  # (t, d, d): B V_k
            sds = sd @ sinv  # B V_k B
            tkl = np.einsum("kde,lef->kldf", sd, sds)  # B V_k B V_l B
            skls = sinv @ dkl @ sinv  # B V_kl B
            m_k += np.einsum("kde,deqr->kqr", sds, p.kxx)
            n_kl += np.einsum("klde,deqr->klqr", tkl, p.kxx)
            r_kl += np.einsum("klde,deqr->klqr", skls, p.kxx)
            tr_bb += m * np.einsum("kde,led->kl", sd, sd)
            tr_bvkl += m * np.einsum("de,kled->kl", sinv, dkl)
            y1 += np.einsum("klde,ed->kl", tkl, rr)
            y2 += np.einsum("klde,ed->kl", skls, rr)
            xba += np.einsum("kde,deq->kq", sds, xr)
        y_pvpvp = y1 - xba @ a @ xba.T
        if reml:
            am = np.einsum("qr,krs->kqs", a, m_k)  # A M_k
            tr_pp = (
                tr_bb - 2.0 * np.einsum("qr,klrq->kl", a, n_kl) + np.einsum("kqr,lrq->kl", am, am)
            )
            tr_pvkl = tr_bvkl - np.einsum("qr,klrq->kl", a, r_kl)
        else:
            tr_pp = tr_bb
            tr_pvkl = tr_bvkl
        hess = tr_pvkl - tr_pp + 2.0 * y_pvpvp - y2
        hess = 0.5 * (hess + hess.T)
        return SecondOrder(hessian=hess, m=m_k, n=n_kl, r=r_kl)
