#!/usr/bin/env python3
"""numpy / numexpr reference side of `kiln-bench --device cpu` (issue 11).

Runs the CPU rows (suite "cpu") or the CI-sized rows it can express (suite
"quick") with numpy, and with numexpr where it is importable, on the CPU.
Prints one JSON object per line to stdout, in the schema of torch_ref.py:
    {"workload", "variant", "impl": "numpy" | "numexpr", "metric", "value",
     "median_ms", "shape", "kernels": null, "ok", "max_rel_err", "iters",
     "warmup", "device": "cpu", "dtype", "numpy"}
Errors: {"workload", "variant", "impl", "error", "device"}; without numexpr,
one line {"missing": "numexpr", "reason": ...}.  Progress goes to stderr.

Usage:
    python3 bench/numpy_ref.py [--suite cpu|quick] [--only W1,W5,...] [--device cpu]

Method (the same as kiln's, see bench/src/measure.rs):
  * before each timed call a 64 MiB flush buffer is copied (half into half);
  * the host clock around the call (numpy runs synchronously);
  * 3 warm-ups, then the median of 30 timed calls (5 in the quick suite); a
    row whose first call takes over a second gets 1 warm-up and 3 calls;
  * the result is checked first against a float64 reference:
    max|out - ref| / max|ref| <= tolerance of the output dtype
    (f32 1e-4, f16 2e-3), the same tolerances as kiln's check.rs.
Sizes follow bench/src/suite.rs; every line carries its shape, and the
kiln report compares only rows of equal shape.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np

try:
    import numexpr as ne
except ImportError:  # numexpr columns then stay empty
    ne = None

TOL = {"f32": 1e-4, "f16": 2e-3}
DT = {"f32": np.float32, "f16": np.float16}
WARMUP, SLOW_CALLS, SLOW_SECONDS = 3, 3, 1.0
SUITES = {
    "cpu": {"W1": 1 << 24, "W2": (1024, 16384), "W3": (1024, 4096, "f32"), "W4": None,
            "W5": [(1024, "f32"), (2048, "f32")], "W7": None, "W8": False, "copy": 1 << 24},
    "quick": {"W1": 1 << 16, "W2": (64, 256), "W3": (64, 128, "f16"), "W4": (64, 128),
              "W5": [(128, "f16"), (128, "f32")], "W7": 1 << 12, "W8": True, "copy": 1 << 16},
}


def log(*args):
    print("[numpy_ref]", *args, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


class Runner:
    def __init__(self, suite):
        self.suite = suite
        self.calls = 5 if suite == "quick" else 30
        self.flush = np.zeros(64 << 20, dtype=np.uint8)
        self.rng = np.random.default_rng(11)

    def uniform(self, shape, dtype="f32", scale=1.0):
        return (self.rng.uniform(-scale, scale, size=shape)).astype(DT[dtype])

    def time(self, fn, flush=True):
        half = self.flush.size // 2
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
        slow = first > SLOW_SECONDS
        warmup, calls = (1, SLOW_CALLS) if slow else (WARMUP, self.calls)
        for _ in range(warmup - 1):
            fn()
        times = []
        for _ in range(calls):
            if flush:
                np.copyto(self.flush[half:], self.flush[:half])
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), calls, warmup

    def case(self, workload, variant, imp, fn, ref, dtype, metric, amount, shape, flush=True):
        base = {"workload": workload, "variant": variant, "impl": imp, "device": "cpu"}
        try:
            out = np.asarray(fn(), dtype=np.float64)
            want = np.asarray(ref(), dtype=np.float64)
            if out.shape != want.shape:
                raise ValueError(f"shape {out.shape} != reference {want.shape}")
            scale = float(np.abs(want).max())
            err = float(np.abs(out - want).max()) / (scale if scale > 0 else 1.0)
            if not np.isfinite(err):
                err = float("inf")
            seconds, calls, warmup = self.time(fn, flush)
        except Exception as exc:  # one row failing must not lose the others
            emit({**base, "error": f"{type(exc).__name__}: {exc}"})
            return
        value = {"GB/s": amount / seconds / 1e9, "TFLOP/s": amount / seconds / 1e12,
                 "us/kernel": seconds * 1e6 / max(amount, 1)}.get(metric, seconds * 1e3)
        emit({**base, "metric": metric, "value": value, "median_ms": seconds * 1e3, "shape": list(shape),
              "kernels": None, "ok": bool(err <= TOL[dtype]), "max_rel_err": err, "iters": calls,
              "warmup": warmup, "dtype": dtype, "numpy": np.__version__,
              "numexpr": getattr(ne, "__version__", None)})
        log(f"{workload} {variant or '-'} {imp}: {value:.4g} {metric}")


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layernorm(x, w, b):
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w + b


def run(r, sizes, wanted):
    f64 = np.float64
    if wanted("copy"):
        n = sizes["copy"]
        src, dst = r.uniform(n), np.empty(n, dtype=np.float32)
        r.case("copy", "", "numpy", lambda: (np.copyto(dst, src), dst)[1], lambda: src, "f32", "GB/s", 8 * n, [n])
    if wanted("W1"):
        n = sizes["W1"]
        a, b, c = r.uniform(n), r.uniform(n), r.uniform(n)
        ref = lambda: a.astype(f64) * b + c  # noqa: E731
        r.case("W1", "", "numpy", lambda: a * b + c, ref, "f32", "GB/s", 16 * n, [n])
        if ne is not None:
            r.case("W1", "", "numexpr", lambda: ne.evaluate("a*b+c", local_dict={"a": a, "b": b, "c": c}), ref, "f32", "GB/s", 16 * n, [n])
    if wanted("W2"):
        rows, cols = sizes["W2"]
        x = r.uniform((rows, cols))
        r.case("W2", "", "numpy", lambda: x.sum(axis=1), lambda: x.astype(f64).sum(axis=1), "f32", "GB/s",
               4 * (rows * cols + rows), [rows, cols])
    if wanted("W3"):
        rows, cols, dt = sizes["W3"]
        x = r.uniform((rows, cols), dt, 4.0)
        size = np.dtype(DT[dt]).itemsize
        r.case("W3", dt, "numpy", lambda: softmax(x), lambda: softmax(x.astype(f64)), dt, "GB/s",
               2 * size * rows * cols, [rows, cols])
    if wanted("W4") and sizes["W4"]:
        rows, cols = sizes["W4"]
        x, w, b = r.uniform((rows, cols)), r.uniform(cols), r.uniform(cols)
        r.case("W4", "", "numpy", lambda: layernorm(x, w, b),
               lambda: layernorm(x.astype(f64), w.astype(f64), b.astype(f64)), "f32", "GB/s",
               4 * (2 * rows * cols + 2 * cols), [rows, cols])
    if wanted("W5"):
        for n, dt in sizes["W5"]:
            a, b = r.uniform((n, n), dt), r.uniform((n, n), dt)
            rows = [i * n // 16 for i in range(min(16, n))]
            r.case("W5", dt, "numpy", lambda: (a @ b)[rows], lambda: a[rows].astype(f64) @ b.astype(f64), dt,
                   "TFLOP/s", 2 * n ** 3, [n, n, n])
    if wanted("W7") and sizes["W7"]:
        n = sizes["W7"]
        a, b, c, d = (r.uniform(n) for _ in range(4))
        ref = lambda: np.concatenate([a.astype(f64) + b + c, a.astype(f64) + b + d])  # noqa: E731
        r.case("W7", "", "numpy", lambda: np.concatenate([a + b + c, a + b + d]), ref, "f32", "GB/s",
               24 * n, [n])
        if ne is not None:
            r.case("W7", "", "numexpr",
                   lambda: np.concatenate([ne.evaluate("a+b+c", local_dict={"a": a, "b": b, "c": c}),
                                           ne.evaluate("a+b+d", local_dict={"a": a, "b": b, "d": d})]), ref, "f32", "GB/s",
                   24 * n, [n])
    if wanted("W8") and sizes["W8"]:
        x = r.uniform(1024)

        def chain():
            y = x
            for _ in range(100):
                y = y * np.float32(1.0001)
            return y
        r.case("W8", "", "numpy", chain, lambda: x.astype(f64) * 1.0001 ** 100, "f32", "us/kernel", 100,
               [1024], flush=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", choices=sorted(SUITES), default="cpu")
    ap.add_argument("--device", choices=["cpu"], default="cpu")
    ap.add_argument("--only", default="")
    ap.add_argument("--w9-weights", default=None, help="accepted for symmetry; W9 is not a numpy row")
    opts = ap.parse_args()
    only = {w.strip().lower() for w in opts.only.split(",") if w.strip()}

    def wanted(w):
        return not only or w.lower() in only

    log(f"numpy {np.__version__}, numexpr {getattr(ne, '__version__', 'not importable')}, suite {opts.suite}")
    if ne is None:
        emit({"missing": "numexpr", "reason": "python3 cannot import numexpr"})
    run(Runner(opts.suite), SUITES[opts.suite], wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
