"""Who picks up, and after how long: the censored fit of ``p_pickup`` and the ring law.

A no-answer call does not say the person would never have answered — only that they
had not after the line rang ``c`` seconds (the ring timeout, or less when the agent
hung up first). Taking the answered share as ``p_pickup`` and the answered ring times
as the ring law (the naive fit) therefore underestimates both exactly where a ring
timeout is decided. The likelihood here takes the censoring into account: a dial is

- answered after ``r`` s with density ``p f(r)``,
- not answered after ringing ``c`` s with probability ``1 - p F(c)``,

with ``F`` a lognormal or a two-component lognormal mixture (chosen by AIC). Given the
fitted ``F`` (the mixture only when its AIC is lower by more than 2), pick-up
multipliers by attempt and by hour of day are fitted by
alternating one-dimensional maximisations of the same likelihood, and written only
where a likelihood-ratio test finds them different (p < 0.05).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from ._mle import (
    SIGMA_FLOOR,
    Bins,
    MLEResult,
    bin_loglik,
    bin_loglik_grad,
    bins_exact,
    delta_ci,
    expit,
    logit,
    lognormal_mixture_cdf,
    lognormal_mixture_ppf,
    maximise,
    mixture_log_median,
    mixture_params,
    mixture_terms,
    pack_grad,
    profile_ci,
    profile_interval,
)
from .data import Dials
from .estimate import Estimate, wilson

#: A richer law is chosen only if its AIC is lower by more than this (Burnham and
#: Anderson: within 2 the models are equally supported, and the simpler one is kept).
AIC_MARGIN = 2.0
#: Dials an attempt number needs for a multiplier of its own.
MIN_GROUP = 30
ITER = 6

__all__ = ["RingFit", "censored_fit", "fit_ring", "kaplan_meier", "naive_fit"]


def kaplan_meier(times: np.ndarray, event: np.ndarray,
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival: distinct event times (s) and S(t) just after each.

    ``event`` False marks a right-censored time (the call stopped ringing unanswered).
    """
    t = np.asarray(times, dtype=float)
    e = np.asarray(event, dtype=bool)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    if len(t) == 0:
        return np.zeros(0), np.zeros(0)
    u, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=w * e, minlength=len(u))
    tot = np.bincount(inv, weights=w, minlength=len(u))
    at_risk = tot[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1 - d / at_risk, 1.0)
    s = np.cumprod(factor)
    keep = d > 0
    return u[keep], s[keep]


def _censored(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Censoring times grouped (0.1 % on the log scale) with their counts."""
    if len(c) == 0:
        return np.zeros(0), np.zeros(0)
    k, w = np.unique(np.round(np.log(np.maximum(c, 1e-3)) / 0.001).astype(np.int64),
                     return_counts=True)
    return np.exp(k * 0.001), w.astype(float)


@dataclass(frozen=True, slots=True)
class LawFit:
    """One censored fit: components k, the optimum, and its p / law."""

    k: int
    res: MLEResult
    jac: Any = None  # negative log-likelihood and gradient, for profile intervals

    @property
    def p(self) -> float:
        return expit(self.res.theta[0])

    def law(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return mixture_params(self.res.theta[1:], self.k)


def _second_antiderivative(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
                           w: np.ndarray, timeout: float) -> np.ndarray:
    """G(x) = integral of F(min(u, T)) du from 0 to x, for a lognormal mixture F."""
    def g(y: np.ndarray) -> np.ndarray:
        y = np.maximum(y, 0.0)
        with np.errstate(divide="ignore"):
            z = (np.log(y)[:, None] - mu) / sigma
        part = y[:, None] * special.ndtr(z) - np.exp(mu + sigma ** 2 / 2) * special.ndtr(z - sigma)
        return part @ w

    x = np.asarray(x, dtype=float)
    t = np.array([timeout])
    f_t = float(lognormal_mixture_cdf(t, mu, sigma, w)[0])
    return np.where(x <= timeout, g(np.minimum(x, timeout)),
                    g(t)[0] + f_t * (x - timeout))


def whole_second_loglik(r: np.ndarray, wts: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
                        w: np.ndarray, timeout: float) -> float:
    """Log-likelihood of ring times read off timestamps truncated to the second.

    Both ends are truncated, so a pick-up after ``x`` s is read as ``r`` s with
    probability ``max(0, 1 - |r - x|)`` (a triangle): P(r) = G(r+1) - 2 G(r) + G(r-1)
    with G the second antiderivative of the ring law (cut at the timeout: nobody is
    answered after it).
    """
    lo = float(r.min()) - 1
    grid = _second_antiderivative(np.arange(lo, float(r.max()) + 2), mu, sigma, w, timeout)
    i = (r - lo).astype(np.int64)  # whole seconds: G once on the integer grid
    p = grid[i + 1] - 2 * grid[i] + grid[i - 1]
    return float((wts * np.log(np.maximum(p, 1e-300))).sum())


def _grid_terms(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, timeout: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per component k at each x: G_k(x) (cut at the timeout) and its derivatives in
    mu_k and sigma_k (dG/dmu = -E[X; X <= x], dG/dsigma = M (phi(z - s) - s Phi(z - s)))."""
    m = np.exp(mu + sigma ** 2 / 2)
    xc = np.maximum(np.minimum(x, timeout), 0.0)
    with np.errstate(divide="ignore"):
        z = (np.log(xc)[:, None] - mu) / sigma
    zs = z - sigma
    phi_zs = np.where(np.isfinite(zs), np.exp(-0.5 * zs * zs) / math.sqrt(2 * math.pi), 0.0)
    cdf_zs = special.ndtr(zs)
    g = xc[:, None] * special.ndtr(z) - m * cdf_zs
    d_mu = -m * cdf_zs
    d_sig = m * (phi_zs - sigma * cdf_zs)
    over = (x - timeout)[:, None]
    if np.any(over > 0):
        zt = (math.log(timeout) - mu) / sigma
        phi_t = np.exp(-0.5 * zt * zt) / math.sqrt(2 * math.pi)
        extra = np.maximum(over, 0.0)
        g = g + special.ndtr(zt) * extra
        d_mu = d_mu + (-phi_t / sigma) * extra
        d_sig = d_sig + (-phi_t * zt / sigma) * extra
    return g, d_mu, d_sig


def whole_second_loglik_grad(r: np.ndarray, wts: np.ndarray, theta: np.ndarray, k: int,
                             timeout: float) -> tuple[float, np.ndarray]:
    """:func:`whole_second_loglik` and its gradient in the mixture parameters."""
    mu, sigma, w = mixture_params(theta, k)
    lo = float(r.min()) - 1
    gk, gmu, gsig = _grid_terms(np.arange(lo, float(r.max()) + 2), mu, sigma, timeout)
    i = (r - lo).astype(np.int64)

    def second(a: np.ndarray) -> np.ndarray:  # a[i+1] - 2 a[i] + a[i-1], per component
        return a[i + 1] - 2 * a[i] + a[i - 1]

    pk = second(gk)
    p = np.maximum(pk @ w, 1e-300)
    ll = float((wts * np.log(p)).sum())
    c = wts / p
    d_mu = second(gmu) * w
    d_ls = second(gsig) * w * (sigma - SIGMA_FLOOR)
    d_a = w[1:] * (pk[:, 1:] - p[:, None])
    return ll, c @ pack_grad(d_mu, d_ls, d_a)


def censored_fit(ans: Bins, cens_t: np.ndarray, cens_w: np.ndarray, k: int,
                 p0: float, whole: tuple[np.ndarray, np.ndarray, float] | None = None
                 ) -> LawFit:
    """Maximum-likelihood ``p`` and a ``k``-component lognormal ring law, censoring included.

    ``whole``: (ring seconds, counts, timeout) when the ring times were read off
    timestamps truncated to the second (see :func:`whole_second_loglik`).
    """
    def nll(theta: np.ndarray) -> float:
        p = expit(theta[0])
        mu, sigma, w = mixture_params(theta[1:], k)
        if whole is not None:
            r, wts, timeout = whole
            ll = float(wts.sum()) * math.log(max(p, 1e-300)) + whole_second_loglik(
                r, wts, mu, sigma, w, timeout)
        else:
            ll = float((ans.w * (math.log(max(p, 1e-300))
                                 + bin_loglik(ans, mu, sigma, w))).sum())
        if len(cens_t):
            s = 1 - p * lognormal_mixture_cdf(cens_t, mu, sigma, w)
            ll += float((cens_w * np.log(np.maximum(s, 1e-300))).sum())
        return -ll if math.isfinite(ll) else 1e300

    log_ct = np.log(cens_t) if len(cens_t) else np.zeros(0)

    def nll_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = expit(theta[0])
        if whole is not None:
            ll, g_law = whole_second_loglik_grad(whole[0], whole[1], theta[1:], k, whole[2])
            n_ans = float(whole[1].sum())
        else:
            ll, g_law = bin_loglik_grad(ans, theta[1:], k)
            n_ans = float(ans.w.sum())
        ll += n_ans * math.log(max(p, 1e-300))
        grad = np.empty(len(theta))
        grad[0] = n_ans * (1 - p)
        grad[1:] = g_law
        if len(cens_t):
            mu, sigma, w = mixture_params(theta[1:], k)
            f, _, d_mu, d_ls, d_a = mixture_terms(log_ct, mu, sigma, w)
            s = np.maximum(1 - p * f, 1e-300)
            ll += float((cens_w * np.log(s)).sum())
            c = cens_w / s
            grad[0] += float((c * -f * p * (1 - p)).sum())
            grad[1:] += (c * -p) @ pack_grad(d_mu, d_ls, d_a)
        if not math.isfinite(ll):
            return 1e300, np.zeros(len(theta))
        return -ll, -grad

    lm = np.log(np.maximum(ans.mid(), 1e-3))
    wts = ans.w / ans.w.sum()
    m = float((lm * wts).sum())
    sd = max(float(np.sqrt(((lm - m) ** 2 * wts).sum())), 0.05)
    starts: list[np.ndarray] = []
    for pp in (min(0.97, p0 * 1.3), min(0.99, p0 * 2.5)):
        if k == 1:
            starts.append(np.array([logit(pp), m + 0.3 * sd, math.log(sd * 1.2)]))
        else:
            q = np.cumsum(wts)
            lo = float(lm[np.searchsorted(q, 0.25)])
            hi = float(lm[min(np.searchsorted(q, 0.8), len(lm) - 1)])
            starts.append(np.array([logit(pp), lo, math.log(sd / 2), hi + 0.2,
                                    math.log(sd / 2), 0.0]))
    return LawFit(k=k, res=maximise(nll, starts, nll_grad), jac=nll_grad)


#: Share of the answers within the timeout each mixture component must explain.
MIN_SEEN = 0.02


def _seen_components(f: LawFit, timeout: float) -> bool:
    """Whether every component of a mixture explains at least MIN_SEEN of the answers.

    A no-answer only says the phone was not picked up by the timeout, so a component
    that lies (almost) wholly beyond it is not seen in the data: it only trades off
    against p (p w_k of never-answered mass), and an AIC gain from its lower tail near
    the timeout is noise. Such a "mixture" (p runs to 1, the median to thousands of
    seconds) is not admitted; nor is one with a component of almost no weight.
    """
    mu, sigma, w = f.law()
    t = timeout if math.isfinite(timeout) else math.inf
    seen = w * (special.ndtr((math.log(t) - mu) / sigma) if math.isfinite(t) else 1.0)
    return bool(seen.min() >= MIN_SEEN * seen.sum())


def _median_profile(f: LawFit) -> tuple[float, float]:
    """Profile-likelihood 95 % interval of the ring law's log-median.

    The median is a location: with every component's mu written as mu_1 + d_j, the
    law with log-median L has mu_1 = L - (log-median of the law with mu_1 = 0), so the
    profile at L is maximised over p, the sigmas, the offsets d_j and the weights.
    """
    k, th = f.k, f.res.theta
    mu_idx = [1 + 2 * j for j in range(k)]
    free_idx = [i for i in range(len(th)) if i != mu_idx[0]]

    def fix(v: float, x: np.ndarray) -> np.ndarray:
        t = np.empty(len(th))
        t[free_idx] = x  # mu_j (j >= 2) slots hold the offsets d_j
        t[mu_idx[0]] = 0.0
        m0 = mixture_log_median(*mixture_params(t[1:], k))
        t[mu_idx[0]] = v - m0
        for j in mu_idx[1:]:
            t[j] += v - m0
        return t

    x_hat = th.copy()
    for j in mu_idx[1:]:
        x_hat[j] -= th[mu_idx[0]]
    v_hat = mixture_log_median(*mixture_params(th[1:], k))
    return profile_interval(f.jac, f.res, fix, v_hat, x_hat[free_idx], limit=8.0)


def law_dict(mu: np.ndarray, sigma: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """The scenario's distribution table of a lognormal mixture."""
    comps = [{"dist": "lognormal", "median": _r(math.exp(m)), "sigma": _r(s)}
             for m, s in zip(mu, sigma, strict=True)]
    if len(comps) == 1:
        return comps[0]
    order = np.argsort(mu)
    return {"dist": "mixture", "weights": [_r(float(w[i])) for i in order],
            "components": [comps[i] for i in order]}


def _r(x: float) -> float:
    return float(f"{x:.4g}")


@dataclass(slots=True)
class RingFit:
    """Everything the ring/pick-up fit found (estimates go into the scenario)."""

    estimates: dict[str, Estimate] = field(default_factory=dict)
    fits: dict[int, LawFit] = field(default_factory=dict)
    best: LawFit | None = None
    km_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    km_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    by_attempt: list[float] = field(default_factory=list)
    by_hour: dict[int, float] = field(default_factory=dict)
    hour_counts: dict[int, int] = field(default_factory=dict)
    attempt_counts: list[int] = field(default_factory=list)
    #: p-values of the likelihood-ratio tests ("attempt", "hour")
    lr_p: dict[str, float] = field(default_factory=dict)

    def survival(self, t: np.ndarray) -> np.ndarray:
        """Fitted P(not picked up by t) over everyone rung: ``1 - p F(t)``."""
        if self.best is None:
            return np.full(len(t), np.nan)
        return 1 - self.best.p * lognormal_mixture_cdf(t, *self.best.law())


def naive_fit(d: Dials) -> dict[str, Estimate]:
    """The fit that ignores censoring: answered share and uncensored ring times."""
    na, an = int(d.no_answer.sum()), int(d.answered.sum())
    p, lo, hi = wilson(an, an + na)
    out = {"naive.p_pickup": Estimate(name="naive.p_pickup", value=p, low=lo, high=hi,
                                      n=an + na, method="answered / (answered + no answer)",
                                      note="ignores censoring: biased low")}
    r = d.ring_s[d.answered]
    r = r[np.isfinite(r) & (r > 0)]
    if len(r) >= 2:
        lr = np.log(r)
        m, se = float(lr.mean()), float(lr.std(ddof=1)) / math.sqrt(len(lr))
        out["naive.ring_median_s"] = Estimate(
            name="naive.ring_median_s", value=math.exp(m), low=math.exp(m - 1.96 * se),
            high=math.exp(m + 1.96 * se), n=len(r),
            method="lognormal fitted to answered ring times", note="ignores censoring")
    return out


def _group_q(a: float, f_na: np.ndarray, wt: np.ndarray,
             cap: float = math.inf) -> tuple[float, float]:
    """MLE of a group's pick-up scale q: ``a`` answers and no-answers with ``F`` values
    (the other factor included); ``cap``: the largest q that keeps every dial's pick-up
    probability (q times its other factor) at most 1."""
    if a <= 0:
        return 0.0, math.nan
    top = 1.0 / max(float(f_na.max()) if len(f_na) else 1e-9, 1e-9)
    upper = min(top * (1 - 1e-9), cap, 50.0)

    def score(q: float) -> float:
        return a / q - float((wt * f_na / (1 - q * f_na)).sum())

    if score(upper) > 0:
        q = upper
    else:
        q = optimize.brentq(score, 1e-9, upper, xtol=1e-10)
    info = a / q ** 2 + float((wt * f_na ** 2 / (1 - q * f_na) ** 2).sum())
    return q, 1 / math.sqrt(info) if info > 0 else math.nan


def _hour_groups(dial_hours: np.ndarray) -> np.ndarray:
    """Each hour's group: itself if it has MIN_GROUP dials, else the nearest such hour on
    the clock (a handful of dials in an hour is no evidence of its own: free multipliers
    for them make the likelihood-ratio statistic far from its chi-square law)."""
    well = np.flatnonzero(dial_hours >= MIN_GROUP)
    if len(well) == 0:
        return np.full(24, int(np.argmax(dial_hours)))
    h = np.arange(24)
    dist = np.abs(h[:, None] - well[None, :])
    dist = np.minimum(dist, 24 - dist)
    return well[np.argmin(dist, axis=1)]


def _multipliers(d: Dials, rf: RingFit) -> None:
    """Pick-up multipliers by attempt and by hour (alternating maximisation, LR tests)."""
    assert rf.best is not None
    elig = d.answered | d.no_answer
    att = d.attempt[elig].astype(np.int64)
    # attempts with few dials share the multiplier of the last well-observed one
    counts = np.bincount(att)
    well = [a for a in range(1, len(counts)) if counts[a] >= MIN_GROUP]
    att = np.minimum(att, max(well) if well else 1)
    hour_seen = d.hour[elig]
    hour = _hour_groups(np.bincount(hour_seen, minlength=24))[hour_seen]
    is_ans = d.answered[elig]
    mu, sigma, w = rf.best.law()
    c = np.minimum(np.where(np.isfinite(d.dur_s) & (d.dur_s > 0), d.dur_s, d.ring_timeout_s),
                   d.ring_timeout_s)[elig]
    n_att = int(att.max()) if len(att) else 1
    # the likelihood only needs counts: answers per (attempt, hour), no-answers per
    # (attempt, hour, ring time) — a few hundred cells for a million dials
    cell = att * 24 + hour
    ans_w = np.bincount(cell[is_ans], minlength=(n_att + 1) * 24).astype(float)
    a_cells = np.flatnonzero(ans_w)
    a_att, a_hour, a_w = a_cells // 24, a_cells % 24, ans_w[a_cells]
    na_all = ~is_ans
    c_u, c_inv = np.unique(np.round(c[na_all], 3), return_inverse=True)
    key, n_w = np.unique(cell[na_all] * len(c_u) + c_inv, return_counts=True)
    n_w = n_w.astype(float)
    n_cell, n_c = key // max(len(c_u), 1), key % max(len(c_u), 1)
    n_att_, n_hour = n_cell // 24, n_cell % 24
    n_f = lognormal_mixture_cdf(c_u, mu, sigma, w)[n_c] if len(c_u) else np.zeros(0)
    dial_hours = np.bincount(hour, minlength=24).astype(float)
    # which (attempt, hour) cells hold dials: a group's q may not push any of its dials'
    # pick-up probability (q times the other factor) above 1
    has = np.bincount(cell, minlength=(n_att + 1) * 24).reshape(n_att + 1, 24) > 0

    def cap(other: np.ndarray, mask: np.ndarray) -> float:
        top = float(other[mask].max()) if mask.any() else 0.0
        return 1.0 / top if top > 0 else math.inf

    def levels(by_att: bool, by_hour: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pick-up levels per attempt and multipliers per hour by alternating maximisation;
        without ``by_att`` one level for every attempt, without ``by_hour`` none (1) —
        the models under each test's null hypothesis, maximised in their own right."""
        qa = np.full(n_att + 1, rf.best.p)
        se = np.full(n_att + 1, math.nan)
        mh = np.ones(24)
        for _ in range(ITER if by_hour else 1):
            if by_att:
                for g in range(1, n_att + 1):
                    sel = n_att_ == g
                    qa[g], se[g] = _group_q(float(a_w[a_att == g].sum()),
                                            n_f[sel] * mh[n_hour[sel]], n_w[sel],
                                            cap(mh, has[g]))
            else:
                q, q_se = _group_q(float(a_w.sum()), n_f * mh[n_hour], n_w,
                                   cap(mh, has.any(axis=0)))
                qa[:], se[:] = q, q_se
            if by_hour:
                for h in np.flatnonzero(dial_hours):
                    sel = n_hour == h
                    mh[h], _ = _group_q(float(a_w[a_hour == h].sum()), n_f[sel] * qa[n_att_[sel]],
                                        n_w[sel], cap(qa, has[:, h]))
                # scale: the hours average 1 over the dials, the attempts carry the level
                mean_h = float((mh * dial_hours).sum() / dial_hours.sum()) if len(hour) else 1.0
                if mean_h > 0:
                    mh /= mean_h
                    qa *= mean_h
                    se *= mean_h
        return qa, se, mh

    qa, se_a, mh = levels(True, True)

    def total_ll(qv: np.ndarray, mv: np.ndarray) -> float:
        pa = np.clip(qv[a_att] * mv[a_hour], 1e-12, None)
        pn = qv[n_att_] * mv[n_hour]
        return float((a_w * np.log(pa)).sum()
                     + (n_w * np.log(np.maximum(1 - pn * n_f, 1e-300))).sum())

    full = total_ll(qa, mh)
    hours_seen = sorted(set(hour_seen.tolist()))
    n_groups = len(set(hour.tolist()))  # hours with MIN_GROUP dials (the rest join them)
    rf.hour_counts = {h: int((hour_seen == h).sum()) for h in hours_seen}
    rf.attempt_counts = [int((att == g).sum()) for g in range(1, n_att + 1)]
    # likelihood-ratio tests against each null model fitted in its own right (a null
    # left at the full model's other parameters inflates the statistic: ~16 % false
    # effects at a nominal 5 %)
    q0, _, m0 = levels(False, True)
    q1, _, m1 = levels(True, False)
    p_att = float(stats.chi2.sf(max(0.0, 2 * (full - total_ll(q0, m0))), max(n_att - 1, 1)))
    p_hour = float(stats.chi2.sf(max(0.0, 2 * (full - total_ll(q1, m1))),
                                 max(n_groups - 1, 1)))
    rf.lr_p = {"attempt": p_att, "hour": p_hour}
    use_att = n_att > 1 and p_att < 0.05
    use_hour = n_groups > 1 and p_hour < 0.05
    n = int(len(att))
    if use_att:
        rf.by_attempt = [_r(float(q / qa[1])) for q in qa[1:]]
        rf.estimates["customers.pickup_by_attempt"] = Estimate(
            name="customers.pickup_by_attempt", value=rf.by_attempt, n=n,
            method=f"censored MLE by attempt, LR test p={p_att:.2g}",
            note="relative to attempt 1; dials " + ", ".join(map(str, rf.attempt_counts)))
    else:
        single = int(d.attempt.max()) <= 1
        few = not single and n_att <= 1
        rf.estimates["customers.pickup_by_attempt"] = Estimate(
            name="customers.pickup_by_attempt", value=[1.0], n=n,
            method="" if single or few else f"no difference by attempt (LR test p={p_att:.2g})",
            identified=not (single or few),
            note="every lead was dialled once: retries cannot be told" if single else
            f"fewer than {MIN_GROUP} dials of any attempt after the first" if few else "")
    if use_hour:
        # an hour of few dials has the multiplier of the hour it was pooled with
        group = _hour_groups(np.bincount(hour_seen, minlength=24))
        rf.by_hour = {h: _r(float(mh[group[h]])) for h in hours_seen}
        rf.estimates["customers.pickup_by_hour"] = Estimate(
            name="customers.pickup_by_hour", value={str(h): v for h, v in rf.by_hour.items()},
            n=n, method=f"censored MLE by hour of day, LR test p={p_hour:.2g}",
            note="mean 1 over the dials")
    else:
        rf.estimates["customers.pickup_by_hour"] = Estimate(
            name="customers.pickup_by_hour", value={}, n=n,
            method=f"no difference by hour (LR test p={p_hour:.2g})" if n_groups > 1
            else "one hour dialled")
    if use_att:
        # q1's CI given F, widened by F's own uncertainty: the pooled p's variance beyond
        # its variance given F, as a relative part shared by every group
        q1, se = float(qa[1]), float(se_a[1])
        pooled = rf.estimates["customers.p_pickup"]
        p_all, se_c = _group_q(float(a_w.sum()), n_f, n_w)
        se_full = (pooled.high - pooled.low) / (2 * 1.96)
        if math.isfinite(se_full) and p_all > 0:
            rel_f2 = max(se_full ** 2 - se_c ** 2, 0.0) / p_all ** 2
            se = math.sqrt(se ** 2 + rel_f2 * q1 ** 2)
        rf.estimates["customers.p_pickup.scenario"] = Estimate(
            name="customers.p_pickup.scenario", value=min(q1, 1.0), low=max(q1 - 1.96 * se, 0),
            high=min(q1 + 1.96 * se, 1.0), n=rf.attempt_counts[0],
            method="attempt-1 level of the multiplier fit (CI includes the ring law's)")
    elif use_hour:
        rf.estimates["customers.p_pickup.scenario"] = Estimate(
            name="customers.p_pickup.scenario", value=min(float(qa[1]), 1.0), n=n,
            method="level of the by-hour fit (ring law fixed)")


def fit_ring(d: Dials) -> RingFit:
    """Censored fit of p_pickup and the ring law (lognormal vs 2-mixture by AIC), KM curve,
    naive fit for comparison, multipliers by attempt and hour."""
    rf = RingFit()
    rf.estimates.update(naive_fit(d))
    an = d.answered
    n_ans, n_na = int(an.sum()), int(d.no_answer.sum())
    cens = d.censor_s()
    ring = d.ring_s[an]
    ok = np.isfinite(ring)
    times = np.concatenate([ring[ok], cens])
    event = np.concatenate([np.ones(int(ok.sum()), dtype=bool), np.zeros(len(cens), dtype=bool)])
    rf.km_t, rf.km_s = kaplan_meier(times, event)
    rf.estimates["dialer.ring_timeout_s"] = Estimate(
        name="dialer.ring_timeout_s", value=_r(d.ring_timeout_s), n=n_na, method=d.timeout_source,
        identified=math.isfinite(d.ring_timeout_s),
        note="" if math.isfinite(d.ring_timeout_s) else "no ringing call in the export")
    if n_ans == 0:
        rf.estimates["customers.p_pickup"] = Estimate(
            name="customers.p_pickup", value=0.0, n=n_na, identified=False,
            note="no call was answered: the pick-up probability and ring law cannot be fitted")
        return rf
    if int(ok.sum()) < 10 or not np.any(ring[ok] > 0):
        rf.estimates["customers.p_pickup"] = Estimate(
            name="customers.p_pickup", value=n_ans / max(n_ans + n_na, 1), n=n_ans + n_na,
            identified=False, note="too few answer times for a censored fit (need 10): the "
                                   "answered share is written, biased low")
        return rf
    ans_bins = d.ring_bins(ok) if d.whole_seconds else bins_exact(ring[ok])
    whole = None
    if d.whole_seconds:
        r_u, r_w = np.unique(ring[ok], return_counts=True)
        whole = (r_u.astype(float), r_w.astype(float), float(d.ring_timeout_s))
    ct, cw = _censored(cens)
    p0 = n_ans / (n_ans + n_na)
    for k in (1, 2):
        if k == 2 and n_ans < 50:
            continue
        try:
            rf.fits[k] = censored_fit(ans_bins, ct, cw, k, p0, whole)
        except ValueError:
            continue
    if not rf.fits:
        return rf
    best = rf.fits.get(1) or rf.fits[2]
    if 2 in rf.fits and best.k == 1 and rf.fits[2].res.aic < best.res.aic - AIC_MARGIN \
            and _seen_components(rf.fits[2], d.ring_timeout_s):
        best = rf.fits[2]
    rf.best = best
    aics = ", ".join(f"{'lognormal' if k == 1 else '2-lognormal mixture'} AIC "
                     f"{f.res.aic:.1f}" for k, f in sorted(rf.fits.items()))
    p = best.p
    # profile intervals in the chosen family; a side the likelihood does not bound (a
    # mixture's pick-up probability can run to 1 with a component past the timeout) is
    # the edge of the parameter space
    lo_l, hi_l = profile_ci(best.jac, best.res, 0)
    plo, phi = expit(lo_l), expit(hi_l)
    n = n_ans + n_na
    rf.estimates["customers.p_pickup"] = Estimate(
        name="customers.p_pickup", value=p, low=plo, high=phi, n=n,
        method="censored MLE (no-answer calls right-censored at their ring time), "
               "profile-likelihood CI")
    k = best.k

    def log_median(th: np.ndarray) -> float:
        return math.log(lognormal_mixture_ppf(0.5, *mixture_params(th[1:], k)))

    med = math.exp(log_median(best.res.theta))
    lo_m, hi_m = _median_profile(best)
    rf.estimates["ring.median_s"] = Estimate(
        name="ring.median_s", value=med, low=math.exp(lo_m), high=math.exp(hi_m), n=n_ans,
        method="median of the censored ring law, profile-likelihood CI")
    mu, sigma, w = best.law()
    rf.estimates["customers.ring"] = Estimate(
        name="customers.ring", value=law_dict(mu, sigma, w), n=n_ans,
        method=f"censored MLE, chosen by AIC ({aics})")
    if k == 1:
        s, slo, shi = delta_ci(best.res, lambda th: math.log(math.exp(th[2]) + SIGMA_FLOOR),
                               math.exp)
        rf.estimates["ring.sigma"] = Estimate(name="ring.sigma", value=s, low=slo, high=shi,
                                              n=n_ans, method="censored MLE")
    _multipliers(d, rf)
    return rf
