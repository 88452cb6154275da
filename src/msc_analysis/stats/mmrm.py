"""Mixed model for repeated measures (MMRM), as SAS PROC MIXED with a REPEATED statement.

The model is ``y = X beta + e`` with ``e`` independent between subjects and, within a subject,
``Cov(e_i) = Sigma[o_i, o_i]`` where ``Sigma`` is a visit x visit covariance matrix of a chosen
structure and ``o_i`` the subject's observed visits. It is the model of

* SAS: ``PROC MIXED METHOD=REML; CLASS ...; MODEL y = ... / DDFM=SATTERTHWAITE (or KR);
  REPEATED visit / SUBJECT=subject TYPE=UN;``
* R: ``mmrm::mmrm(y ~ ... + us(visit | subject), reml = TRUE, method = "Satterthwaite")``.

Fixed effects come from a patsy formula (``"FEV1 ~ RACE + SEX + ARMCD * AVISIT"``) with
**treatment contrasts whose reference is the first level**, as R (``contr.treatment``); SAS's
default reference is the last level, so coefficients of factors differ from SAS's unless the
levels are ordered to match (``CLASS x(REF=...)``), while LS means, their differences, the
likelihood and the covariance estimates do not depend on the coding. Factor levels are the
categories of a pandas ``Categorical`` column in their order, otherwise the sorted distinct
values (natural order: digits compare as numbers, so ``"Day 7" < "Day 14"``). Numeric columns
are covariates.

Estimation maximises the REML (default) or ML likelihood with beta profiled out, over an
unconstrained parameterisation of the covariance (log-Cholesky for UN); L-BFGS-B with the
analytic gradient, then Newton steps with a finite-difference Hessian of that gradient.
Inference uses the observed information of the natural covariance parameters (those SAS
prints); degrees of freedom by Satterthwaite (SAS ``DDFM=SATTERTHWAITE``, R mmrm
``"Satterthwaite"``) or Kenward-Roger (SAS ``DDFM=KR``: adjusted covariance with the
second-derivative term in SAS's parameterisation, and KR degrees of freedom), or the residual
degrees of freedom.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import patsy
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy import stats as sps

from msc_analysis.errors import AnalysisError
from msc_analysis.stats._mmrm_cov import STRUCTURES, CovStructure, make_structure
from msc_analysis.stats._mmrm_engine import Engine, NotPositiveDefiniteError, SecondOrder
from msc_analysis.stats.threads import single_threaded

__all__ = [
    "DF_METHODS",
    "STRUCTURES",
    "FTestResult",
    "MmrmResult",
    "fit_mmrm",
    "fit_mmrm_with_fallback",
    "result_at_theta",
]

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

DF_METHODS: tuple[str, ...] = ("satterthwaite", "kenward-roger", "residual")
"""Accepted values of ``df`` in :func:`fit_mmrm`."""

_DF_ALIASES = {
    "satterthwaite": "satterthwaite",
    "satterth": "satterthwaite",
    "kenward-roger": "kenward-roger",
    "kenwardroger": "kenward-roger",
    "kr": "kenward-roger",
    "residual": "residual",
}

_NEWTON_DECREMENT_TOL = 1e-6  # g' H^-1 g at convergence, in units of -2 log L


# ============================================================================================
# data preparation


def _natural_key(value: Any) -> tuple:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return ((0, float(value)),)
    parts = re.split(r"(\d+)", str(value))
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


def _formula_columns(formula: str, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Columns named in the formula: (left-hand side, right-hand side)."""
    if "~" not in formula:
        raise ValueError(f"formula must have a response: 'y ~ terms'; got {formula!r}")
    lhs, rhs = formula.split("~", 1)
    colset = set(columns)

    def names(text: str) -> list[str]:
        found: list[str] = []
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError) as exc:
            raise ValueError(f"cannot read formula {formula!r}: {exc}") from exc
        for tok in tokens:
            cand = None
            if tok.type == tokenize.NAME:
                cand = tok.string
            elif tok.type == tokenize.STRING:
                cand = tok.string.strip("\"'")
            if cand in colset and cand not in found:
                found.append(cand)
        return found

    return names(lhs), names(rhs)


def _as_factor(values: pd.Series, levels: Sequence | None = None) -> pd.Categorical:
    present = pd.unique(values.dropna())
    if levels is not None:
        missing = [v for v in present if v not in set(levels)]
        if missing:
            raise AnalysisError(
                f"values {missing[:5]} of {values.name!r} are not among the levels given"
            )
        cats = [lv for lv in levels if lv in set(present)]
    elif isinstance(values.dtype, pd.CategoricalDtype):
        cats = [c for c in values.cat.categories if c in set(present)]
    else:
        cats = sorted(present, key=_natural_key)
    return pd.Categorical(values, categories=cats)


def _is_factor(values: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
        values.dtype
    )


@dataclass(frozen=True)
class _Prepared:
    frame: pd.DataFrame  # rows used, factors as Categorical
    excluded: pd.DataFrame  # columns row, reason
    response: list[str]
    covariates: list[str]  # right-hand-side columns
    factors: dict[str, list]  # factor column -> levels (used rows)
    visit_levels: list
    visit_codes: NDArray[np.int64]  # index of each used row's visit in visit_levels


def _prepare(
    data: pd.DataFrame,
    formula: str,
    subject: str,
    visit: str,
    visit_levels: Sequence | None,
) -> _Prepared:
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    for col in (subject, visit):
        if col not in data.columns:
            raise AnalysisError(f"MMRM: column {col!r} (subject/visit) is not in the data")
    lhs, rhs = _formula_columns(formula, list(data.columns))
    if not lhs:
        raise AnalysisError(f"MMRM: the response of {formula!r} names no column of the data")
    used = list(dict.fromkeys([*lhs, *rhs, subject, visit]))
    frame = data[used].copy()
    frame.index = pd.RangeIndex(len(frame))
    reasons: dict[int, list[str]] = {}
    for col in used:
        values = frame[col]
        miss = values.isna().to_numpy().copy()
        if not pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(
            values.dtype, pd.CategoricalDtype
        ):
            text = values.astype(object)
            miss |= np.array([isinstance(v, str) and v.strip() == "" for v in text], dtype=bool)
        for pos in np.flatnonzero(miss):
            reasons.setdefault(int(pos), []).append(f"missing {col}")
    bad = sorted(reasons)
    excluded = pd.DataFrame(
        {
            "row": [data.index[p] for p in bad],
            "reason": ["; ".join(reasons[p]) for p in bad],
        }
    )
    frame = frame.drop(index=bad)
    if frame.empty:
        raise AnalysisError("MMRM: no rows left after excluding rows with missing values")
    visit_factor = _as_factor(frame[visit], visit_levels)
    factors: dict[str, list] = {}
    for col in used:
        if col == subject or (col == visit and col not in rhs and col not in lhs):
            continue
        if col in rhs and col not in lhs and _is_factor(frame[col]):
            frame[col] = visit_factor if col == visit else _as_factor(frame[col])
            factors[col] = list(frame[col].cat.categories)
        else:
            if not pd.api.types.is_numeric_dtype(frame[col].dtype):
                raise AnalysisError(f"MMRM: column {col!r} of the response is not numeric")
            frame[col] = frame[col].astype(float)
    dup = frame.duplicated(subset=[subject, visit], keep=False)
    if dup.any():
        first = frame.loc[dup, [subject, visit]].drop_duplicates().head(5)
        pairs = ", ".join(f"{s}/{v}" for s, v in first.itertuples(index=False))
        raise AnalysisError(
            f"MMRM: more than one row per subject and visit ({subject}/{visit}: {pairs})"
        )
    return _Prepared(
        frame=frame,
        excluded=excluded,
        response=lhs,
        covariates=[c for c in rhs if c not in lhs],
        factors=factors,
        visit_levels=list(visit_factor.categories),
        visit_codes=np.asarray(visit_factor.codes, dtype=np.int64),
    )


# ============================================================================================
# inference


def _kr_df(v0: FloatArray, lmat: FloatArray, w: FloatArray, p: FloatArray) -> tuple[float, float]:
    """Kenward-Roger denominator df ``m`` and scale ``lambda`` (Kenward & Roger 1997).

    As R mmrm ``h_kr_df`` (and SAS ``DDFM=KR``): ``v0`` the unadjusted covariance of beta,
    ``w`` the asymptotic covariance of the covariance parameters, ``p`` the stack of ``P_k``.
    """
    nl = lmat.shape[0]
    theta = lmat.T @ np.linalg.solve(lmat @ v0 @ lmat.T, lmat)
    mv = [theta @ v0 @ pk @ v0 for pk in p]
    tr1 = np.array([np.trace(x) for x in mv])
    tr2 = np.array([[np.sum(x * y.T) for y in mv] for x in mv])
    a1 = float(tr1 @ w @ tr1)
    a2 = float(np.sum(w * tr2))
    b = (a1 + 6.0 * a2) / (2.0 * nl)
    e_star = 1.0 / (1.0 - a2 / nl)
    g = ((nl + 1) * a1 - (nl + 4) * a2) / ((nl + 2) * a2)
    denom = 3 * nl + 2 - 2 * g
    c1, c2, c3 = g / denom, (nl - g) / denom, (nl + 2 - g) / denom
    v_star = 2.0 / nl * (1 + c1 * b) / (1 - c2 * b) ** 2 / (1 - c3 * b)
    rho = v_star / (2.0 * e_star**2)
    m = 4.0 + (nl + 2) / (nl * rho - 1)
    lam = m / (e_star * (m - 2))
    return float(m), float(lam)


@dataclass(frozen=True)
class _Inference:
    method: str
    beta: FloatArray
    a: FloatArray  # model-based covariance of beta (unadjusted)
    a_adj: FloatArray  # reported covariance (KR adjusted when method is KR)
    w: FloatArray | None  # asymptotic covariance of theta (None when not positive definite)
    m_k: FloatArray  # (t, q, q)
    resid_df: float

    def _sat_df(self, lvec: FloatArray, var: float) -> float:
        if self.w is None:
            return float("nan")
        al = self.a @ lvec
        grad = np.einsum("q,kqr,r->k", al, self.m_k, al)
        denom = float(grad @ self.w @ grad)
        if denom <= 0.0:
            return float("inf")
        return 2.0 * var**2 / denom

    def one(self, lvec: FloatArray) -> tuple[float, float, float]:
        """Estimate, variance and df of ``l' beta``."""
        est = float(lvec @ self.beta)
        if self.method == "residual":
            return est, float(lvec @ self.a @ lvec), self.resid_df
        var0 = float(lvec @ self.a @ lvec)
        df = self._sat_df(lvec, var0)
        var = var0 if self.method == "satterthwaite" else float(lvec @ self.a_adj @ lvec)
        return est, var, df

    def multi(self, lmat: FloatArray) -> tuple[int, float, float]:
        """Numerator df, denominator df and F statistic of ``H0: L beta = 0``."""
        est = lmat @ self.beta
        if self.method == "kenward-roger":
            nl = lmat.shape[0]
            f = float(est @ np.linalg.solve(lmat @ self.a_adj @ lmat.T, est)) / nl
            if self.w is None:
                return nl, float("nan"), f
            m, lam = _kr_df(self.a, lmat, self.w, -self.m_k)
            return nl, m, f * lam
        cov = lmat @ self.a @ lmat.T
        vals, vecs = np.linalg.eigh(cov)
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order]
        rank = int(np.sum(vals > max(np.sqrt(np.finfo(float).eps) * vals[0], 0.0)))
        if rank == 0:
            raise ValueError("contrast matrix has rank 0")
        rows = vecs[:, :rank].T @ lmat
        t2 = (rows @ self.beta) ** 2 / vals[:rank]
        f = float(np.sum(t2) / rank)
        if self.method == "residual":
            return rank, self.resid_df, f
        dfs = np.array([self._sat_df(rows[i], vals[i]) for i in range(rank)])
        if rank == 1:
            return 1, float(dfs[0]), f
        if np.all(np.abs(np.diff(dfs)) < np.sqrt(np.finfo(float).eps)):
            den = float(np.mean(dfs))
        elif np.any(dfs <= 2):
            den = 2.0
        else:
            e = float(np.sum(dfs / (dfs - 2)))
            den = 2 * e / (e - rank)
        return rank, den, f


# ============================================================================================
# results


@dataclass(frozen=True)
class FTestResult:
    """F test of ``H0: L beta = 0`` (SAS CONTRAST / Type 3 style, R mmrm ``df_md``).

    Attributes
    ----------
    statistic : float
        F statistic (scaled by Kenward-Roger's lambda when ``df_method`` is KR).
    num_df : int
        Numerator degrees of freedom (rank of the contrast).
    den_df : float
        Denominator degrees of freedom.
    pvalue : float
        Upper-tail p-value.
    df_method : str
        Degrees-of-freedom method.
    """

    statistic: float
    num_df: int
    den_df: float
    pvalue: float
    df_method: str


@dataclass(frozen=True)
class MmrmResult:
    """A fitted MMRM. Values are unrounded.

    Attributes
    ----------
    params, bse, df, tvalues, pvalues : pandas.Series
        Fixed-effect estimates, standard errors (Kenward-Roger adjusted when ``df_method`` is
        KR), degrees of freedom, t statistics and two-sided p-values, indexed by the patsy
        column names (e.g. ``"ARMCD[T.TRT]:AVISIT[T.VIS2]"``).
    loglik : float
        Log-likelihood at the optimum (REML log-likelihood when ``reml``), SAS constants.
    neg2_loglik : float
        ``-2 * loglik`` (SAS "-2 Res Log Likelihood").
    aic, bic : float
        As SAS: REML counts the covariance parameters only, ML also the fixed effects; BIC
        uses log(``n_subjects``) (as R mmrm; SAS counts every subject read, also those with no
        row used, so its BIC can differ).
    covariance : str
        Covariance structure used (``"us"``, ``"ar1"``, ...).
    covariance_matrix : pandas.DataFrame
        Estimated visit x visit covariance matrix.
    theta : pandas.Series
        Covariance parameters in SAS's parameterisation and names (e.g. ``UN(2,1)``).
    theta_cov : pandas.DataFrame or None
        Their asymptotic covariance (inverse observed information); None when the information
        matrix is not positive definite.
    converged : bool
        True when the optimiser reached a stationary point with positive definite information.
    message : str
        Optimiser message or reason for non-convergence.
    n_iter : int
        Optimiser iterations used (quasi-Newton iterations plus Newton refinement steps).
    n_obs, n_subjects, n_excluded : int
        Rows used, subjects with at least one row used, rows excluded.
    excluded : pandas.DataFrame
        Excluded rows: ``row`` (index label in the input) and ``reason``.
    reml : bool
        REML (True) or ML.
    df_method : str
        ``"satterthwaite"``, ``"kenward-roger"`` or ``"residual"``.
    formula, subject, visit : str
        The model specification.
    visit_levels : tuple
        Visits in the order of ``covariance_matrix``.
    fallback_attempts : tuple of (str, str)
        Structures tried before this one by :func:`fit_mmrm_with_fallback` and why each failed.
    """

    params: pd.Series
    bse: pd.Series
    df: pd.Series
    tvalues: pd.Series
    pvalues: pd.Series
    loglik: float
    neg2_loglik: float
    aic: float
    bic: float
    covariance: str
    covariance_matrix: pd.DataFrame
    theta: pd.Series
    theta_cov: pd.DataFrame | None
    converged: bool
    message: str
    n_obs: int
    n_subjects: int
    n_excluded: int
    excluded: pd.DataFrame
    reml: bool
    df_method: str
    formula: str
    subject: str
    visit: str
    visit_levels: tuple
    fallback_attempts: tuple[tuple[str, str], ...] = ()
    n_iter: int = 0
    _inference: _Inference | None = field(default=None, repr=False)
    _design_info: Any = field(default=None, repr=False)
    _factors: dict[str, list] = field(default_factory=dict, repr=False)
    _covariate_means: dict[str, float] = field(default_factory=dict, repr=False)

    # ----------------------------------------------------------------------------------------
    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects (Kenward-Roger adjusted for KR)."""
        names = self.params.index
        return pd.DataFrame(self._inf().a_adj, index=names, columns=names)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Confidence limits of the fixed effects with each coefficient's df.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper``, indexed like ``params``.
        """
        q = sps.t.ppf(1.0 - alpha / 2.0, self.df.to_numpy())
        half = q * self.bse.to_numpy()
        return pd.DataFrame(
            {"lower": self.params.to_numpy() - half, "upper": self.params.to_numpy() + half},
            index=self.params.index,
        )

    def _inf(self) -> _Inference:
        if self._inference is None:
            raise AnalysisError("MMRM: this result holds no inference (the fit failed)")
        return self._inference

    def _as_matrix(self, contrast: ArrayLike | Mapping[str, float] | pd.Series) -> FloatArray:
        names = list(self.params.index)
        if isinstance(contrast, (Mapping, pd.Series)):
            vec = np.zeros(len(names))
            for key, val in dict(contrast).items():
                if key not in names:
                    raise ValueError(f"{key!r} is not a coefficient of the model")
                vec[names.index(key)] = float(val)
            return vec[None, :]
        if isinstance(contrast, pd.DataFrame):
            return contrast.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
        mat = np.atleast_2d(np.asarray(contrast, dtype=float))
        if mat.shape[1] != len(names):
            raise ValueError(
                f"contrast has {mat.shape[1]} columns; the model has {len(names)} coefficients"
            )
        return mat

    @single_threaded
    def contrast(
        self, contrast: ArrayLike | Mapping[str, float] | pd.Series, alpha: float = 0.05
    ) -> pd.DataFrame:
        """Estimate, SE, df, t test and confidence limits of each row of ``L beta``.

        Parameters
        ----------
        contrast : array-like, mapping or Series
            A vector (one contrast), a matrix (one contrast per row), a DataFrame whose columns
            are coefficient names, or a mapping coefficient name -> weight.
        alpha : float
            1 - confidence level.

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate, se, df, statistic, pvalue, conf_low, conf_high``, one row per
            contrast. df by the fit's method (Satterthwaite: from the gradient of the contrast
            variance and the asymptotic covariance of the covariance parameters; KR: the same
            df with the adjusted variance, as SAS and R mmrm for one-dimensional contrasts).
        """
        mat = self._as_matrix(contrast)
        inf = self._inf()
        rows = []
        for lvec in mat:
            est, var, df = inf.one(lvec)
            se = float(np.sqrt(var))
            stat = est / se if se > 0 else float("nan")
            pval = float(2.0 * sps.t.sf(abs(stat), df))
            q = float(sps.t.ppf(1.0 - alpha / 2.0, df))
            rows.append((est, se, df, stat, pval, est - q * se, est + q * se))
        cols = ["estimate", "se", "df", "statistic", "pvalue", "conf_low", "conf_high"]
        return pd.DataFrame(rows, columns=cols)

    @single_threaded
    def ftest(self, contrast: ArrayLike | pd.DataFrame) -> FTestResult:
        """F test of ``L beta = 0`` with Satterthwaite / Kenward-Roger / residual df.

        Satterthwaite follows SAS and R mmrm (``df_md``): the contrast is rotated to the
        eigenvectors of ``L A L'`` and the denominator df combines the one-dimensional dfs.
        """
        mat = self._as_matrix(contrast)
        num, den, f = self._inf().multi(mat)
        pval = float(sps.f.sf(f, num, den))
        return FTestResult(
            statistic=f, num_df=num, den_df=den, pvalue=pval, df_method=self.df_method
        )

    # ----------------------------------------------------------------------------------------
    def _grid(self, by: list[str], at: Mapping[str, Any] | None) -> tuple[pd.DataFrame, FloatArray]:
        at = dict(at or {})
        for name in at:
            if name not in self._factors and name not in self._covariate_means:
                raise ValueError(f"at: {name!r} is not a variable of the model")
        for name in by:
            if name not in self._factors:
                raise ValueError(f"by: {name!r} is not a factor of the model")
        level_lists: dict[str, list] = {}
        for name, levels in self._factors.items():
            if name in at:
                chosen = at[name]
                chosen = list(chosen) if isinstance(chosen, (list, tuple)) else [chosen]
                unknown = [c for c in chosen if c not in levels]
                if unknown:
                    raise ValueError(f"at: {unknown} are not levels of {name!r}")
                level_lists[name] = chosen
            else:
                level_lists[name] = list(levels)
        names = list(level_lists)
        combos = list(itertools.product(*(level_lists[n] for n in names))) or [()]
        grid = pd.DataFrame(combos, columns=names)
        for name in names:
            grid[name] = pd.Categorical(grid[name], categories=self._factors[name])
        for name, mean in self._covariate_means.items():
            grid[name] = float(at.get(name, mean))
        try:
            (xg,) = patsy.build_design_matrices([self._design_info], grid)
        except patsy.PatsyError as exc:
            raise ValueError(
                "cannot build the LS-means grid (numeric columns used as factors inside the"
                f" formula need their values in 'at'): {exc}"
            ) from exc
        return grid, np.asarray(xg, dtype=float)

    @single_threaded
    def lsmeans(
        self,
        by: str | Sequence[str] | None = None,
        at: Mapping[str, Any] | None = None,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Least-squares means (SAS ``LSMEANS``, R ``emmeans`` defaults).

        Numeric covariates are set to their mean over the rows used in the fit, factors not
        in ``by`` are averaged with equal weights over their levels.

        Parameters
        ----------
        by : str or sequence of str, optional
            Factor(s) whose level combinations get an LS mean (e.g. the visit, or
            ``["AVISIT", "ARMCD"]``); None gives the overall LS mean.
        at : mapping, optional
            Values for covariates (instead of their mean) or a level (or list of levels) of a
            factor to average over instead of all its levels.
        alpha : float
            1 - confidence level.

        Returns
        -------
        pandas.DataFrame
            One row per level combination: the ``by`` columns, ``level`` (the levels joined by
            ``":"``), ``estimate, se, df, statistic, pvalue, conf_low, conf_high``.
        """
        by_list = [by] if isinstance(by, str) else list(by or [])
        grid, xg = self._grid(by_list, at)
        if by_list:
            keys = grid[by_list].astype(object).apply(tuple, axis=1)
            combos = list(itertools.product(*(list(grid[b].cat.categories) for b in by_list)))
            combos = [c for c in combos if (keys == c).any()]
            lmat = np.stack([xg[(keys == c).to_numpy()].mean(axis=0) for c in combos])
        else:
            combos = [()]
            lmat = xg.mean(axis=0)[None, :]
        out = self.contrast(lmat, alpha=alpha)
        front = pd.DataFrame(combos, columns=by_list) if by_list else pd.DataFrame(index=[0])
        front["level"] = [":".join(str(v) for v in c) for c in combos]
        return pd.concat([front.reset_index(drop=True), out], axis=1)

    @single_threaded
    def lsmean_diffs(
        self,
        factor: str,
        by: str | Sequence[str] | None = None,
        reference: Any = None,
        at: Mapping[str, Any] | None = None,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Differences of LS means of ``factor`` levels versus ``reference`` within ``by``.

        For example ``lsmean_diffs("ARMCD", by="AVISIT")`` gives the treatment difference at
        each visit (SAS ``LSMEANS ARMCD*AVISIT / DIFF`` restricted to same-visit pairs).

        Parameters
        ----------
        factor : str
            Factor whose levels are compared.
        by : str or sequence of str, optional
            Factor(s) within whose levels the comparison is made.
        reference : optional
            Reference level of ``factor``; default its first level.
        at : mapping, optional
            As in :meth:`lsmeans`.
        alpha : float
            1 - confidence level.

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, ``level``, ``reference`` and ``estimate, se, df, statistic,
            pvalue, conf_low, conf_high`` of ``LS mean(level) - LS mean(reference)``.
        """
        by_list = [by] if isinstance(by, str) else list(by or [])
        if factor in by_list:
            raise ValueError("factor must not be one of the by variables")
        levels = self._factors.get(factor)
        if levels is None:
            raise ValueError(f"{factor!r} is not a factor of the model")
        ref = levels[0] if reference is None else reference
        if ref not in levels:
            raise ValueError(f"reference {ref!r} is not a level of {factor!r}")
        grid, xg = self._grid([*by_list, factor], at)
        by_combos = (
            list(itertools.product(*(list(grid[b].cat.categories) for b in by_list)))
            if by_list
            else [()]
        )
        rows_meta = []
        lrows = []
        for combo in by_combos:
            mask = np.ones(len(grid), dtype=bool)
            for b, v in zip(by_list, combo, strict=True):
                mask &= (grid[b] == v).to_numpy()
            ref_mask = mask & (grid[factor] == ref).to_numpy()
            if not ref_mask.any():
                continue
            lref = xg[ref_mask].mean(axis=0)
            for lev in levels:
                lev_mask = mask & (grid[factor] == lev).to_numpy()
                if lev == ref or not lev_mask.any():
                    continue
                lrows.append(xg[lev_mask].mean(axis=0) - lref)
                rows_meta.append((*combo, lev, ref))
        if not lrows:
            raise ValueError("no level pairs to compare")
        out = self.contrast(np.stack(lrows), alpha=alpha)
        front = pd.DataFrame(rows_meta, columns=[*by_list, "level", "reference"])
        return pd.concat([front, out], axis=1)

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Fixed effects as a tidy frame: term, estimate, se, df, statistic, pvalue, limits."""
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "term": self.params.index,
                "estimate": self.params.to_numpy(),
                "se": self.bse.to_numpy(),
                "df": self.df.to_numpy(),
                "statistic": self.tvalues.to_numpy(),
                "pvalue": self.pvalues.to_numpy(),
                "conf_low": ci["lower"].to_numpy(),
                "conf_high": ci["upper"].to_numpy(),
            }
        )


# ============================================================================================
# optimisation


@dataclass
class _Objective:
    engine: Engine
    structure: CovStructure
    reml: bool

    def value_grad(self, psi: FloatArray) -> tuple[float, FloatArray]:
        theta = np.real(self.structure.theta_from_psi(psi)).astype(float)
        try:
            ev = self.engine.evaluate(self.structure.sigma(theta), self.reml)
        except NotPositiveDefiniteError:
            return float("inf"), np.zeros_like(psi)
        g_theta = np.einsum("kde,de->k", self.structure.dsigma(theta), ev.grad_sigma)
        return ev.objective, self.structure.jacobian(psi).T @ g_theta

    def hessian_fd(self, psi: FloatArray) -> FloatArray:
        n = len(psi)
        hess = np.empty((n, n))
        for j in range(n):
            h = 1e-5 * (1.0 + abs(psi[j]))
            up, down = psi.copy(), psi.copy()
            up[j] += h
            down[j] -= h
            hess[:, j] = (self.value_grad(up)[1] - self.value_grad(down)[1]) / (2.0 * h)
        return 0.5 * (hess + hess.T)


def _optimise(obj: _Objective, psi0: FloatArray) -> tuple[FloatArray, bool, str, int]:
    f0, _ = obj.value_grad(psi0)
    if not np.isfinite(f0):
        return psi0, False, "likelihood not finite at the starting values", 0
    res = optimize.minimize(
        obj.value_grad,
        psi0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-7, "maxcor": 20},
    )
    psi = np.asarray(res.x, dtype=float)
    n_iter = int(res.nit)
    f, g = obj.value_grad(psi)
    decrement = float("inf")
    for _ in range(50):
        hess = obj.hessian_fd(psi)
        vals, vecs = np.linalg.eigh(hess)
        if not np.all(np.isfinite(vals)) or vals[0] <= 1e-10 * max(abs(vals[-1]), 1.0):
            break
        step = -(vecs @ ((vecs.T @ g) / vals))
        decrement = float(-g @ step)
        if decrement < 1e-12:
            break
        t = 1.0
        improved = False
        while t > 1e-8:
            f_new, g_new = obj.value_grad(psi + t * step)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * t * float(g @ step) + 1e-12:
                psi, f, g = psi + t * step, f_new, g_new
                improved = True
                break
            t *= 0.5
        n_iter += 1
        if not improved:
            break
    hess = obj.hessian_fd(psi)
    vals, vecs = np.linalg.eigh(hess)
    if np.all(np.isfinite(vals)) and vals[0] > 0:
        decrement = float(g @ (vecs @ ((vecs.T @ g) / vals)))
        ok = decrement < _NEWTON_DECREMENT_TOL
        msg = "converged" if ok else f"not converged: Newton decrement {decrement:.3g}"
    else:
        ok = False
        msg = "not converged: Hessian of the objective is not positive definite"
    return psi, ok, msg, n_iter


# ============================================================================================
# fitting


def _start_variances(y: FloatArray, x: FloatArray, visit: NDArray, k: int) -> FloatArray:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    pooled = float(np.sum(resid**2) / max(len(y) - x.shape[1], 1))
    if not np.isfinite(pooled) or pooled <= 0:
        pooled = float(np.var(y)) if np.var(y) > 0 else 1.0
    out = np.full(k, pooled)
    for v in range(k):
        r = resid[visit == v]
        if len(r) >= 2 and np.mean(r**2) > 1e-8 * pooled:
            out[v] = float(np.mean(r**2))
    return out


def _normalise_df(df: str) -> str:
    key = str(df).strip().lower().replace("_", "-").replace(" ", "-")
    if key not in _DF_ALIASES:
        raise ValueError(f"df must be one of {', '.join(DF_METHODS)}; got {df!r}")
    return _DF_ALIASES[key]


@single_threaded
def fit_mmrm(
    data: pd.DataFrame,
    formula: str,
    subject: str,
    visit: str,
    covariance: str = "us",
    df: str = "satterthwaite",
    reml: bool = True,
    *,
    visit_levels: Sequence | None = None,
    max_iter: int | None = None,
) -> MmrmResult:
    """Fit a mixed model for repeated measures.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject and visit (long format).
    formula : str
        patsy formula of the fixed effects, e.g. ``"CHG ~ BASE + AVISIT"`` or
        ``"FEV1 ~ RACE + SEX + ARMCD * AVISIT"``. Treatment contrasts, first level reference
        (as R); see the module docstring for level order.
    subject : str
        Subject identifier column.
    visit : str
        Visit column indexing the within-subject covariance (its levels in natural order, or
        the order of ``visit_levels`` or of a Categorical's categories; the order matters for
        the AR(1) and Toeplitz structures).
    covariance : str
        ``"us"`` (unstructured, default), ``"toep"``, ``"toeph"``, ``"ar1"``, ``"ar1h"``,
        ``"cs"`` or ``"csh"`` (SAS UN, TOEP, TOEPH, AR(1), ARH(1), CS, CSH).
    df : str
        ``"satterthwaite"`` (default), ``"kenward-roger"`` (REML only) or ``"residual"``.
    reml : bool
        REML (default) or maximum likelihood.
    visit_levels : sequence, optional
        Explicit order of the visits.
    max_iter : int, optional
        A fit needing more optimiser iterations (quasi-Newton plus Newton steps, reported as
        ``n_iter``) than this counts as not converged, as a SAP's iteration limit states.

    Returns
    -------
    MmrmResult
        ``converged`` tells whether the optimisation succeeded; when it did not, the
        estimates are those reached and the inference may be missing (NaN).

    Raises
    ------
    msc_analysis.errors.AnalysisError
        Data that cannot be fitted: missing columns, no rows, duplicate subject-visit rows,
        a rank-deficient design.
    ValueError
        Unknown ``covariance`` or ``df``, or KR with ML.
    """
    setup = _setup(data, formula, subject, visit, covariance, df, reml, visit_levels)
    obj = _Objective(setup.engine, setup.structure, reml)
    psi0 = setup.structure.start(
        _start_variances(setup.y, setup.x, setup.prep.visit_codes, setup.structure.k)
    )
    psi, converged, message, n_iter = _optimise(obj, psi0)
    if max_iter is not None and n_iter > max_iter:
        converged = False
        message = f"not converged within max_iter = {max_iter} iterations"
    theta = np.real(setup.structure.theta_from_psi(psi)).astype(float)
    res = _assemble(setup, theta, converged, f"{message} ({n_iter} iterations)")
    return replace(res, n_iter=n_iter)


@dataclass(frozen=True)
class _Setup:
    prep: _Prepared
    y: FloatArray
    x: FloatArray
    names: list[str]
    design_info: Any
    engine: Engine
    structure: CovStructure
    df_method: str
    reml: bool
    formula: str
    subject: str
    visit: str


def _setup(
    data: pd.DataFrame,
    formula: str,
    subject: str,
    visit: str,
    covariance: str,
    df: str,
    reml: bool,
    visit_levels: Sequence | None,
) -> _Setup:
    df_method = _normalise_df(df)
    if covariance not in STRUCTURES:
        raise ValueError(f"covariance must be one of {', '.join(STRUCTURES)}; got {covariance!r}")
    if df_method == "kenward-roger" and not reml:
        raise ValueError("Kenward-Roger degrees of freedom need REML (reml=True)")
    prep = _prepare(data, formula, subject, visit, visit_levels)
    try:
        y_df, x_df = patsy.dmatrices(
            formula, prep.frame, NA_action="raise", return_type="dataframe"
        )
    except patsy.PatsyError as exc:
        raise AnalysisError(f"MMRM: cannot build the design of {formula!r}: {exc}") from exc
    if y_df.shape[1] != 1:
        raise AnalysisError(f"MMRM: the response of {formula!r} must be one numeric column")
    y = y_df.to_numpy(dtype=float)[:, 0]
    x = x_df.to_numpy(dtype=float)
    rank = np.linalg.matrix_rank(x)
    if rank < x.shape[1]:
        raise AnalysisError(
            f"MMRM: the design of {formula!r} is rank deficient ({rank} < {x.shape[1]} columns);"
            " remove terms with empty or aliased levels"
        )
    subj_codes, _ = pd.factorize(prep.frame[subject], sort=True)
    k = len(prep.visit_levels)
    engine = Engine(y, x, np.asarray(subj_codes, dtype=np.int64), prep.visit_codes, k)
    return _Setup(
        prep=prep,
        y=y,
        x=x,
        names=list(x_df.columns),
        design_info=x_df.design_info,
        engine=engine,
        structure=make_structure(covariance, k),
        df_method=df_method,
        reml=bool(reml),
        formula=formula,
        subject=subject,
        visit=visit,
    )


def _assemble(setup: _Setup, theta: FloatArray, converged: bool, message: str) -> MmrmResult:
    """Estimates and inference at covariance parameters ``theta``."""
    engine, structure, reml = setup.engine, setup.structure, setup.reml
    sigma = structure.sigma(theta)
    ev = engine.evaluate(sigma, reml)
    second: SecondOrder = engine.second_order(
        sigma, structure.dsigma(theta), structure.d2sigma(theta), reml
    )
    hess = second.hessian
    w: FloatArray | None = None
    vals = np.linalg.eigvalsh(hess)
    if np.all(np.isfinite(vals)) and vals[0] > 1e-10 * max(abs(vals[-1]), 1.0):
        w = 2.0 * np.linalg.inv(hess)
        w = 0.5 * (w + w.T)
    elif converged:
        converged = False
        message = "not converged: information matrix of the covariance parameters is singular"
    if not converged:
        logger.warning("MMRM %s (covariance %s): %s", setup.formula, structure.name, message)
    a = ev.a
    a_adj = a
    if setup.df_method == "kenward-roger" and w is not None:
        inner = np.einsum(
            "kl,klqr->qr",
            w,
            second.n - np.einsum("kqr,rs,lst->klqt", second.m, a, second.m) - 0.25 * second.r,
        )
        a_adj = a + 2.0 * a @ inner @ a
        a_adj = 0.5 * (a_adj + a_adj.T)
    inf = _Inference(
        method=setup.df_method,
        beta=ev.beta,
        a=a,
        a_adj=a_adj,
        w=w,
        m_k=second.m,
        resid_df=float(engine.n - engine.q),
    )
    names = setup.names
    coef = [inf.one(row) for row in np.eye(len(names))]
    est = np.array([c[0] for c in coef])
    se = np.sqrt(np.array([c[1] for c in coef]))
    dfs = np.array([c[2] for c in coef])
    tvals = est / se
    pvals = 2.0 * sps.t.sf(np.abs(tvals), dfs)
    neg2 = float(ev.objective)
    n_par = structure.n_theta + (0 if reml else len(names))
    prep = setup.prep
    covariate_means = {
        c: float(prep.frame[c].mean()) for c in prep.covariates if c not in prep.factors
    }
    idx = pd.Index(names)
    labels = list(prep.visit_levels)
    theta_names = list(structure.theta_names)
    return MmrmResult(
        params=pd.Series(est, index=idx),
        bse=pd.Series(se, index=idx),
        df=pd.Series(dfs, index=idx),
        tvalues=pd.Series(tvals, index=idx),
        pvalues=pd.Series(pvals, index=idx),
        loglik=-0.5 * neg2,
        neg2_loglik=neg2,
        aic=neg2 + 2.0 * n_par,
        bic=neg2 + n_par * float(np.log(engine.n_subjects)),
        covariance=structure.name,
        covariance_matrix=pd.DataFrame(sigma, index=labels, columns=labels),
        theta=pd.Series(theta, index=theta_names),
        theta_cov=None if w is None else pd.DataFrame(w, index=theta_names, columns=theta_names),
        converged=bool(converged),
        message=message,
        n_obs=int(engine.n),
        n_subjects=engine.n_subjects,
        n_excluded=len(prep.excluded),
        excluded=prep.excluded,
        reml=reml,
        df_method=setup.df_method,
        formula=setup.formula,
        subject=setup.subject,
        visit=setup.visit,
        visit_levels=tuple(labels),
        _inference=inf,
        _design_info=setup.design_info,
        _factors=dict(prep.factors),
        _covariate_means=covariate_means,
    )


@single_threaded
def result_at_theta(
    data: pd.DataFrame,
    formula: str,
    subject: str,
    visit: str,
    theta: ArrayLike,
    covariance: str = "us",
    df: str = "satterthwaite",
    reml: bool = True,
    *,
    visit_levels: Sequence | None = None,
) -> MmrmResult:
    """Fixed effects and inference at given covariance parameters, without optimising.

    For checks against published output: evaluated at the covariance estimates another program
    printed, the likelihood, standard errors and degrees of freedom can be compared without the
    effect of that program's stopping rule. ``theta`` is in the order of ``MmrmResult.theta``
    (SAS's parameters; for ``"us"`` UN(1,1), UN(2,1), UN(2,2), UN(3,1), ... over the visits in
    ``visit_levels`` order). The result has ``converged=False`` and message "not optimised".
    """
    setup = _setup(data, formula, subject, visit, covariance, df, reml, visit_levels)
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (setup.structure.n_theta,):
        raise ValueError(f"theta must have {setup.structure.n_theta} values")
    res = _assemble(setup, theta, True, "not optimised")
    return replace(res, converged=False)


@single_threaded
def fit_mmrm_with_fallback(
    data: pd.DataFrame,
    formula: str,
    subject: str,
    visit: str,
    order: Sequence[str] = ("us", "toeph", "ar1h", "cs"),
    df: str = "satterthwaite",
    reml: bool = True,
    *,
    visit_levels: Sequence | None = None,
    max_iter: int | None = None,
) -> MmrmResult:
    """Fit the first covariance structure of ``order`` that converges (within ``max_iter``
    optimiser iterations, when given).

    A prespecified fallback sequence as SAPs state it ("if the unstructured covariance fails
    to converge, Toeplitz heterogeneous, then AR(1) heterogeneous, then compound symmetry").

    Returns
    -------
    MmrmResult
        The first converged fit; ``covariance`` names the structure used and
        ``fallback_attempts`` lists the structures tried before it with the reason each failed.

    Raises
    ------
    msc_analysis.errors.AnalysisError
        When no structure converges (the message lists each attempt), or the data cannot be
        fitted at all.
    """
    if not order:
        raise ValueError("order must name at least one covariance structure")
    attempts: list[tuple[str, str]] = []
    for structure in order:
        try:
            res = fit_mmrm(
                data,
                formula,
                subject,
                visit,
                covariance=structure,
                df=df,
                reml=reml,
                visit_levels=visit_levels,
                max_iter=max_iter,
            )
        except (NotPositiveDefiniteError, np.linalg.LinAlgError) as exc:
            attempts.append((structure, f"numerical failure: {exc}"))
            continue
        if res.converged:
            if attempts:
                logger.info(
                    "MMRM %s: used covariance %s after %s",
                    formula,
                    structure,
                    ", ".join(f"{s} ({m})" for s, m in attempts),
                )
            return _replace_attempts(res, tuple(attempts))
        attempts.append((structure, res.message))
    listed = "; ".join(f"{s}: {m}" for s, m in attempts)
    raise AnalysisError(f"MMRM {formula!r}: no covariance structure converged ({listed})")


def _replace_attempts(res: MmrmResult, attempts: tuple[tuple[str, str], ...]) -> MmrmResult:
    return replace(res, fallback_attempts=attempts)
