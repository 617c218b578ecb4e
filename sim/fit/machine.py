"""Machines among the answered calls: who answered, when the export does not say.

When ``answered_by`` is given, :mod:`.outcomes` counts it. When it is not, voicemail
greetings and operator announcements ("the number you called ...") hide in the talk
mixture's short component, next to people who hang up on the opening. They can be told
apart only if they *behave* differently on another axis: machines answer after their
own ring law (a voicemail picks up after a set number of rings, later than most people).
This module fits that joint model of (ring to answer, talk) by direct maximum likelihood
and keeps it only where the data support it:

- class ``machine``: the talk mixture's main short component (:func:`.talk.main_short`:
  narrow, under 15 s, the most calls), ring law lognormal (mu_m, s_m);
- class ``person``: the other talk components, ring law lognormal (mu_p, s_p);

an answered call contributes ``p sum_c w_c T_c(talk) R_class(c)(ring)``, a no-answer
after ringing ``c`` s ``1 - p ((1 - w_0) F_p(c) + w_0 F_m(c))`` (censoring as in
:mod:`.ring`), so ``w_0`` is the scenario's ``customers.p_machine`` (machines among the
dials that ring, picked up with the same ``p_pickup``, as the model draws them).

**Test.** The null model is the same with one ring law for both classes (ring and
talk independent, what the fit assumes without the split). It is nested, two
parameters fewer (mu_m = mu_p, s_m = s_p), and the null point lies inside the
parameter space with both classes of positive weight (the talk fit has already kept
the short component), so the likelihood-ratio statistic is chi-square with 2 degrees
of freedom under the null (no boundary problem: the weights are not tested; they are
identified by talk alone). The split is admitted when p < ``ALPHA`` and the machine
component stays the short one. The confidence of the split is reported as the LR
statistic, its p-value, the mean posterior probability of each answered call's most
likely class and the relative classification entropy (1: every call told apart
with certainty, 0: no information).

What this cannot do: a short component of people who hang up on the opening with the
*same* ring law as machines would be counted as machines; people's quick hang-ups with
the people's ring law stay people (the test measures exactly the ring difference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from ._mle import SIGMA_FLOOR, MLEResult, delta_ci, expit, logit, maximise, mixture_params
from .data import Dials
from .estimate import Estimate, not_identified
from .ring import _censored
from .talk import (
    SHORT_MAX_S,
    Mixture,
    TalkFit,
    fit_talk,
    is_short,
    law_table,
    main_short,
    short_components,
    wide_penalty,
)

__all__ = ["ALPHA", "MachineSplit", "fit_amd_latency", "known_split", "split_machines"]

#: Level of the likelihood-ratio test that admits the split (1 %: a wrong split moves
#: the script's opening into machines, a costlier mistake than keeping the default).
ALPHA = 0.01
#: Answered calls the joint fit needs (each class at least ~20 calls).
MIN_ANSWERED = 100
#: Exact times in bins 2 % wide on the log scale (a loss of information negligible
#: against component widths of 0.15 and more).
_LOG_STEP = 0.02


@dataclass(slots=True)
class MachineSplit:
    """The joint fit's outcome; ``admitted`` says whether the scenario uses it."""

    admitted: bool
    estimates: dict[str, Estimate] = field(default_factory=dict)
    note: str = ""
    p_pickup: float = math.nan
    share: float = 0.0
    ring_person: tuple[float, float] = (math.nan, math.nan)    # (mu, sigma) on the log scale
    ring_machine: tuple[float, float] = (math.nan, math.nan)
    talk_machine: tuple[float, float] = (math.nan, math.nan)
    people: TalkFit | None = None  # the person class's talk law, for the script
    lr: float = math.nan
    p_value: float = math.nan
    posterior: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: per dial: answered and more likely a machine than a person (for the retry laws)
    machine_calls: np.ndarray | None = None


def _bins(x: np.ndarray, whole: bool, rule: str, cap: float = math.inf
          ) -> tuple[np.ndarray, np.ndarray]:
    """Per-call (lo, hi) intervals (s) of a duration: whole seconds under the rounding rule,
    else a 1 %-wide log bin around the exact value."""
    if not whole:
        # a fixed grid on the log scale: a million calls make at most a few thousand
        # (ring, talk) cells (the cost of the fit is per cell)
        k = np.floor(np.log(np.maximum(x, 1e-3)) / _LOG_STEP)
        return np.exp(k * _LOG_STEP), np.exp((k + 1) * _LOG_STEP)
    if rule == "ceil":
        lo, hi = np.maximum(x - 1, 0.0), x
    elif rule == "round":
        lo, hi = np.maximum(x - 0.5, 0.0), x + 0.5
    else:  # floor, and the ring times read off truncated timestamps (+- 0.5 s)
        lo, hi = x, x + 1
    hi = np.minimum(hi, cap)
    return np.minimum(lo, hi * 0.999), hi


def _interval_p(lo_l: np.ndarray, hi_l: np.ndarray, mu: np.ndarray, sigma: np.ndarray
                ) -> np.ndarray:
    """P(lo < X < hi) per row (log bounds) and component: an (n, k) array."""
    return np.maximum(special.ndtr((hi_l[:, None] - mu) / sigma)
                      - special.ndtr((lo_l[:, None] - mu) / sigma), 1e-300)


def _unpack(theta: np.ndarray, k: int, split: bool):
    p = expit(theta[0])
    mu, sigma, w = mixture_params(theta[1:3 * k], k)
    j = 3 * k
    rp = (theta[j], math.exp(theta[j + 1]) + SIGMA_FLOOR)
    rm = (theta[j + 2], math.exp(theta[j + 3]) + SIGMA_FLOOR) if split else rp
    return p, mu, sigma, w, rp, rm


def _phi_terms(lo_l: np.ndarray, hi_l: np.ndarray, mu: np.ndarray, sigma: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row and component: P(lo < X < hi) and its derivatives in mu and log(sigma -
    floor) (the parametrisation of :func:`mixture_params`)."""
    def at(lx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z = (lx[:, None] - mu) / sigma
        fin = np.isfinite(z)
        zf = np.where(fin, z, 0.0)
        pdf = np.where(fin, np.exp(-0.5 * zf * zf) / math.sqrt(2 * math.pi), 0.0)
        return special.ndtr(z), pdf, pdf * zf

    c_hi, p_hi, zp_hi = at(hi_l)
    c_lo, p_lo, zp_lo = at(lo_l)
    prob = np.maximum(c_hi - c_lo, 1e-300)
    d_mu = (p_lo - p_hi) / sigma
    d_ls = (zp_lo - zp_hi) / sigma * (sigma - SIGMA_FLOOR)
    return prob, d_mu, d_ls


def _loglik_grad(theta: np.ndarray, k: int, split: bool,
                 cells: tuple[np.ndarray, ...], cens: tuple[np.ndarray, np.ndarray]
                 ) -> tuple[float, np.ndarray]:
    """The joint log-likelihood of :func:`split_machines` and its gradient."""
    lr_lo, lr_hi, lt_lo, lt_hi, cnt = cells
    log_ct, cw = cens
    p, mu, sigma, w, rp, rm = _unpack(theta, k, split)
    j = 3 * k
    tc, t_mu, t_ls = _phi_terms(lt_lo, lt_hi, mu, sigma)
    rings = np.array([rp[0], rm[0]]), np.array([rp[1], rm[1]])
    rc, r_mu, r_ls = _phi_terms(lr_lo, lr_hi, *rings)
    a = tc * w
    a[:, 0] *= rc[:, 1]
    a[:, 1:] *= rc[:, [0]]
    tot = np.maximum(a.sum(axis=1), 1e-300)
    ll = float((cnt * (math.log(max(p, 1e-300)) + np.log(tot))).sum())
    resp = a / tot[:, None] * cnt[:, None]  # per cell and component, weighted
    g = np.zeros(len(theta))
    g[0] = float(cnt.sum()) * (1 - p)
    g[1:j:2][:k] = (resp * t_mu / tc).sum(axis=0)
    g[2:j:2][:k] = (resp * t_ls / tc).sum(axis=0)
    rsum = resp.sum(axis=0)
    g[2 * k + 1:j] = rsum[1:] - w[1:] * float(cnt.sum())
    r_m, r_p = resp[:, 0], resp[:, 1:].sum(axis=1)
    gp = np.array([(r_p * r_mu[:, 0] / rc[:, 0]).sum(), (r_p * r_ls[:, 0] / rc[:, 0]).sum()])
    gm = np.array([(r_m * r_mu[:, 1] / rc[:, 1]).sum(), (r_m * r_ls[:, 1] / rc[:, 1]).sum()])
    if len(log_ct):
        z = (log_ct[:, None] - rings[0]) / rings[1]
        cdf = special.ndtr(z)
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        f = (1 - w[0]) * cdf[:, 0] + w[0] * cdf[:, 1]
        surv = np.maximum(1 - p * f, 1e-300)
        ll += float((cw * np.log(surv)).sum())
        c = -cw / surv  # d ll / d (p f)
        g[0] += float((c * f).sum()) * p * (1 - p)
        # weights: d w0 / d a_i = -w0 w_i (i >= 1)
        g[2 * k + 1:j] += float((c * p * (cdf[:, 1] - cdf[:, 0])).sum()) * -w[0] * w[1:]
        d_mu = -pdf / rings[1]
        d_ls = -pdf * z / rings[1] * (rings[1] - SIGMA_FLOOR)
        gp += np.array([(c * p * (1 - w[0]) * d_mu[:, 0]).sum(),
                        (c * p * (1 - w[0]) * d_ls[:, 0]).sum()])
        gm += np.array([(c * p * w[0] * d_mu[:, 1]).sum(), (c * p * w[0] * d_ls[:, 1]).sum()])
    g[j:j + 2] = gp
    if split:
        g[j + 2:j + 4] = gm
    else:
        g[j:j + 2] += gm
    return ll, g


def split_machines(d: Dials, tf: TalkFit, p0: float) -> MachineSplit:
    """Fit the machine / person split of the answered calls (see the module docstring).

    ``tf``: the talk mixture of all answered calls (its main short component is the
    candidate machine class); ``p0``: the censored pick-up probability, a start.
    """
    ans = d.answered
    ring = d.ring_s[ans]
    talk = d.talk_values()
    ok = np.isfinite(ring) & np.isfinite(talk)
    n = int(ok.sum())
    why = ""
    if tf.best is None or tf.best.k < 2:
        why = "the talk times have no short component to split"
    elif main_short(*tf.best.law()) is None:
        why = f"no narrow talk component shorter than {SHORT_MAX_S:g} s"
    elif n < MIN_ANSWERED:
        why = f"too few answered calls ({n}; the split needs {MIN_ANSWERED})"
    if why:
        return MachineSplit(False, note=why)
    assert tf.best is not None
    k = tf.best.k
    whole = d.whole_seconds
    r_lo, r_hi = _bins(np.maximum(ring[ok] - 0.5, 0.0) if whole else ring[ok], whole,
                       "floor", d.ring_timeout_s)
    t_lo, t_hi = _bins(talk[ok], whole, d.billsec_rule)
    # identical (ring, talk) cells once: O(cells), not O(calls)
    cells, inv, cnt = np.unique(np.stack([r_lo, r_hi, t_lo, t_hi], axis=1), axis=0,
                                return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    cnt = cnt.astype(float)
    with np.errstate(divide="ignore"):
        lr_lo, lr_hi, lt_lo, lt_hi = (np.log(cells[:, i]) for i in range(4))
    ct, cw = _censored(d.censor_s())
    log_ct = np.log(ct) if len(ct) else np.zeros(0)

    def parts(theta: np.ndarray, split: bool) -> tuple[float, np.ndarray, np.ndarray]:
        p, mu, sigma, w, rp, rm = _unpack(theta, k, split)
        tc = _interval_p(lt_lo, lt_hi, mu, sigma)
        r_p = _interval_p(lr_lo, lr_hi, np.array([rp[0]]), np.array([rp[1]]))[:, 0]
        r_m = _interval_p(lr_lo, lr_hi, np.array([rm[0]]), np.array([rm[1]]))[:, 0]
        joint = tc * w
        mach = joint[:, 0] * r_m
        pers = joint[:, 1:].sum(axis=1) * r_p
        ll = float((cnt * (math.log(max(p, 1e-300)) + np.log(np.maximum(mach + pers,
                                                                           1e-300)))).sum())
        if len(ct):
            f = (1 - w[0]) * special.ndtr((log_ct - rp[0]) / rp[1]) \
                + w[0] * special.ndtr((log_ct - rm[0]) / rm[1])
            ll += float((cw * np.log(np.maximum(1 - p * f, 1e-300))).sum())
        return ll, mach, pers

    def wide(theta: np.ndarray) -> tuple[float, np.ndarray]:
        # the talk fit's bound on component widths (talk parameters: theta[1:3k])
        pen, g = wide_penalty(theta[1:3 * k], k)
        return pen, np.concatenate([[0.0], g, np.zeros(len(theta) - 3 * k)])

    def nll(split: bool):
        def f(theta: np.ndarray) -> float:
            ll = parts(theta, split)[0]
            return -ll + wide(theta)[0] if math.isfinite(ll) else 1e300
        return f

    def nll_grad(split: bool):
        def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
            ll, g = _loglik_grad(theta, k, split, (lr_lo, lr_hi, lt_lo, lt_hi, cnt),
                                 (log_ct, cw))
            if not math.isfinite(ll):
                return 1e300, np.zeros(len(theta))
            pen, pg = wide(theta)
            return -ll + pen, -g + pg
        return f

    # starts: the talk fit as it is; ring laws from the calls most likely in each class
    mu_t, sig_t, w_t = tf.best.law()
    # the machine class is component 0: the short component with the most calls first
    first = main_short(mu_t, sig_t, w_t)
    order = [first, *[i for i in range(k) if i != first]]
    mu_t, sig_t, w_t = mu_t[order], sig_t[order], w_t[order]
    talk_theta = [v for m, s in zip(mu_t, sig_t, strict=True)
                  for v in (float(m), math.log(max(float(s) - SIGMA_FLOOR, 1e-3)))]
    talk_theta += [math.log(float(w_t[i]) / float(w_t[0])) for i in range(1, k)]
    lr_mid = np.log(np.maximum((cells[:, 0] + cells[:, 1]) / 2, 0.5))
    short = np.log(np.maximum(cells[:, 3], 1e-3)) < float(mu_t[0] + 2 * sig_t[0])

    def ring_start(sel: np.ndarray) -> list[float]:
        x, ww = (lr_mid[sel], cnt[sel]) if sel.any() else (lr_mid, cnt)
        m = float((x * ww).sum() / ww.sum())
        sd = max(float(np.sqrt(((x - m) ** 2 * ww).sum() / ww.sum())), 0.1)
        return [m + 0.1, math.log(sd)]

    base = [logit(min(max(p0, 0.05), 0.95)), *talk_theta]
    null_starts = [np.array(base + ring_start(np.ones(len(cnt), dtype=bool)))]
    try:
        null = maximise(nll(False), null_starts, nll_grad(False))
        th0 = null.theta
        alt_starts = [np.array([*th0, *th0[3 * k:3 * k + 2]]),
                      np.array(base + ring_start(~short) + ring_start(short))]
        alt = maximise(nll(True), alt_starts, nll_grad(True))
    except ValueError:
        return MachineSplit(False, note="the joint likelihood could not be maximised")
    lr = max(0.0, 2 * (alt.loglik - null.loglik))
    pval = float(stats.chi2.sf(lr, 2))
    p, mu, sigma, w, rp, rm = _unpack(alt.theta, k, True)
    _, mach, pers = parts(alt.theta, True)
    post = mach / np.maximum(mach + pers, 1e-300)
    post_calls = post[inv]  # per answered call (with ring and talk), in dial order
    certain = float(np.mean(np.maximum(post_calls, 1 - post_calls)))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(post_calls > 0, post_calls * np.log(post_calls), 0.0)
              + np.where(post_calls < 1, (1 - post_calls) * np.log1p(-post_calls), 0.0))
    entropy = 1 - float(h.mean()) / math.log(2)
    machine_first = is_short(float(mu[0]), float(sigma[0]))  # the machine class is short
    admitted = pval < ALPHA and machine_first and alt.cov is not None
    confidence = (f"LR test of one ring law vs two (chi-square, 2 df): LR {lr:.1f}, "
                  f"p={pval:.2g}; mean posterior class probability {certain:.3f}, "
                  f"relative entropy {entropy:.3f}")
    out: dict[str, Estimate] = {}

    def logit_w0(th: np.ndarray) -> float:
        ww = mixture_params(th[1:3 * k], k)[2][0]
        return math.log(ww / (1 - ww))

    share, s_lo, s_hi = delta_ci(alt, logit_w0, lambda v: 1 / (1 + math.exp(-v)))
    ms = MachineSplit(admitted=admitted, p_pickup=p, share=share, ring_person=rp,
                      ring_machine=rm, talk_machine=(float(mu[0]), float(sigma[0])),
                      lr=lr, p_value=pval, posterior=post_calls)
    mask = np.zeros(d.n, dtype=bool)
    mask[np.flatnonzero(ans)[ok]] = post_calls > 0.5
    ms.machine_calls = mask
    j = 3 * k
    rm_med, rm_lo, rm_hi = delta_ci(alt, lambda th: float(th[j + 2]), math.exp)
    rp_med, rp_lo, rp_hi = delta_ci(alt, lambda th: float(th[j]), math.exp)
    tm_med, tm_lo, tm_hi = delta_ci(alt, lambda th: float(th[1]), math.exp)
    out["machine.split"] = Estimate(
        name="machine.split", value=bool(admitted), n=n,
        method="joint (ring, talk) mixture MLE, machine class = the short talk component "
               "with its own ring law", note=confidence)
    out["machine.lr"] = Estimate(name="machine.lr", value=lr, n=n,
                                 method="2 (loglik split - loglik one ring law)",
                                 note=f"chi-square 2 df p={pval:.3g}")
    out["machine.p_value"] = Estimate(name="machine.p_value", value=pval, n=n,
                                      method="LR test, chi-square 2 df")
    out["machine.mean_posterior"] = Estimate(
        name="machine.mean_posterior", value=certain, n=n,
        method="mean over answered calls of the posterior probability of their likelier class")
    out["machine.entropy"] = Estimate(
        name="machine.entropy", value=entropy, n=n,
        method="1 - mean classification entropy / log 2 (1: classes told apart for sure)")
    out["machine.answered_share"] = Estimate(
        name="machine.answered_share", value=float(post_calls.mean()), n=n,
        method="mean posterior machine probability of the answered calls")
    if not admitted:
        reason = (f"the ring law of the short calls does not differ from the others' "
                  f"(p={pval:.2g} >= {ALPHA:g})" if pval >= ALPHA else
                  "the fitted machine class is not a short talk component" if not
                  machine_first else "the split's information matrix is singular")
        ms.note = reason
        for key, e in out.items():
            out[key] = Estimate(name=e.name, value=e.value, n=e.n, method=e.method,
                                identified=key != "machine.split", note=e.note)
        ms.estimates = out
        return ms
    out["customers.p_machine"] = Estimate(
        name="customers.p_machine", value=share, low=s_lo, high=s_hi, n=n + int(cw.sum()),
        method="machine class weight of the joint (ring, talk) mixture (machines among "
               "the dials that ring)", note=confidence)
    out["machine.ring_median_s"] = Estimate(
        name="machine.ring_median_s", value=rm_med, low=rm_lo, high=rm_hi, n=n,
        method="machine class ring law (censored), Wald CI")
    out["person.ring_median_s"] = Estimate(
        name="person.ring_median_s", value=rp_med, low=rp_lo, high=rp_hi, n=n,
        method="person class ring law (censored), Wald CI")
    out["machine.talk_median_s"] = Estimate(
        name="machine.talk_median_s", value=tm_med, low=tm_lo, high=tm_hi, n=n,
        method="machine class talk (greeting) law, Wald CI")
    ms.people = _people_talk(alt, k, mu, sigma, w, n)
    ms.estimates = out
    return ms


def _people_talk(res: MLEResult, k: int, mu: np.ndarray, sigma: np.ndarray, w: np.ndarray,
                 n: int) -> TalkFit:
    """The person class's talk law (components 1..k-1 renormalised) as a TalkFit."""
    mu_p, sig_p, w_p = mu[1:], sigma[1:], w[1:] / w[1:].sum()
    kp = k - 1
    theta = [v for m, s in zip(mu_p, sig_p, strict=True)
             for v in (float(m), math.log(max(float(s) - SIGMA_FLOOR, 1e-6)))]
    theta += [math.log(float(w_p[i]) / float(w_p[0])) for i in range(1, kp)]
    mix = Mixture(k=kp, res=MLEResult(theta=np.array(theta), cov=None, loglik=res.loglik,
                                      n_params=len(theta), converged=res.converged))
    tf = TalkFit(best=mix)
    tf.fits[kp] = mix
    tf.estimates["talk.law"] = Estimate(
        name="talk.law", value=law_table(mu_p, sig_p, w_p), n=n,
        method="person class of the joint (ring, talk) mixture (machines split off)")
    s0 = main_short(mu_p, sig_p, w_p)
    if kp > 1 and s0 is not None:
        share = sum(float(w_p[i]) for i in short_components(mu_p, sig_p))
        tf.estimates["talk.short_share"] = Estimate(
            name="talk.short_share", value=share, n=n,
            method="weight of people's short components (machines split off)")
        tf.estimates["talk.short_median_s"] = Estimate(
            name="talk.short_median_s", value=math.exp(float(mu_p[s0])), n=n,
            method="median of people's short component (machines split off)")
    return tf


def fit_amd_latency(d: Dials, amd_machine: int) -> Estimate:
    """AMD latency: the dialer hangs up on a machine verdict right after detection, so an
    answered call with verdict ``machine`` lasts (answer to end) the detection time."""
    ans = d.answered
    verdict = d.amd[ans] == amd_machine
    if not verdict.any():
        return not_identified("dialer.amd.latency", 0,
                              "the export has no AMD verdicts: detection latency is not "
                              "estimable")
    talk = d.talk_values()[verdict]
    if len(talk) < 10:
        return not_identified("dialer.amd.latency", 0,
                              f"only {len(talk)} calls with an AMD machine verdict (need 10)")
    mt = fit_talk(d.talk_bins(verdict), talk, max_k=1)
    if mt.best is None:
        return not_identified("dialer.amd.latency", 0, "the latency fit did not converge")
    mu, sigma, w = mt.best.law()
    med = mt.estimates["talk.median_s"]
    return Estimate(name="dialer.amd.latency", value=law_table(mu, sigma, w), low=med.low,
                    high=med.high, n=len(talk),
                    method="lognormal MLE of answer-to-hang-up on AMD machine verdicts "
                           "(CI: median)")


def known_split(d: Dials, machine: np.ndarray, p0: float) -> MachineSplit:
    """With ``answered_by``: the same censored model with each answered call's class
    known (``machine``: a mask over the answered calls), so the machine share among the
    dials that ring and both ring laws are fitted (a no-answer may have been either)."""
    ring = d.ring_s[d.answered]
    ok = np.isfinite(ring)
    m, pp = machine & ok, ~machine & ok
    if int(m.sum()) < 10 or int(pp.sum()) < 10:
        return MachineSplit(False, note="fewer than 10 answered calls of a class")
    whole = d.whole_seconds

    def cells(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = ring[sel]
        lo, hi = _bins(np.maximum(r - 0.5, 0.0) if whole else r, whole, "floor",
                       d.ring_timeout_s)
        u, c = np.unique(np.stack([lo, hi], axis=1), axis=0, return_counts=True)
        with np.errstate(divide="ignore"):
            return np.log(u[:, 0]), np.log(u[:, 1]), c.astype(float)

    cm, cp = cells(m), cells(pp)
    ct, cw = _censored(d.censor_s())
    log_ct = np.log(ct) if len(ct) else np.zeros(0)

    def nll(th: np.ndarray) -> float:
        p, share = expit(th[0]), expit(th[1])
        rp = (th[2], math.exp(th[3]) + SIGMA_FLOOR)
        rm = (th[4], math.exp(th[5]) + SIGMA_FLOOR)
        ll = 0.0
        for (lo, hi, c), (mu, s), w in ((cp, rp, 1 - share), (cm, rm, share)):
            prob = _interval_p(lo, hi, np.array([mu]), np.array([s]))[:, 0]
            ll += float((c * (math.log(max(p * w, 1e-300)) + np.log(prob))).sum())
        if len(ct):
            f = (1 - share) * special.ndtr((log_ct - rp[0]) / rp[1]) \
                + share * special.ndtr((log_ct - rm[0]) / rm[1])
            ll += float((cw * np.log(np.maximum(1 - p * f, 1e-300))).sum())
        return -ll if math.isfinite(ll) else 1e300

    def start(c: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[float]:
        mid = np.log(np.maximum((np.exp(c[0]) + np.exp(c[1])) / 2, 0.5))
        mu = float((mid * c[2]).sum() / c[2].sum())
        sd = max(float(np.sqrt(((mid - mu) ** 2 * c[2]).sum() / c[2].sum())), 0.1)
        return [mu + 0.1, math.log(sd)]

    share0 = float(m.sum()) / float(ok.sum())
    try:
        res = maximise(nll, [np.array([logit(min(max(p0, 0.05), 0.95)),
                                       logit(min(max(share0, 0.01), 0.99)),
                                       *start(cp), *start(cm)])])
    except ValueError:
        return MachineSplit(False, note="the known-class likelihood could not be maximised")
    th = res.theta
    share, s_lo, s_hi = delta_ci(res, lambda t: float(t[1]), expit)
    rm_med, rm_lo, rm_hi = delta_ci(res, lambda t: float(t[4]), math.exp)
    rp_med, rp_lo, rp_hi = delta_ci(res, lambda t: float(t[2]), math.exp)
    n = int(ok.sum())
    ms = MachineSplit(True, p_pickup=expit(th[0]), share=share,
                      ring_person=(float(th[2]), math.exp(th[3]) + SIGMA_FLOOR),
                      ring_machine=(float(th[4]), math.exp(th[5]) + SIGMA_FLOOR))
    ms.estimates = {
        "customers.p_machine": Estimate(
            name="customers.p_machine", value=share, low=s_lo, high=s_hi,
            n=n + int(cw.sum()), method="censored MLE with answered_by classes (machines "
            "among the dials that ring)",
            note=f"answered_by = machine on {int(m.sum()):,} of {n:,} answered calls"),
        "machine.ring_median_s": Estimate(
            name="machine.ring_median_s", value=rm_med, low=rm_lo, high=rm_hi,
            n=int(m.sum()), method="machine ring law (answered_by, censored), Wald CI"),
        "person.ring_median_s": Estimate(
            name="person.ring_median_s", value=rp_med, low=rp_lo, high=rp_hi,
            n=int(pp.sum()), method="person ring law (answered_by, censored), Wald CI")}
    return ms
