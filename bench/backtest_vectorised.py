#!/usr/bin/env python3
"""A vectorised numpy/pandas backtest of the same rules as Tandem's runner (docs/strategy.md), for
bench/backtest.ts to compare speed and results against. The rolling OLS hedge and z-score are
vectorised (pandas rolling moments); the position state machine, sizing and fills are inherently
sequential (each entry is sized from the equity of that bar), so they run as one tight loop over
plain Python lists. The gate uses statsmodels' coint (Engle-Granger, constant, AIC).

Input: a little-endian float64 file of 5 columns of n values each: time(ms), open_y, close_y,
open_x, close_x. Config (fixed, the spec example): log transform, OLS hedge, W=120, entryZ 2,
exitZ 0.5, stopZ 4, maxHoldingBars 390, capitalFraction 0.5, hedge mode, slippage 2 bps, STK
per-share commissions (0.005/share, min 1.00, cap 1% of value), quantities in whole shares.

A FILE ending in .csv is a bar file (time,symbol,open,high,low,close,volume; legs ETHA and ETHV)
read with pandas, and the clock then includes reading it (the end-to-end comparison).

Usage: backtest_vectorised.py FILE [--gate EVERY,LOOKBACK,MAXP] [--cash N]
Prints one JSON line: bars, seconds, barsPerSecond, finalEquity, trades, commissions, maxRssMB.
"""
import json
import math
import resource
import sys
import time

import numpy as np
import pandas as pd


def read_bar_csv(path, y="ETHA", x="ETHV"):
    """A bar file (time,symbol,open,high,low,close,volume) with pandas: both legs' opens and closes on
    their common times, ascending."""
    df = pd.read_csv(path, usecols=["time", "symbol", "open", "close"])
    # pandas 2 takes format="ISO8601"; pandas 1.x (Debian 12's 1.5) infers ISO 8601 on its own.
    iso = {"format": "ISO8601"} if int(pd.__version__.split(".")[0]) >= 2 else {}
    df["time"] = pd.to_datetime(df["time"], utc=True, **iso)
    legs = [df[df["symbol"] == s].set_index("time")[["open", "close"]].sort_index() for s in (y, x)]
    both = legs[0].join(legs[1], how="inner", lsuffix="_y", rsuffix="_x")
    t = both.index.asi8 // 1_000_000
    return t, both["open_y"].to_numpy(), both["close_y"].to_numpy(), both["open_x"].to_numpy(), both["close_x"].to_numpy()


def run(path, gate, cash0):
    # End to end from a CSV bar file (the clock includes reading it), or from prepared columns.
    t0 = time.perf_counter()
    if path.endswith(".csv"):
        _t, oy, cy, ox, cx = read_bar_csv(path)
        n = len(oy)
    else:
        raw = np.fromfile(path, dtype="<f8")
        n = raw.size // 5
        _t, oy, cy, ox, cx = (raw[i * n:(i + 1) * n] for i in range(5))
        t0 = time.perf_counter()
    W, entry, exit_, stop, max_hold, frac, s = 120, 2.0, 0.5, 4.0, 390, 0.5, 2 / 10_000

    # Vectorised hedge and z: rolling centred moments over W bars.
    px = np.log(cx)
    py = np.log(cy)
    sx = pd.Series(px)
    sy = pd.Series(py)
    sxx = sx.rolling(W).var(ddof=0).to_numpy() * W
    syy = sy.rolling(W).var(ddof=0).to_numpy() * W
    sxy = sx.rolling(W).cov(sy, ddof=0).to_numpy() * W
    mx = sx.rolling(W).mean().to_numpy()
    my = sy.rolling(W).mean().to_numpy()
    beta = sxy / sxx
    alpha = my - beta * mx
    resid = py - alpha - beta * px
    sd = np.sqrt(np.maximum(syy - sxy * sxy / sxx, 0) / (W - 1))
    z = resid / sd

    coint = None
    if gate:
        from statsmodels.tsa.stattools import coint  # noqa: WPS433 (only when asked)

    zl, bl = z.tolist(), beta.tolist()
    oyl, cyl, oxl, cxl = oy.tolist(), cy.tolist(), ox.tolist(), cx.tolist()
    cash, hy, hx = cash0, 0.0, 0.0
    state, cooling, entry_bar = 0, False, -1  # state: 0 flat, 1 long, -1 short
    gate_open = gate is None
    pend = []
    trades, comm_total = 0, 0.0
    equity = np.empty(n)

    def fee(q, price):
        return min(max(1.0, 0.005 * q), 0.01 * q * price)

    def round_down(q):
        k = math.floor(q + 1e-9)
        return float(k) if k > 0 else 0.0

    for t in range(n):
        if pend:
            for leg, q in pend:
                o = oyl[t] if leg == 0 else oxl[t]
                price = o * (1 + s) if q > 0 else o * (1 - s)
                c = fee(abs(q), price)
                cash -= q * price + c
                comm_total += c
                if leg == 0:
                    hy += q
                else:
                    hx += q
            pend = []
        eq = cash + hy * cyl[t] + hx * cxl[t]
        equity[t] = eq
        if t == n - 1 or t < W - 1:
            continue
        if gate and (t - (W - 1)) % gate[0] == 0:
            lb = gate[1]
            if t + 1 < lb:
                gate_open = False
            else:
                p = coint(py[t - lb + 1:t + 1], px[t - lb + 1:t + 1], trend="c", autolag="aic")[1]
                gate_open = p <= gate[2]
        zt = zl[t]
        if cooling and abs(zt) < exit_:
            cooling = False
        if state == 0:
            if not gate_open or cooling:
                continue
            side = 0
            if entry <= zt < stop:
                side = -1
            elif -stop < zt <= -entry:
                side = 1
            if side == 0:
                continue
            b = bl[t]
            g = frac * eq
            ab = abs(b)
            qy = round_down(g / (1 + ab) / cyl[t])
            qx = round_down(ab * g / (1 + ab) / cxl[t])
            if qy == 0 or qx == 0:
                continue
            sy_, sx_ = side * qy, -side * math.copysign(1, b) * qx
            pend = [(0, sy_), (1, sx_)]
            state, entry_bar, trades = side, t, trades + 1
            pos_y, pos_x = sy_, sx_
        else:
            reason = None
            if state == 1:
                reason = "exit" if zt >= -exit_ else ("stop" if zt <= -stop else None)
            else:
                reason = "exit" if zt <= exit_ else ("stop" if zt >= stop else None)
            if reason is None and t - entry_bar >= max_hold:
                reason = "maxHolding"
            if reason is not None:
                pend = [(0, -pos_y), (1, -pos_x)]
                state = 0
                if reason == "stop":
                    cooling = True

    # Vectorised metrics.
    r = equity[1:] / equity[:-1] - 1
    B = 252 * 78
    sdr = r.std(ddof=1)
    sharpe = float(r.mean() / sdr * math.sqrt(B)) if sdr > 0 else 0.0
    peak = np.maximum.accumulate(equity)
    mdd = float(((peak - equity) / peak).max())
    secs = time.perf_counter() - t0
    return {
        "bars": n,
        "seconds": secs,
        "barsPerSecond": n / secs,
        "finalEquity": float(equity[-1]),
        "trades": trades,
        "commissions": comm_total,
        "sharpe": sharpe,
        "maxDrawdown": mdd,
        "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main():
    args = sys.argv[1:]
    path = args[0]
    gate = None
    cash = 100_000.0
    if "--gate" in args:
        e, lb, p = args[args.index("--gate") + 1].split(",")
        gate = (int(e), int(lb), float(p))
    if "--cash" in args:
        cash = float(args[args.index("--cash") + 1])
    print(json.dumps(run(path, gate, cash)))


if __name__ == "__main__":
    main()
