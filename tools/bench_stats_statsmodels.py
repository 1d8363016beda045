#!/usr/bin/python3
"""statsmodels side of bench/stats.ts: time coint / adfuller / coint_johansen on the bench's inputs.

    /usr/bin/python3 tools/bench_stats_statsmodels.py INPUT.json > OUTPUT.json

INPUT holds the series the TypeScript bench generated; OUTPUT gives per-call times (seconds) and the
answers, so the bench can check that both sides agree on the very inputs they were timed on.
"""
import json
import sys
import time
import warnings

import numpy as np
import statsmodels
from statsmodels.tsa.stattools import adfuller, coint
from statsmodels.tsa.vector_ar.vecm import coint_johansen

warnings.simplefilter("ignore")


def per_call(fn, min_seconds):
    """CPU seconds per call: the fastest of several ~0.2 s batches (as bench/stats.ts measures)."""
    fn()  # warm up
    start = time.perf_counter()
    best = float("inf")
    while True:
        w0 = time.perf_counter()
        c0 = time.process_time()
        k = 0
        while time.perf_counter() - w0 < 0.2:
            fn()
            k += 1
        best = min(best, (time.process_time() - c0) / k)
        if time.perf_counter() - start >= min_seconds:
            return best


inp = json.load(open(sys.argv[1]))
out = {"version": statsmodels.__version__, "pairs": {}, "scan": None, "adf": {}, "johansen": None}
for name, p in inp["pairs"].items():
    y = np.array(p["y"])
    x = np.array(p["x"])
    stat, pv, _ = coint(y, x)
    out["pairs"][name] = {"seconds": per_call(lambda: coint(y, x), inp["minSeconds"]), "stat": stat, "pValue": pv}
for name, s in inp["adf"].items():
    a = np.array(s)
    r = adfuller(a)
    out["adf"][name] = {"seconds": per_call(lambda: adfuller(a), inp["minSeconds"]), "stat": r[0], "pValue": r[1]}

series = [np.array(s) for s in inp["scan"]]
stats = []
t0 = time.process_time()
for i in range(len(series)):
    for j in range(i + 1, len(series)):
        stat, pv, _ = coint(series[i], series[j])
        stats.append([stat, pv])
out["scan"] = {"seconds": time.process_time() - t0, "results": stats}

jd = np.array(inp["johansen"])
r = coint_johansen(jd, 0, 1)
out["johansen"] = {"seconds": per_call(lambda: coint_johansen(jd, 0, 1), inp["minSeconds"]), "traceStat": list(r.lr1)}
json.dump(out, sys.stdout)
