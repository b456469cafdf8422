"""Queueing theory for one stationary hour: Erlang C (M/M/n, callers wait forever) and
Erlang A (M/M/n+M, callers abandon after an exponential patience).

Erlang C uses the Erlang B recursion, stable for any n. Erlang A solves the birth-death
chain of the number in system directly, in log space (no factorials, no overflow), and gets
the answer-time distribution of a tagged arrival from a small absorbing Markov chain: an
arrival that finds q waiting ahead reaches a server after q+1 stages of rates n·μ + i·θ
(those ahead leave by service or by abandoning) unless its own patience ends first."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm  # type: ignore[import-untyped]


@dataclass(frozen=True, slots=True)
class Prediction:
    offered_erlang: float
    agents: int
    p_wait: float  # an arrival waits at all
    service_level: float  # share of ALL arrivals answered within the target
    asa_s: float  # mean answer time of the answered
    p90_answer_s: float  # 90th percentile answer time of the answered
    abandoned: float  # share of arrivals that hang up before an answer
    occupancy: float  # busy agents / agents


def erlang_b(a: float, n: int) -> float:
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(rate_per_s: float, aht_s: float, agents: int, answer_s: float) -> Prediction:
    a = rate_per_s * aht_s
    if agents <= a:  # unstable: the queue grows without bound
        return Prediction(a, agents, 1.0, 0.0, math.inf, math.inf, 0.0, 1.0)
    b = erlang_b(a, agents)
    c = agents * b / (agents - a * (1 - b))
    decay = (agents - a) / aht_s
    sl = 1 - c * math.exp(-decay * answer_s)
    asa = c / decay
    # answer-time tail P(W > t) = C·e^(−decay·t); the answered are all arrivals here
    p90 = 0.0 if c <= 0.1 else math.log(c / 0.1) / decay
    return Prediction(a, agents, c, sl, asa, p90, 0.0, a / agents)


def _stationary(lam: float, mu: float, theta: float, n: int) -> np.ndarray:
    """π of the number in system, truncated where the tail is negligible."""
    logs = [0.0]
    k = 0
    while True:
        k += 1
        death = min(k, n) * mu + max(k - n, 0) * theta
        logs.append(logs[-1] + math.log(lam) - math.log(death))
        if k > n and (logs[-1] - max(logs) < -30 or k > n + 5_000):
            break
    arr = np.array(logs)
    p = np.exp(arr - arr.max())
    return p / p.sum()  # type: ignore[no-any-return]


def erlang_a(
    rate_per_s: float, aht_s: float, agents: int, patience_s: float, answer_s: float
) -> Prediction:
    """M/M/n+M. With patience_s = inf this is Erlang C (if stable)."""
    if patience_s > 1e6 * aht_s:  # abandonment negligible: the closed form is exact enough
        return erlang_c(rate_per_s, aht_s, agents, answer_s)
    lam, mu, theta, n = rate_per_s, 1 / aht_s, 1 / patience_s, agents
    a = lam / mu
    if n == 0:
        return Prediction(a, 0, 1.0, 0.0, math.inf, math.inf, 1.0, 0.0)
    pi = _stationary(lam, mu, theta, n)
    ks = np.arange(len(pi))
    p_wait = float(pi[n:].sum())
    mean_queue = float((np.maximum(ks - n, 0) * pi).sum())
    abandoned = theta * mean_queue / lam
    busy = float((np.minimum(ks, n) * pi).sum())
    # a tagged arrival that finds q waiting: q+1 stages to a server, or its patience ends
    stages = len(pi) - n  # it sees k ≥ n in system: q = k − n = 0 .. stages − 1 ahead
    served, gone = stages, stages + 1
    gen = np.zeros((stages + 2, stages + 2))
    for s in range(stages):  # s customers ahead
        out = n * mu + s * theta
        gen[s, s - 1 if s else served] = out
        gen[s, gone] = theta
        gen[s, s] = -(out + theta)
    total_answered = 1 - abandoned  # everyone who abandons has waited
    if p_wait <= 0:
        return Prediction(a, n, 0.0, 1.0, 0.0, 0.0, 0.0, busy / n)
    state = np.zeros(stages + 2)
    state[:stages] = pi[n:] / p_wait
    within = (1 - p_wait) + p_wait * float((state @ expm(gen * answer_s))[served])
    # the answer-time CDF of the answered, stepped until (almost) all of them are answered
    dt = min(answer_s / 10, 0.2 / (n * mu))
    step = expm(gen * dt)
    t, area, p90 = 0.0, 0.0, math.inf
    cdf = (1 - p_wait) / total_answered
    while cdf < 0.9999 and t < 1e7:
        state = state @ step
        before, t = cdf, t + dt
        cdf = min(1.0, ((1 - p_wait) + p_wait * float(state[served])) / total_answered)
        area += (1 - (before + cdf) / 2) * dt  # trapezoids under the survival curve
        if before < 0.9 <= cdf:
            p90 = t - dt * (cdf - 0.9) / (cdf - before)
    if cdf >= 0.9 > (1 - p_wait) / total_answered and math.isinf(p90):
        p90 = t
    elif (1 - p_wait) / total_answered >= 0.9:
        p90 = 0.0
    asa = float(area)
    return Prediction(a, n, p_wait, within, asa, p90, abandoned, busy / n)


def agents_for(
    rate_per_s: float,
    aht_s: float,
    patience_s: float,
    answer_s: float,
    service_level: float,
    max_agents: int = 2000,
) -> int:
    """The fewest agents whose predicted service level reaches the target."""
    n = max(1, math.floor(rate_per_s * aht_s))
    while n < max_agents:
        if erlang_a(rate_per_s, aht_s, n, patience_s, answer_s).service_level >= service_level:
            return n
        n += 1
    return max_agents
