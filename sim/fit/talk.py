"""Talk time: a short "no interest / wrong person / machine greeting" component and
lognormal conversations, and the script that plays them.

Outbound talk times are not one lognormal: many calls end within seconds. The law is
fitted as a mixture of 1 to 3 lognormal components by maximum likelihood on binned
talk times (whole-second billsec as intervals under the export's rounding rule), the
number of components chosen by AIC (one more only if it lowers the AIC by more than
2). It is mapped to a script the model plays:

- an ``opening`` stage lasting the short component, after which a share ``w_short`` of
  people decline (the call then ends: ``decline_exit`` 0),
- a ``conversation`` stage whose length, added to the opening, follows the
  conversation components: each component's conversation is the law whose sum with
  the opening matches the component's quantiles (:func:`conversation_after`: a
  lognormal, or a mixture of two where one cannot). Matching mean and variance
  instead keeps the sum's mean but not its shape: its lower quantiles, which set the
  talk median when many calls are short, came out long (a talk median of 29.3 s for
  the law's 27.7 s with 40 % short calls),

so "end uninterested calls faster" (a shorter opening) and conversation lengths are
still levers of the fitted scenario. With one component there are no short calls: the
opening is instant and the conversation is the whole law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._mle import (
    SIGMA_FLOOR,
    Bins,
    MLEResult,
    bin_loglik,
    bin_loglik_grad,
    delta_ci,
    lognormal_mixture_cdf,
    lognormal_mixture_ppf,
    maximise,
    mixture_params,
)
from .estimate import Estimate

__all__ = ["TalkFit", "fit_mixture", "fit_talk", "is_short", "main_short", "script_of",
           "short_components", "wide_penalty"]

#: A component whose median is below this many seconds is a "short call" component...
SHORT_MAX_S = 15.0
#: ... if it is also narrow: a wide component (outliers: answers of 0-2 s and calls of
#: many minutes, a few per cent of the calls) is part of the conversations, not an
#: opening every person sits through.
SHORT_MAX_SIGMA = 1.0
#: A component is kept only with at least this share of the calls and ``MIN_CALLS``.
MIN_WEIGHT, MIN_CALLS = 0.01, 5
#: Widest component of a mixture (log scale). Without a bound, a handful of outliers
#: (e.g. 3 answers of 0-2 s among 620 calls of a real export) is best explained by one
#: very wide component (sigma 2.5) whose tail makes calls of hours; bounded, the outliers
#: stay with a component of plausible width and the conversations keep their shape.
COMPONENT_MAX_SIGMA = 1.5
_WIDE_PENALTY = 1e4  # per squared unit of sigma above the bound (soft: ~1e-4 over)


def is_short(mu: float, sigma: float) -> bool:
    """Whether a talk component (log-scale ``mu``, ``sigma``) is one of short calls."""
    return math.exp(mu) < SHORT_MAX_S and sigma <= SHORT_MAX_SIGMA


def short_components(mu: np.ndarray, sigma: np.ndarray) -> list[int]:
    """The indices of the short components (:func:`is_short`)."""
    return [i for i in range(len(mu)) if is_short(float(mu[i]), float(sigma[i]))]


def main_short(mu: np.ndarray, sigma: np.ndarray, w: np.ndarray) -> int | None:
    """The short component with the most calls (the opening's, or the machines'), if
    any: a small one of near-zero answers may be shorter, but it is not the opening."""
    short = short_components(mu, sigma)
    return max(short, key=lambda i: float(w[i])) if short else None


@dataclass(frozen=True, slots=True)
class Mixture:
    k: int
    res: MLEResult

    def law(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mu, sigma, w = mixture_params(self.res.theta, self.k)
        order = np.argsort(mu)
        return mu[order], sigma[order], w[order]


def wide_penalty(theta: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Penalty on mixture components wider than ``COMPONENT_MAX_SIGMA`` and its gradient
    (zero for one component, and for every component within the bound)."""
    g = np.zeros(len(theta))
    if k < 2:
        return 0.0, g
    sigma = mixture_params(theta, k)[1]
    over = np.maximum(sigma - COMPONENT_MAX_SIGMA, 0.0)
    g[1:2 * k:2] = 2 * _WIDE_PENALTY * over * (sigma - SIGMA_FLOOR)  # d sigma / d s
    return _WIDE_PENALTY * float((over ** 2).sum()), g


def fit_mixture(b: Bins, k: int) -> Mixture:
    """A ``k``-component lognormal mixture fitted to the bins by direct MLE (components
    of a mixture no wider than ``COMPONENT_MAX_SIGMA``)."""
    def nll(theta: np.ndarray) -> float:
        mu, sigma, w = mixture_params(theta, k)
        ll = float((b.w * bin_loglik(b, mu, sigma, w)).sum())
        return -ll + wide_penalty(theta, k)[0] if math.isfinite(ll) else 1e300

    def nll_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g = bin_loglik_grad(b, theta, k)
        if not math.isfinite(ll):
            return 1e300, np.zeros(len(theta))
        pen, pg = wide_penalty(theta, k)
        return -ll + pen, -g + pg

    lm = np.log(np.maximum(b.mid(), 0.5))
    wts = b.w / b.w.sum()
    q = np.cumsum(wts)

    def quant(p: float) -> float:
        return float(lm[min(np.searchsorted(q, p), len(lm) - 1)])

    m = float((lm * wts).sum())
    sd = max(float(np.sqrt(((lm - m) ** 2 * wts).sum())), 0.05)
    starts: list[np.ndarray] = []
    if k == 1:
        starts.append(np.array([m, math.log(sd)]))
    elif k == 2:
        for lo_q, hi_q in ((0.1, 0.7), (0.2, 0.8), (0.05, 0.5)):
            starts.append(np.array([quant(lo_q), math.log(max(sd / 3, 0.05)), quant(hi_q),
                                    math.log(max(sd / 2, 0.05)), 0.0]))
    else:
        starts.append(np.array([quant(0.1), math.log(max(sd / 4, 0.05)), quant(0.5),
                                math.log(max(sd / 3, 0.05)), quant(0.85),
                                math.log(max(sd / 3, 0.05)), 0.0, 0.0]))
        starts.append(np.array([quant(0.05), math.log(0.3), quant(0.35), math.log(0.5),
                                quant(0.75), math.log(0.6), -0.5, 0.0]))
    return Mixture(k=k, res=maximise(nll, starts, nll_grad))


def _lognormal_mean_var(mu: float, sigma: float) -> tuple[float, float]:
    m = math.exp(mu + sigma ** 2 / 2)
    return m, (math.exp(sigma ** 2) - 1) * m * m


#: Probability levels at which opening + conversation is matched to a component.
_LEVELS = np.linspace(0.01, 0.99, 40)
#: Quantile nodes of the opening's law in the convolution (midpoint rule).
_NODES = 200
#: Bounds of a conversation component's (mu, log sigma) pairs and mixture logit.
_CONV_BOUNDS = (np.array([math.log(0.05), math.log(0.02)] * 2 + [-10.0]),
                np.array([math.log(86_400.0), math.log(3.0)] * 2 + [10.0]))
#: A lognormal conversation is kept when the sum's CDF is this close to the component's
#: (root mean square over the levels); otherwise a two-lognormal mixture is fitted.
_LOGNORMAL_RMS = 0.0005


def conversation_after(mu_o: float, s_o: float, mu_l: float, s_l: float
                       ) -> list[tuple[float, float, float]]:
    """The conversation law that, played after an opening lognormal ``(mu_o, s_o)``,
    gives a talk time distributed as lognormal ``(mu_l, s_l)``, as mixture components
    ``[(weight, mu, sigma), ...]``.

    Least squares between the sum's CDF (the opening integrated out on ``_NODES``
    quantile nodes) and the target's probability levels ``_LEVELS``. A lognormal
    conversation (started from the mean-and-variance match) is kept if it fits within
    ``_LOGNORMAL_RMS``; a sum of two lognormals is not lognormal, and where the opening
    is not negligible the best lognormal is off by several per cent in the lower
    quantiles (those that set the talk median when many calls are short): then a
    mixture of two lognormals, which matches to a few tenths of a per cent.
    """
    from scipy import optimize, special

    m_o, v_o = _lognormal_mean_var(mu_o, s_o)
    m_l, v_l = _lognormal_mean_var(mu_l, s_l)
    m_c, v_c = max(m_l - m_o, 0.25 * m_l), max(v_l - v_o, 0.05 * v_l)
    s2 = math.log1p(v_c / m_c ** 2)
    target = np.exp(mu_l + s_l * special.ndtri(_LEVELS))
    opening = np.exp(mu_o + s_o * special.ndtri((np.arange(_NODES) + 0.5) / _NODES))
    gap = target[:, None] - opening[None, :]  # t_j - o_k
    ok = gap > 0
    log_gap = np.log(np.where(ok, gap, 1.0))

    def cdf(mu_c: float, s_c: float) -> np.ndarray:
        return np.where(ok, special.ndtr((log_gap - mu_c) / s_c), 0.0).mean(axis=1)

    def res1(th: np.ndarray) -> np.ndarray:
        return cdf(th[0], math.exp(th[1])) - _LEVELS

    def res2(th: np.ndarray) -> np.ndarray:
        w = 1 / (1 + math.exp(-th[4]))
        return w * cdf(th[0], math.exp(th[1])) + (1 - w) * cdf(th[2], math.exp(th[3])) \
            - _LEVELS

    def fit(f: Any, th0: np.ndarray) -> tuple[np.ndarray, float]:
        # a conversation component of 0.05 s .. a day, sigma 0.02 .. 3: a component
        # shorter than the opening otherwise runs off to a median of 1e-13 s
        lo, hi = _CONV_BOUNDS[0][:len(th0)], _CONV_BOUNDS[1][:len(th0)]
        r = optimize.least_squares(f, np.clip(th0, lo + 1e-9, hi - 1e-9), bounds=(lo, hi),
                                   method="trf", xtol=1e-10, ftol=1e-12)
        return r.x, float((r.fun ** 2).sum())

    start = np.array([math.log(m_c) - s2 / 2, 0.5 * math.log(s2)])
    th1, f1 = fit(res1, start)
    if not f1 <= float((res1(start) ** 2).sum()):
        th1, f1 = start, float((res1(start) ** 2).sum())
    mu1, ls1 = float(th1[0]), float(th1[1])
    if math.sqrt(f1 / len(_LEVELS)) <= _LOGNORMAL_RMS:
        return [(1.0, mu1, math.exp(ls1))]
    best: tuple[np.ndarray, float] | None = None
    for d, a in ((0.4, 0.0), (0.8, -1.0), (0.8, 1.0)):
        cand = fit(res2, np.array([mu1 - d, ls1, mu1 + d, ls1, a]))
        if best is None or cand[1] < best[1]:
            best = cand
    if best is None or not best[1] < f1:
        return [(1.0, mu1, math.exp(ls1))]
    th = best[0]
    w = 1 / (1 + math.exp(-float(th[4])))
    return [(w, float(th[0]), math.exp(float(th[1]))),
            (1 - w, float(th[2]), math.exp(float(th[3])))]


def _r(x: float) -> float:
    return float(f"{x:.4g}")


def _ln(mu: float, sigma: float) -> dict[str, Any]:
    return {"dist": "lognormal", "median": _r(math.exp(mu)), "sigma": _r(sigma)}


def law_table(mu: np.ndarray, sigma: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """The distribution table of a lognormal mixture (one component: a lognormal)."""
    if len(mu) == 1:
        return _ln(float(mu[0]), float(sigma[0]))
    return {"dist": "mixture", "weights": [_r(float(x)) for x in w],
            "components": [_ln(float(m), float(s)) for m, s in zip(mu, sigma, strict=True)]}


def script_of(mu: np.ndarray, sigma: np.ndarray, w: np.ndarray,
              p_convert: float) -> dict[str, Any]:
    """A ``[script]`` table whose talk times follow the mixture (see the module docstring)."""
    s = main_short(mu, sigma, w)
    # the other short components (e.g. answers of 0-2 s) end with the opening too:
    # they decline after it (a few seconds longer than they were)
    short = short_components(mu, sigma)
    rest = [i for i in range(len(mu)) if i not in short]
    if len(mu) == 1 or s is None or not rest:
        return {"name": "fitted", "p_convert": _r(p_convert), "decline_exit": 0,
                "stages": [{"name": "opening", "duration": 0},
                           {"name": "conversation", "duration": law_table(mu, sigma, w)}]}
    w_short = float(sum(w[i] for i in short))
    comps: list[dict[str, Any]] = []
    weights: list[float] = []
    w_rest = w[rest] / w[rest].sum()
    for i, w_i in zip(rest, w_rest, strict=True):
        # every conversation also passes the opening: conversation = long - opening
        for w_c, mu_c, s_c in conversation_after(float(mu[s]), float(sigma[s]),
                                                 float(mu[i]), float(sigma[i])):
            comps.append(_ln(mu_c, s_c))
            weights.append(float(w_i) * w_c)
    conv: dict[str, Any] = comps[0] if len(comps) == 1 else {
        "dist": "mixture", "weights": [_r(x) for x in weights], "components": comps}
    return {"name": "fitted", "p_convert": _r(p_convert), "decline_exit": 0,
            "stages": [{"name": "opening", "duration": _ln(float(mu[s]), float(sigma[s])),
                        "p_decline": _r(w_short)},
                       {"name": "conversation", "duration": conv}]}


@dataclass(slots=True)
class TalkFit:
    estimates: dict[str, Estimate] = field(default_factory=dict)
    fits: dict[int, Mixture] = field(default_factory=dict)
    best: Mixture | None = None
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def cdf(self, t: np.ndarray) -> np.ndarray:
        if self.best is None:
            return np.full(len(t), np.nan)
        return lognormal_mixture_cdf(t, *self.best.law())


def fit_talk(b: Bins, values: np.ndarray, *, max_k: int = 3) -> TalkFit:
    """Fit 1..``max_k`` components (as many as the data allow), keep the best AIC."""
    tf = TalkFit(values=values)
    n = b.n
    if n < 10:
        tf.estimates["talk"] = Estimate(name="talk", value=None, n=n, identified=False,
                                        note=f"too few answered calls ({n}) for a talk law")
        return tf
    for k in range(1, max_k + 1):
        if k > 1 and n < 15 * k:  # a component per 15 calls at most (AIC decides)
            break
        try:
            tf.fits[k] = fit_mixture(b, k)
        except ValueError:
            continue
    if 1 not in tf.fits:
        tf.estimates["talk"] = Estimate(name="talk", value=None, n=n, identified=False,
                                        note="the talk-time likelihood could not be maximised")
        return tf
    # more components only while each lowers the AIC by more than 2 and has weight
    best = tf.fits[1]
    for k in sorted(tf.fits)[1:]:
        cand = tf.fits[k]
        w_min = float(cand.law()[2].min())
        if cand.res.aic < best.res.aic - 2.0 and w_min >= MIN_WEIGHT and w_min * n >= MIN_CALLS:
            best = cand
        else:
            break
    tf.best = best
    mu, sigma, w = best.law()
    aics = ", ".join(f"{k} component{'s' if k > 1 else ''} AIC {f.res.aic:.1f}"
                     for k, f in sorted(tf.fits.items()))
    tf.estimates["talk.law"] = Estimate(name="talk.law", value=law_table(mu, sigma, w), n=n,
                                        method=f"lognormal mixture MLE, by AIC ({aics})")
    k = best.k

    def sorted_params(th: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m_, s_, w_ = mixture_params(th, k)
        o = np.argsort(m_)
        return m_[o], s_[o], w_[o]

    def log_median(th: np.ndarray) -> float:
        return math.log(lognormal_mixture_ppf(0.5, *sorted_params(th)))

    med, lo, hi = delta_ci(best.res, log_median, math.exp)
    no_ci = "" if math.isfinite(lo) else (
        "no CI: the mixture's information matrix is singular or not positive (a component "
        "at its width floor, e.g. answered calls of 0 s)")
    tf.estimates["talk.median_s"] = Estimate(name="talk.median_s", value=med, low=lo, high=hi,
                                             n=n, method="median of the fitted mixture",
                                             note=no_ci)
    s0 = main_short(mu, sigma, w)
    if k > 1 and s0 is not None:
        def logit_w(th: np.ndarray) -> float:
            m_, s_, w_ = sorted_params(th)
            ww = sum(w_[i] for i in short_components(m_, s_))
            return math.log(ww / (1 - ww)) if 0 < ww < 1 else math.nan

        ws, wlo, whi = delta_ci(best.res, logit_w, lambda v: 1 / (1 + math.exp(-v)))
        tf.estimates["talk.short_share"] = Estimate(
            name="talk.short_share", value=ws, low=wlo, high=whi, n=n,
            method="weight of the short components", note=no_ci)
        sm, slo, shi = delta_ci(best.res, lambda th: sorted_params(th)[0][s0], math.exp)
        tf.estimates["talk.short_median_s"] = Estimate(
            name="talk.short_median_s", value=sm, low=slo, high=shi, n=n,
            method="median of the short component")
    return tf
