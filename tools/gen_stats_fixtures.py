#!/usr/bin/python3
"""Generate the statsmodels reference fixtures for Tandem's statistics tests.

Run with Debian's Python, which has statsmodels:

    /usr/bin/python3 tools/gen_stats_fixtures.py

It writes tests/fixtures/stats/*.json: the input series (as exact doubles) and what statsmodels
(adfuller, coint, mackinnonp, mackinnoncrit, coint_johansen, OLS) returns for them, so the
TypeScript tests compare against statsmodels without needing Python. The Kalman filter and the
half-life have no statsmodels function: their references are straightforward numpy transcriptions
of docs/strategy.md and docs/stats.md.
"""
import json
import math
import os
import sys
import warnings

import numpy as np
import statsmodels
import statsmodels.api as sm
from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp, tau_2010s
from statsmodels.tsa.stattools import adfuller, coint
from statsmodels.tsa.vector_ar.vecm import coint_johansen

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "stats")
warnings.simplefilter("ignore")


def fl(v):
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if math.isnan(v):
        return "nan"
    return v


def lst(a):
    return [fl(v) for v in np.asarray(a, dtype=float).ravel()]


def crit(d):
    return {"1%": fl(d["1%"]), "5%": fl(d["5%"]), "10%": fl(d["10%"])}


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path), "bytes", file=sys.stderr)


rng = np.random.default_rng(20260524)


def ar1(n, phi, sd=1.0):
    e = rng.normal(0, sd, n)
    out = np.empty(n)
    out[0] = e[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def walk(n, sd=1.0, drift=0.0, start=0.0):
    return start + np.cumsum(rng.normal(drift, sd, n))


# ---------------------------------------------------------------- series
series = {}
pairs = []  # (name, y, x)

for n in (30, 60, 100, 250, 1000, 5000):
    for phi in (0.5, 0.9):
        x = walk(n, 1.0, start=50.0)
        y = 3.0 + 1.7 * x + ar1(n, phi, 1.0)
        pairs.append((f"coint_n{n}_phi{phi}", y, x))
for n in (100, 1000, 5000):
    x = walk(n)
    y = walk(n)
    pairs.append((f"independent_walks_n{n}", y, x))
# Log prices of two ETFs on the same asset: tightly cointegrated, far from zero.
n = 2000
lx = np.log(30.0) + np.cumsum(rng.normal(0, 0.002, n))
ly = 0.3 + 0.98 * lx + ar1(n, 0.7, 0.0005)
pairs.append(("log_prices_tight_n2000", ly, lx))
# Near unit root spread.
x = walk(1000, 1.0, start=100.0)
pairs.append(("near_unit_root_spread_n1000", 2.0 * x + ar1(1000, 0.995, 1.0), x))
# Trending pair (for trend='ct').
t = np.arange(800.0)
x = walk(800, 1.0, drift=0.3)
pairs.append(("trending_pair_n800", 0.02 * t + 0.8 * x + ar1(800, 0.6, 1.0), x))

# macrodata (real data)
md = sm.datasets.macrodata.load_pandas().data
lgdp = np.log(md["realgdp"].values)
lcons = np.log(md["realcons"].values)
linv = np.log(md["realinv"].values)
ldpi = np.log(md["realdpi"].values)
pairs.append(("macro_lcons_lgdp", lcons, lgdp))
pairs.append(("macro_lgdp_linv", lgdp, linv))
pairs.append(("macro_lcons_ldpi", lcons, ldpi))
pairs.append(("macro_cpi_m1", md["cpi"].values.astype(float), md["m1"].values.astype(float)))

univariate = {
    "stationary_ar05_n200": ar1(200, 0.5),
    "near_unit_root_ar0995_n1000": ar1(1000, 0.995),
    "near_unit_root_ar0999_n3000": ar1(3000, 0.999),
    "random_walk_n500": walk(500),
    "random_walk_drift_n1500": walk(1500, 1.0, drift=0.2),
    "trend_stationary_n600": 5.0 + 0.05 * np.arange(600.0) + ar1(600, 0.8),
    "price_level_far_from_zero_n1000": 1000.0 + walk(1000, 0.5),
    "short_n25": ar1(25, 0.3),
    "macro_realgdp": md["realgdp"].values.astype(float),
    "macro_lrealgdp": lgdp,
    "macro_infl": md["infl"].values.astype(float),
    "macro_unemp": md["unemp"].values.astype(float),
    "macro_tbilrate": md["tbilrate"].values.astype(float),
}

# ---------------------------------------------------------------- ADF
adf_cases = []


def adf_case(name, x, regression, autolag, maxlag):
    r = adfuller(x, maxlag=maxlag, regression=regression, autolag=autolag)
    case = {
        "series": name,
        "regression": regression,
        "autoLag": None if autolag is None else autolag.lower(),
        "maxLag": maxlag,
        "stat": fl(r[0]),
        "pValue": fl(r[1]),
        "usedLag": int(r[2]),
        "nobs": int(r[3]),
        "criticalValues": crit(r[4]),
    }
    if autolag is not None:
        case["icBest"] = fl(r[5])
    adf_cases.append(case)


for name, x in univariate.items():
    for reg in ("n", "c", "ct"):
        for autolag, maxlag in (("AIC", None), ("BIC", None), (None, None), (None, 0), ("AIC", 3)):
            adf_case(name, x, reg, autolag, maxlag)

# ---------------------------------------------------------------- coint
coint_cases = []
pair_series = {}
for name, y, x in pairs:
    pair_series[name] = {"y": lst(y), "x": lst(x)}
    trends = ("c", "ct")
    for trend in trends:
        for autolag, maxlag in (("aic", None), ("bic", None), (None, None), ("aic", 2), (None, 1)):
            stat, p, cv = coint(y, x, trend=trend, autolag=autolag, maxlag=maxlag)
            xx = sm.add_constant(x, prepend=False) if trend == "c" else np.column_stack([x, np.ones(len(x)), np.arange(1.0, len(x) + 1)])
            fit = sm.OLS(y, xx).fit()
            coint_cases.append({
                "pair": name,
                "trend": trend,
                "autoLag": autolag,
                "maxLag": maxlag,
                "stat": fl(stat),
                "pValue": fl(p),
                "criticalValues": {"1%": fl(cv[0]), "5%": fl(cv[1]), "10%": fl(cv[2])},
                "alpha": fl(fit.params[1]),
                "beta": fl(fit.params[0]),
            })
    # ADF on the raw legs too (prices far from zero, log prices).
    for leg, s in (("y", y), ("x", x)):
        univariate_name = f"{name}.{leg}"
        for reg in ("c", "ct"):
            r = adfuller(s, regression=reg)
            adf_cases.append({
                "series": univariate_name, "regression": reg, "autoLag": "aic", "maxLag": None,
                "stat": fl(r[0]), "pValue": fl(r[1]), "usedLag": int(r[2]), "nobs": int(r[3]),
                "criticalValues": crit(r[4]), "icBest": fl(r[5]),
            })

# Perfectly collinear pair: statsmodels returns -inf and p = 0.
xc = walk(300)
stat, p, cv = coint(2.0 * xc + 1.0, xc)
pair_series["collinear_n300"] = {"y": lst(2.0 * xc + 1.0), "x": lst(xc)}
coint_cases.append({"pair": "collinear_n300", "trend": "c", "autoLag": "aic", "maxLag": None, "stat": fl(stat),
                    "pValue": fl(p), "criticalValues": {"1%": fl(cv[0]), "5%": fl(cv[1]), "10%": fl(cv[2])},
                    "alpha": 1.0, "beta": 2.0})

write("adf.json", {"statsmodels": statsmodels.__version__, "series": {k: lst(v) for k, v in univariate.items()},
                   "pairSeries": pair_series, "cases": adf_cases})
write("coint.json", {"statsmodels": statsmodels.__version__, "cases": coint_cases})

# ---------------------------------------------------------------- MacKinnon
mp = []
for reg in ("n", "c", "ct"):
    for N in range(1, 7):
        for stat in np.concatenate([np.linspace(-30, 4, 137), [-19.04, -18.83, -16.18, -1.61, -2.62, -3.13, 0.92, 2.74, -1.04, -1.53]]):
            mp.append({"stat": fl(stat), "regression": reg, "n": N, "p": fl(mackinnonp(stat, regression=reg, N=N))})
mc = []
for reg in ("n", "c", "ct"):
    for N in range(1, tau_2010s[reg].shape[0] + 1):
        for nobs in (10, 25, 99, 100, 250, 999, 5000, None):
            cv = mackinnoncrit(N=N, regression=reg, nobs=np.inf if nobs is None else nobs)
            mc.append({"regression": reg, "n": N, "nobs": nobs, "crit": lst(cv)})
write("mackinnon.json", {"statsmodels": statsmodels.__version__, "pvalues": mp, "crit": mc})

# ---------------------------------------------------------------- Johansen
jo_cases = []
jo_series = {}
n = 500
common = walk(n)
s1 = common + ar1(n, 0.5, 0.5)
s2 = 0.5 * common + walk(n, 0.5) + ar1(n, 0.3, 0.5)
s3 = -1.2 * common + ar1(n, 0.7, 0.8)
jo_series["synthetic3_n500"] = np.column_stack([s1, s2, s3])
n = 1500
c1 = walk(n, 1.0, drift=0.1)
c2 = walk(n, 1.0)
jo_series["synthetic4_n1500"] = np.column_stack([c1 + ar1(n, 0.6), c2 + ar1(n, 0.4), c1 - c2 + ar1(n, 0.8), walk(n)])
jo_series["synthetic2_n250"] = np.column_stack([common[:250] + ar1(250, 0.5), 2 * common[:250] + ar1(250, 0.5)])
jo_series["macro_lgdp_lcons_linv"] = np.column_stack([lgdp, lcons, linv])
for name, data in jo_series.items():
    for det in (-1, 0, 1):
        for k in (0, 1, 2, 4):
            r = coint_johansen(data, det, k)
            jo_cases.append({
                "data": name, "detOrder": det, "kArDiff": k,
                "eigenvalues": lst(r.eig), "eigenvectors": [lst(row) for row in r.evec],
                "traceStat": lst(r.lr1), "maxEigStat": lst(r.lr2),
                "traceCrit": [lst(row) for row in r.cvt], "maxEigCrit": [lst(row) for row in r.cvm],
            })
write("johansen.json", {"statsmodels": statsmodels.__version__,
                        "data": {k: [lst(row) for row in v] for k, v in jo_series.items()}, "cases": jo_cases})

# ---------------------------------------------------------------- half-life and Kalman
hl = []
for name, s in (("ar05", ar1(500, 0.5)), ("ar09", ar1(1000, 0.9)), ("ar099", 10 + ar1(3000, 0.99)),
                ("explosive", np.cumprod(np.full(100, 1.02)) + rng.normal(0, 0.01, 100)), ("macro_unemp", md["unemp"].values.astype(float))):
    ds = np.diff(s)
    fit = sm.OLS(ds, sm.add_constant(s[:-1])).fit()
    slope = fit.params[1]
    hl.append({"name": name, "series": lst(s), "slope": fl(slope),
               "halfLife": fl(-math.log(2) / slope) if slope < 0 else "inf"})


def kalman(y, x, delta, ve):
    theta = np.zeros(2)
    P = np.zeros((2, 2))
    Vw = delta / (1 - delta) * np.eye(2)
    out = {"beta": [], "alpha": [], "e": [], "q": []}
    for t in range(len(y)):
        h = np.array([x[t], 1.0])
        R = P + Vw
        yhat = h @ theta
        Q = h @ R @ h + ve
        e = y[t] - yhat
        K = R @ h / Q
        theta = theta + K * e
        P = R - np.outer(K, h) @ R
        out["beta"].append(theta[0]); out["alpha"].append(theta[1]); out["e"].append(e); out["q"].append(Q)
    return {k: lst(v) for k, v in out.items()}


kal = []
for name, y, x in pairs:
    if name in ("log_prices_tight_n2000", "coint_n1000_phi0.5", "macro_lcons_lgdp"):
        for delta, ve in ((1e-4, 1e-3), (1e-5, 1e-4), (0.01, 1.0)):
            kal.append({"pair": name, "delta": delta, "ve": ve, **kalman(y, x, delta, ve)})
write("misc.json", {"halfLife": hl, "kalman": kal})

# ---------------------------------------------------------------- randomized sweep
# Series are rebuilt in the tests from (seed, n, phi, a, b) with a generator that uses only exact
# arithmetic (xorshift32, Irwin-Hall normals), so TypeScript reproduces them bit for bit and this
# fixture stays small however many cases it holds.


class Xorshift:
    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFF or 1

    def uniform(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s / 4294967296.0

    def normal(self):
        t = 0.0
        for _ in range(12):
            t += self.uniform()
        return t - 6.0


def sweep_pair(seed, n, phi, a, b):
    g = Xorshift(seed)
    x = np.empty(n)
    y = np.empty(n)
    lx = 100.0
    u = 0.0
    for i in range(n):
        lx = lx + g.normal()
        u = phi * u + g.normal()
        x[i] = lx
        y[i] = a + b * lx + u
    return y, x


sweep = []
meta_rng = np.random.default_rng(7)
for case in range(300):
    seed = int(meta_rng.integers(1, 2**32 - 1))
    n = int(round(math.exp(meta_rng.uniform(math.log(30), math.log(3000)))))
    phi = float(meta_rng.choice([0.0, 0.3, 0.8, 0.95, 0.99, 1.0]))
    a = float(meta_rng.choice([0.0, 2.5, -40.0]))
    b = float(meta_rng.choice([0.5, 1.0, 1.7, -0.8]))
    trend = str(meta_rng.choice(["c", "c", "ct"]))
    autolag = [None, "aic", "aic", "bic"][int(meta_rng.integers(0, 4))]
    reg = str(meta_rng.choice(["n", "c", "ct"]))
    y, x = sweep_pair(seed, n, phi, a, b)
    stat, p, cv = coint(y, x, trend=trend, autolag=autolag)
    r = adfuller(y, regression=reg, autolag="AIC" if autolag is None else autolag.upper())
    sweep.append({"seed": seed, "n": n, "phi": phi, "a": a, "b": b, "trend": trend, "autoLag": autolag,
                  "stat": fl(stat), "pValue": fl(p), "criticalValues": lst(cv),
                  "adf": {"regression": reg, "stat": fl(r[0]), "pValue": fl(r[1]), "usedLag": int(r[2]),
                          "nobs": int(r[3]), "icBest": fl(r[5])},
                  "check": [fl(y[0]), fl(y[-1]), fl(x[-1])]})
write("sweep.json", {"statsmodels": statsmodels.__version__, "cases": sweep})
