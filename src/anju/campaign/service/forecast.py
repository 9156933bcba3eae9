"""Campaign service part: forecast (see the package docstring).

When will each block and the whole project reach 100% signing? A survival model of the time to
sign, counted in campaign days from the launch (day 1 = ``launched_on``, or the first signing when
the project has no launch date):

- The observed part is the Kaplan–Meier estimate of "not yet signed" (every household is watched
  from the launch, so with daily data it is the share still unsigned at the end of each day; the
  households not signed by the date asked about are censored there).
- The tail beyond the data is a parametric survival curve fitted by maximum likelihood to the daily
  signing counts with the unsigned households censored (interval-censored: a signing on day t lies
  in (t-1, t]). Two families with a long right tail, the hard cases: Weibull and log-logistic
  (heavier); the log-logistic is used only when its likelihood is clearly higher (by
  ``PREFER_WEIBULL``; both have two parameters, so this is a margin on the AIC too).
- The completion day is when the last of the ``r`` households still unsigned signs. Given the fit,
  its distribution is that of the largest of ``r`` draws from the fitted curve conditioned on
  "not signed by today": ``P(C <= t) = (1 - S(t) / S(today)) ** r``. The expected date is its
  median under the fitted parameters.
- The band (10th to 90th percentile) comes from a parametric bootstrap: ``BOOTSTRAP`` histories are
  drawn from the fitted model, both families are refitted to each (the better one kept, so the
  choice of family is part of the uncertainty), and for each refit one completion day is drawn.
  The band therefore covers both the uncertainty of the parameters and the chance of who signs last.
- The project is not fitted by pooling its households: villages launched or worked at different
  paces make the pooled time to sign a mixture whose long tail is an artefact (a project whose
  every village was within three months of finishing was forecast years away). Each top-level block
  (and the households without a block, if any) is fitted on its own, and the project completes when
  the last of them does: the point is the median of that maximum under the fitted parameters
  (``P(C <= t) = prod_b P(C_b <= t)``), the band the percentiles of the per-simulation maxima of the
  blocks' bootstrap draws (simulation i of every block together, so the band is that of one
  coherent future). A block with too few signatures to fit borrows the pooled model for its own
  unsigned households.

Fewer than ``MIN_SIGNED`` signatures, or fewer than ``MIN_DAYS`` campaign days, is "insufficient"
(no date is guessed). Everything is deterministic: the random numbers are seeded from the data.
Pure numpy; the fits work on the daily histogram, so their cost does not grow with the number of
households.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from anju.campaign.service.progress_facts import (
    SIGNED,
    _cached,
    _result_cache,
    block_members,
    load_facts,
    project_plan,
)
from anju.identity.service import DataScope

__all__ = [
    "METHOD_LABELS",
    "BlockForecast",
    "CompletionEstimate",
    "Forecast",
    "combine_completions",
    "estimate_completion",
    "forecast",
]

BOOTSTRAP = 200
BAND = (10.0, 90.0)  # percentiles of the band
MIN_SIGNED = 5
MIN_DAYS = 3
# Log-likelihood points by which the log-logistic must beat the Weibull to be chosen (a likelihood
# ratio of e^2 ≈ 7.4): the two fit the observed days alike and differ mostly in the unseen tail.
PREFER_WEIBULL = 2.0
HORIZON_DAYS = 3650  # a completion later than ten years after the launch is "beyond the horizon"
FAMILIES = ("weibull", "loglogistic")
FAMILY_LABELS = {"weibull": "Weibull 生存模型", "loglogistic": "对数逻辑斯蒂生存模型"}
METHOD_LABELS = {
    "weibull": "生存模型（Weibull 尾部）",
    "loglogistic": "生存模型（对数逻辑斯蒂尾部）",
    "complete": "已全部签约",
    "insufficient": "数据不足",
    "beyond_horizon": "超出预测范围",
    "empty": "无住户",
}

# Parameters are fitted as (log scale, log shape); bounds keep them in a sane range.
_LOG_SCALE = (math.log(0.1), math.log(1e5))
_LOG_SHAPE = (math.log(0.15), math.log(20.0))
_MAX_ITER = (
    80  # a flat ridge (a stalled campaign) is walked no further: the date is beyond the horizon anyway
)
_OFFSETS = np.array([(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)], float)


# ------------------------------------------------------------------ survival math (pure)


def _log_surv(family: str, t: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """log S(t) for parameters ``theta[..., 0:2]`` = (log scale, log shape); broadcasts ``t`` last."""
    ls = theta[..., 0:1]
    lk = theta[..., 1:2]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        # t = 0 gives log t = -inf, so z = 0 and S(0) = 1
        z: np.ndarray = np.exp(np.exp(lk) * (np.log(t) - ls))
        out: np.ndarray = -z if family == "weibull" else -np.log1p(z)
    return out


def _loglik(family: str, theta: np.ndarray, counts: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Log-likelihood of daily signing counts (``counts[..., t-1]`` signed on day t, t = 1..m) with
    ``censored`` households unsigned after day m; ``theta`` is (..., P, 2), counts (..., m)."""
    m = counts.shape[-1]
    days = np.arange(0, m + 1, dtype=float)
    ls = _log_surv(family, days, theta)  # (..., P, m + 1)
    prev, cur = ls[..., :-1], ls[..., 1:]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # log(S(t-1) - S(t)) = log S(t-1) + log(1 - exp(log S(t) - log S(t-1)))
        lp = prev + np.log(-np.expm1(np.minimum(cur - prev, -1e-300)))
        lp = np.nan_to_num(lp, nan=-1e30, neginf=-1e30, posinf=-1e30)
        ll = np.einsum("...pm,...m->...p", lp, counts) + censored[..., None] * ls[..., -1]
    out: np.ndarray = np.nan_to_num(ll, nan=-1e300, neginf=-1e300, posinf=-1e300)
    return out


def _clip(theta: np.ndarray) -> np.ndarray:
    out = theta.copy()
    out[..., 0] = np.clip(out[..., 0], *_LOG_SCALE)
    out[..., 1] = np.clip(out[..., 1], *_LOG_SHAPE)
    return out


def _pattern_search(
    family: str, counts: np.ndarray, censored: np.ndarray, start: np.ndarray, step: float, tol: float = 2e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise the likelihood of B histories at once (``counts`` (B, m), ``start`` (B, 2)) by a
    compass search on a 3x3 stencil that halves its step when no neighbour is better."""
    b = counts.shape[0]
    theta = _clip(start)
    steps = np.full(b, step)
    best_ll = np.full(b, -np.inf)
    active = np.arange(b)
    for _ in range(_MAX_ITER):
        st = steps[active]
        cand = _clip(theta[active, None, :] + _OFFSETS[None, :, :] * st[:, None, None])
        ll = _loglik(family, cand, counts[active], censored[active])
        pick = np.argmax(ll, axis=1)  # index 0 (the centre) wins ties
        sub = np.arange(len(active))
        theta[active] = cand[sub, pick]
        best_ll[active] = ll[sub, pick]
        steps[active] = np.where(pick == 0, st / 2, st)
        active = active[steps[active] >= tol]  # only the histories still moving are evaluated again
        if len(active) == 0:
            break
    return theta, best_ll


def _choose(ll_weibull: float, ll_loglogistic: float) -> str:
    """The family of the tail: log-logistic only when it is clearly more likely (its tail is far
    heavier, so a tie would make the forecast swing on noise)."""
    return "loglogistic" if ll_loglogistic > ll_weibull + PREFER_WEIBULL else "weibull"


def _fit(family: str, counts: np.ndarray, censored: float) -> tuple[np.ndarray, float]:
    """MLE of one history: a coarse grid, then the compass search from its best point."""
    m = counts.shape[-1]
    scales = np.linspace(math.log(0.5), math.log(max(50.0 * m, 10.0)), 36)
    shapes = np.linspace(math.log(0.2), math.log(8.0), 24)
    grid = np.array([(s, k) for s in scales for k in shapes])
    ll = _loglik(family, grid[None, :, :], counts[None, :], np.array([censored]))[0]
    start = grid[int(np.argmax(ll))]
    step = float(max(scales[1] - scales[0], shapes[1] - shapes[0]))
    theta, best = _pattern_search(family, counts[None, :], np.array([censored]), start[None, :], step)
    return theta[0], float(best[0])


def _completion_days(
    family: np.ndarray | str, theta: np.ndarray, m: int, remaining: int, u: np.ndarray
) -> np.ndarray:
    """Day (real, > m) on which the last of ``remaining`` households unsigned after day ``m`` signs,
    at the quantile ``u`` of that maximum (u = 0.5: the median); ``theta`` (B, 2), ``u`` (B,)."""
    fams = np.broadcast_to(np.asarray(family), u.shape)
    out = np.empty(u.shape)
    for fam in FAMILIES:
        sel = fams == fam
        if not np.any(sel):
            continue
        th = theta[sel]
        log_sm = _log_surv(fam, np.array([float(m)]), th)[:, 0]
        # S(C) = S(m) * (1 - u ** (1 / r))
        log_target = log_sm + np.log(-np.expm1(np.log(u[sel]) / remaining))
        x = -log_target  # > 0
        ls, k = th[:, 0], np.exp(th[:, 1])
        if fam == "weibull":
            log_t = ls + np.log(x) / k
        else:
            # z = 1/S - 1 = expm1(x); log z = x + log(1 - exp(-x))
            log_z = x + np.log(-np.expm1(-x))
            log_t = ls + log_z / k
        out[sel] = np.exp(np.minimum(log_t, math.log(HORIZON_DAYS * 10.0)))
    return np.maximum(out, m + 1e-9)


@dataclass(frozen=True, slots=True, eq=False)
class _Model:
    """A fitted group of households as the project's combination needs it (see the module docstring):
    the point fit and, per bootstrap simulation, the refit and the completion day drawn from it."""

    family: str
    theta: np.ndarray  # (2,) log scale, log shape
    remaining: int  # households unsigned after day m
    families: np.ndarray  # (B,) family of each refit
    thetas: np.ndarray  # (B, 2)
    draws: np.ndarray  # (B,) completion day (real, > m) of each simulation


@dataclass(frozen=True, slots=True)
class CompletionEstimate:
    """The forecast of one group of households, in campaign days (day 1 = the origin date).

    ``day`` is the median completion day, ``low``/``high`` the band; ``None`` when the method gives
    no date (insufficient data, beyond the horizon, no households).
    """

    method: str
    n: int
    signed: int
    observed_days: int
    day: int | None = None
    low: int | None = None
    high: int | None = None
    family: str = ""
    params: tuple[float, float] | None = None  # (scale in days, shape)
    loglik: float | None = None
    # Expected households signed by day (m + 1 ...): (day, expected, low, high), thinned to <= 60 points.
    curve: list[tuple[int, float, float, float]] = field(default_factory=list)
    # The fit behind a dated estimate (None otherwise), for combining groups into the project.
    model: _Model | None = field(default=None, compare=False, repr=False)


def _unsigned_share(family: np.ndarray | str, theta: np.ndarray, t: np.ndarray, m: int) -> np.ndarray:
    """S(t) / S(m): the share of the households unsigned after day ``m`` still unsigned at ``t``,
    for each row of ``theta`` (B, 2) with its family: (B, len(t))."""
    fams = np.broadcast_to(np.asarray(family), theta.shape[:1])
    out = np.empty((theta.shape[0], len(t)))
    for fam in FAMILIES:
        sel = fams == fam
        if np.any(sel):
            th = theta[sel]
            out[sel] = np.exp(_log_surv(fam, t, th) - _log_surv(fam, np.array([float(m)]), th))
    return out


def _estimate(
    n: int,
    signed: int,
    m: int,
    point: float,
    models: Sequence[_Model],
    draws: np.ndarray,
    lead: _Model,
    loglik: float | None,
    want_curve: bool,
    model: _Model | None,
) -> CompletionEstimate:
    """The dated estimate from the median completion day ``point`` and the simulated days ``draws``;
    the curve sums the expected signings of ``models``; ``lead`` names the family and parameters."""
    lo, hi = np.percentile(draws, BAND)
    day, low, high = math.ceil(point), math.ceil(lo), math.ceil(hi)
    low, high = min(low, day), max(high, day)
    family = lead.family
    scale, shape = math.exp(lead.theta[0]), math.exp(lead.theta[1])
    curve: list[tuple[int, float, float, float]] = []
    if want_curve:
        end = min(max(high, day), m + HORIZON_DAYS)
        pts = np.unique(np.linspace(m, end, num=min(60, end - m + 1)).round().astype(int))
        t = pts.astype(float)
        unsigned = np.zeros(len(t))
        boot = np.zeros((len(draws), len(t)))
        for md in models:
            unsigned = unsigned + md.remaining * _unsigned_share(md.family, md.theta[None, :], t, m)[0]
            boot = boot + md.remaining * _unsigned_share(md.families, md.thetas, t, m)
        exp_signed = n - unsigned
        blo, bhi = np.percentile(n - boot, BAND, axis=0)
        curve = [
            (int(d), float(e), float(a), float(b))
            for d, e, a, b in zip(pts, exp_signed, blo, bhi, strict=True)
        ]
    if day > HORIZON_DAYS:
        return CompletionEstimate(
            "beyond_horizon", n, signed, m, None, None, None, family, (scale, shape), loglik, curve, model
        )
    return CompletionEstimate(
        family,
        n,
        signed,
        m,
        day,
        low,
        min(high, HORIZON_DAYS),
        family,
        (scale, shape),
        loglik,
        curve,
        model,
    )


def estimate_completion(
    sign_days: np.ndarray,
    n: int,
    observed_days: int,
    *,
    seed: int = 0,
    bootstrap: int = BOOTSTRAP,
    want_curve: bool = False,
) -> CompletionEstimate:
    """Forecast the day on which all ``n`` households are signed.

    ``sign_days`` holds the campaign day (1-based, clamped to at least 1) of every signature made by
    the end of day ``observed_days``; the other ``n - len(sign_days)`` households are censored there.
    """
    m = int(observed_days)
    signed = len(sign_days)
    if n <= 0:
        return CompletionEstimate("empty", 0, 0, m)
    if signed >= n:
        last = int(np.max(sign_days)) if signed else 0
        return CompletionEstimate("complete", n, signed, m, last, last, last)
    if signed < MIN_SIGNED or m < MIN_DAYS:
        return CompletionEstimate("insufficient", n, signed, m)
    if m > HORIZON_DAYS:  # still unsigned ten years after the start: no date to give
        return CompletionEstimate("beyond_horizon", n, signed, m)
    days = np.clip(np.asarray(sign_days, dtype=np.int64), 1, m)
    counts = np.bincount(days - 1, minlength=m)[:m].astype(float)
    remaining = n - signed
    fits = {fam: _fit(fam, counts, float(remaining)) for fam in FAMILIES}
    family = _choose(fits["weibull"][1], fits["loglogistic"][1])
    theta, ll = fits[family]
    point = _completion_days(family, theta[None, :], m, remaining, np.array([0.5]))[0]

    rng = np.random.default_rng(seed)
    # Bootstrap histories from the fitted model: the day each of n households signs (or not by m).
    log_s = _log_surv(family, np.arange(0, m + 1, dtype=float), theta[None, :])[0]
    surv = np.exp(log_s)
    probs = np.append(-np.diff(surv), surv[-1])
    probs = np.clip(probs, 0, None)
    probs /= probs.sum()
    sims = rng.multinomial(n, probs, size=bootstrap).astype(float)
    sim_counts, sim_cens = sims[:, :m], sims[:, m]
    refits = {}
    for fam in FAMILIES:
        start = np.repeat(fits[fam][0][None, :], bootstrap, axis=0)
        refits[fam] = _pattern_search(fam, sim_counts, sim_cens, start, step=0.25)
    choice = np.where(
        refits["loglogistic"][1] > refits["weibull"][1] + PREFER_WEIBULL, "loglogistic", "weibull"
    )
    thetas = np.where((choice == FAMILIES[0])[:, None], refits[FAMILIES[0]][0], refits[FAMILIES[1]][0])
    u = rng.uniform(1e-12, 1.0, size=bootstrap)
    draws = _completion_days(choice, thetas, m, remaining, u)
    model = _Model(family, theta, remaining, choice, thetas, draws)
    return _estimate(n, signed, m, float(point), [model], draws, model, ll, want_curve, model)


def _median_of_latest(models: Sequence[_Model], m: int) -> float:
    """The median day on which the last of several independent groups completes under their point
    fits: ``P(C <= t) = prod_g (1 - S_g(t) / S_g(m)) ** r_g`` = 1/2, solved by bisection on log t."""

    def log_cdf(t: float) -> float:
        total = 0.0
        for md in models:
            share = float(_unsigned_share(md.family, md.theta[None, :], np.array([t]), m)[0, 0])
            if share >= 1.0:
                return -math.inf
            total += md.remaining * math.log1p(-share)
        return total

    lo, hi = math.log(m + 1e-9), math.log(HORIZON_DAYS * 10.0)
    if log_cdf(math.exp(hi)) < math.log(0.5):
        return math.exp(hi)
    for _ in range(60):
        mid = (lo + hi) / 2
        if log_cdf(math.exp(mid)) < math.log(0.5):
            lo = mid
        else:
            hi = mid
    return max(math.exp(hi), m + 1e-9)


def combine_completions(
    parts: Sequence[CompletionEstimate],
    *,
    pooled: CompletionEstimate | None = None,
    seed: int = 0,
    want_curve: bool = False,
) -> CompletionEstimate:
    """The project's completion from the estimates of the groups that partition its households (its
    top-level blocks and the households without one), all observed for the same days: the project is
    complete when the last group is (see the module docstring).

    A group too small to fit (``insufficient``) borrows ``pooled`` (the estimate of all the households
    together) for its unsigned households; without a dated ``pooled`` the project gets ``pooled``'s
    answer (or "insufficient"). A group beyond the horizon puts the project beyond it too.
    """
    live = [p for p in parts if p.n > 0]
    n = sum(p.n for p in live)
    signed = sum(p.signed for p in live)
    m = max((p.observed_days for p in parts), default=0)
    if n == 0:
        return CompletionEstimate("empty", 0, 0, m)
    if all(p.method == "complete" for p in live):
        last = max(p.day or 0 for p in live)
        return CompletionEstimate("complete", n, signed, m, last, last, last)
    beyond = next((p for p in live if p.method == "beyond_horizon"), None)
    if beyond is not None:
        return CompletionEstimate(
            "beyond_horizon", n, signed, m, None, None, None, beyond.family, beyond.params, None
        )
    models: list[_Model] = []
    lls: list[float] = []
    rng = np.random.default_rng(seed)
    for p in live:
        if p.method == "complete":
            continue  # its last signature is on or before day m: every simulated day is later
        if p.model is not None:
            models.append(p.model)
            lls.append(p.loglik or 0.0)
            continue
        # Too little to fit this group alone: its unsigned households follow the pooled curve.
        if pooled is None or pooled.model is None:
            if pooled is not None and pooled.n == n:
                return pooled
            return CompletionEstimate("insufficient", n, signed, m)
        base, r = pooled.model, p.n - p.signed
        u = rng.uniform(1e-12, 1.0, size=len(base.draws))
        draws = _completion_days(base.families, base.thetas, m, r, u)
        models.append(_Model(base.family, base.theta, r, base.families, base.thetas, draws))
    if len({len(md.draws) for md in models}) != 1:
        raise ValueError("every group needs the same number of bootstrap simulations")
    point = _median_of_latest(models, m)
    # Simulation i of every group together: one possible future of the whole project.
    draws = np.max(np.stack([md.draws for md in models]), axis=0)
    lead = max(
        models,
        key=lambda md: _completion_days(md.family, md.theta[None, :], m, md.remaining, np.array([0.5]))[0],
    )
    return _estimate(n, signed, m, point, models, draws, lead, sum(lls) if lls else None, want_curve, None)


# ------------------------------------------------------------------ forecast of a project


@dataclass(frozen=True, slots=True)
class BlockForecast:
    """The forecast of one block (or of the whole project: ``block_id`` None) with dates."""

    block_id: int | None
    name: str
    method: str
    households: int
    signed: int
    remaining: int
    expected: date | None
    low: date | None
    high: date | None
    family: str = ""
    params: tuple[float, float] | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates ISO)."""
        return {
            "block_id": self.block_id,
            "name": self.name,
            "method": self.method,
            "method_label": METHOD_LABELS.get(self.method, self.method),
            "households": self.households,
            "signed": self.signed,
            "remaining": self.remaining,
            "date": self.expected.isoformat() if self.expected else None,
            "low": self.low.isoformat() if self.low else None,
            "high": self.high.isoformat() if self.high else None,
            "family": self.family,
            "scale_days": round(self.params[0], 3) if self.params else None,
            "shape": round(self.params[1], 4) if self.params else None,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Forecast:
    """When the project and each block reach 100% signing, as of ``on``."""

    project_id: int
    on: date
    origin: date | None  # campaign day 1
    observed_days: int
    project: BlockForecast
    blocks: list[BlockForecast]
    # Burn-up forecast of the project: (date, expected signed, band low, band high).
    curve: list[tuple[date, float, float, float]]
    bootstrap: int = BOOTSTRAP
    band: tuple[float, float] = BAND

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (dates ISO)."""
        return {
            "project_id": self.project_id,
            "on": self.on.isoformat(),
            "origin": self.origin.isoformat() if self.origin else None,
            "observed_days": self.observed_days,
            "bootstrap": self.bootstrap,
            "band_percentiles": list(self.band),
            "project": self.project.to_dict(),
            "blocks": [b.to_dict() for b in self.blocks],
            "curve": [
                {"date": d.isoformat(), "expected": round(e, 1), "low": round(lo, 1), "high": round(hi, 1)}
                for d, e, lo, hi in self.curve
            ],
        }


_cache: OrderedDict[tuple[Any, ...], CompletionEstimate] = OrderedDict()
_lock = threading.Lock()
_MAX = 1024


def _digest(days: np.ndarray) -> str:
    return hashlib.blake2b(np.sort(days).astype(np.int64).tobytes(), digest_size=16).hexdigest()


def _memo(key: tuple[Any, ...], compute: Any) -> CompletionEstimate:
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    est: CompletionEstimate = compute()
    with _lock:
        _cache[key] = est
        while len(_cache) > _MAX:
            _cache.popitem(last=False)
    return est


def _cached_estimate(days: np.ndarray, n: int, m: int, *, want_curve: bool) -> CompletionEstimate:
    """``estimate_completion`` memoised on its inputs (a visit or an assignment does not change them;
    a new signature changes only the forecasts of the groups it belongs to)."""
    digest = _digest(days)
    seed = int(digest[:8], 16) ^ (n * 7919) ^ m
    return _memo(
        (digest, n, m, want_curve),
        lambda: estimate_completion(days, n, m, seed=seed, want_curve=want_curve),
    )


def _note(est: CompletionEstimate) -> str:
    if est.method == "insufficient":
        return f"已签约 {est.signed} 户、观察 {est.observed_days} 天，数据不足（至少需 {MIN_SIGNED} 户签约、{MIN_DAYS} 天），暂不预测"
    if est.method == "beyond_horizon":
        return "按目前签约速度，预计完成日期超出十年，暂不给出日期"
    if est.method == "complete":
        return "已全部签约"
    if est.method == "empty":
        return "没有住户"
    return f"按{FAMILY_LABELS.get(est.family, est.family)}外推，区间为第 {int(BAND[0])}-{int(BAND[1])} 百分位"


def _block_forecast(
    block_id: int | None, name: str, est: CompletionEstimate, origin: date | None, note: str = ""
) -> BlockForecast:
    def to_date(day: int | None) -> date | None:
        if day is None or origin is None:
            return None
        return origin + timedelta(days=day - 1)

    return BlockForecast(
        block_id=block_id,
        name=name,
        method=est.method,
        households=est.n,
        signed=est.signed,
        remaining=est.n - est.signed,
        expected=to_date(est.day),
        low=to_date(est.low),
        high=to_date(est.high),
        family=est.family,
        params=est.params,
        note=note or _note(est),
    )


def forecast(
    session: Session, *, project_id: int, on: date, scope: DataScope | None = None, blocks: bool = True
) -> Forecast:
    """When the project and each of its blocks reach 100% signing, fitted on the signing history up to
    ``on`` (see the module docstring). ``scope`` limits it to the caller's households; ``blocks=False``
    forecasts the whole only (the big screen)."""
    scope = scope or DataScope.everything()
    facts = load_facts(session, project_id=project_id, scope=scope)
    project = project_plan(session, project_id)
    key = ("forecast", facts.key, project, on, blocks)
    return _cached(_result_cache, key, lambda: _forecast(session, facts, project, on, blocks))


def _forecast(session: Session, facts: Any, project: Any, on: date, with_blocks: bool) -> Forecast:
    project_id = project.id
    signed_ord = facts.reach[SIGNED]
    on_ord = on.toordinal()
    origin = project.launched_on
    if origin is None:
        done = signed_ord[signed_ord <= on_ord]
        origin = date.fromordinal(int(done.min())) if len(done) else None
    m = (on - origin).days + 1 if origin is not None else 0

    def days_of(mask: np.ndarray | None) -> tuple[np.ndarray, int]:
        s = signed_ord if mask is None else signed_ord[mask]
        done = s[s <= on_ord]
        return np.maximum(done - (origin.toordinal() if origin else 0) + 1, 1), len(s)

    def estimate(mask: np.ndarray | None, *, curve: bool = False) -> CompletionEstimate:
        days, n = days_of(mask)
        if origin is None or m < 1:
            return CompletionEstimate("insufficient" if n else "empty", n, 0, max(m, 0))
        return _cached_estimate(days, n, m, want_curve=curve)

    members = list(block_members(session, project_id, facts))
    ids = {b.id for b, _ in members}
    # The project completes when the last of its top-level blocks does (module docstring); the
    # households without a block are one more group.
    groups = [mask for b, mask in members if b.parent_id not in ids]
    if np.any(facts.block_idx < 0):
        groups.append(facts.block_idx < 0)
    groups = [g for g in groups if np.any(g)]
    note = ""
    if len(groups) > 1 and origin is not None and m >= 1:
        parts = [estimate(g) for g in groups]
        # the pooled fit is needed only by a group too small to fit on its own
        pooled = (
            estimate(None) if any(p.model is None and p.method == "insufficient" for p in parts) else None
        )
        key = ("project", tuple((_digest(d), n) for d, n in map(days_of, groups)), m)
        seed = int(hashlib.blake2b(repr(key).encode(), digest_size=4).hexdigest(), 16)
        whole = _memo(key, lambda: combine_completions(parts, pooled=pooled, seed=seed, want_curve=True))
        if whole.method in FAMILIES:
            note = (
                f"各片区分别按生存模型外推，取最晚签完的片区（{FAMILY_LABELS.get(whole.family, whole.family)}），"
                f"区间为第 {int(BAND[0])}-{int(BAND[1])} 百分位"
            )
    else:
        whole = estimate(None, curve=True)
    blocks: list[BlockForecast] = []
    for b, mask in members if with_blocks else ():
        blocks.append(_block_forecast(b.id, b.name, estimate(mask), origin))
    curve = []
    if origin is not None:
        curve = [(origin + timedelta(days=d - 1), e, lo, hi) for d, e, lo, hi in whole.curve]
    return Forecast(
        project_id=project_id,
        on=on,
        origin=origin,
        observed_days=max(m, 0),
        project=_block_forecast(None, "全项目", whole, origin, note),
        blocks=blocks,
        curve=curve,
    )
