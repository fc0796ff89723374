#!/usr/bin/env python3
"""tinygrad reference side of `kiln-bench` on a GPU (issue 11).

Runs W1-W9 and copy with tinygrad (DEV=CUDA by default; any DEV works for
a local try) and prints one JSON object per line to stdout, in the schema of
torch_ref.py, with "impl": "tinygrad" (default optimisations) or
"tinygrad_beam2" (W5 again with BEAM=2).  Progress goes to stderr.

Usage:
    DEV=CUDA python3 bench/tinygrad_ref.py [--suite gpu|quick|cpu] [--only W1,W5,...]
                                          [--w9-weights FILE] [--beam-budget-s 120]

Method (the same as kiln's bench/src/measure.rs and torch_ref.py):
  * each workload is a TinyJit function, as tinygrad runs repeated calls;
    its first calls (capture, and the BEAM search) are warm-ups;
  * on CUDA, a 2 GiB buffer (64 MiB in the quick and cpu suites) is
    cleared with cuMemsetD8Async on tinygrad's stream before each timed
    call, and CUDA events on that stream bracket the call (nothing waits in
    between); elsewhere the device is synchronised and the host clock read;
  * 3 warm-ups, then the median of 30 timed calls (quick: 5);
  * the result is checked first against a float64 numpy reference:
    max|out - ref| / max|ref| <= the dtype's tolerance (kiln's check.rs);
  * "kernels": kernels one un-jitted call launched (GlobalCounters).
  * BEAM=2 rows run last and are skipped once --beam-budget-s seconds of
    this script have passed (the search itself cannot be interrupted).
"""

import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

import numpy as np

# Keep stdout for the JSON lines only.
_JSON_OUT = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

from tinygrad import Context, Device, Tensor, TinyJit, dtypes  # noqa: E402
from tinygrad.helpers import GlobalCounters  # noqa: E402

from ref_common import LAYER_PARAMS, SIZES, TOLS  # noqa: E402

NP = {"f16": np.float16, "f32": np.float32, "bf16": np.float32}
TG = {"f16": dtypes.float16, "bf16": dtypes.bfloat16, "f32": dtypes.float32}


def log(*args):
    print("[tinygrad_ref]", *args, file=sys.stderr, flush=True)


def emit(obj):
    _JSON_OUT.write(json.dumps(obj) + "\n")
    _JSON_OUT.flush()


class Timer:
    """CUDA events on tinygrad's stream (the legacy default stream of its context), else host clock."""

    def __init__(self, flush_bytes):
        self.dev = Device[Device.DEFAULT]
        self.cuda = Device.DEFAULT.split(":")[0] == "CUDA"
        if self.cuda:
            from tinygrad.runtime.autogen import cuda
            self.cu = cuda
            self.check(cuda.cuCtxSetCurrent(self.dev.context))
            self.flush_bytes = flush_bytes
            self.flush_ptr = cuda.CUdeviceptr()
            self.check(cuda.cuMemAlloc_v2(ctypes.byref(self.flush_ptr), flush_bytes))
            self.events = [cuda.CUevent() for _ in range(2)]
            for ev in self.events:
                self.check(cuda.cuEventCreate(ctypes.byref(ev), 0))
        else:
            self.flush_buf = np.zeros(flush_bytes, dtype=np.uint8)

    @staticmethod
    def check(status):
        if status != 0:
            raise RuntimeError(f"CUDA error {status}")

    def flush(self):
        if self.cuda:
            self.check(self.cu.cuCtxSetCurrent(self.dev.context))
            self.check(self.cu.cuMemsetD8Async(self.flush_ptr, 0, self.flush_bytes, None))
        else:
            self.flush_buf[:] = 0

    def time(self, fn, flush):
        """Seconds of one call of fn()."""
        cu = getattr(self, "cu", None)
        if flush:
            self.flush()
        else:
            self.dev.synchronize()
        if not self.cuda:
            self.dev.synchronize()
            t0 = time.perf_counter()
            fn()
            self.dev.synchronize()
            return time.perf_counter() - t0
        start, end = self.events
        self.check(cu.cuCtxSetCurrent(self.dev.context))
        self.check(cu.cuEventRecord(start, None))
        fn()
        self.check(cu.cuCtxSetCurrent(self.dev.context))
        self.check(cu.cuEventRecord(end, None))
        self.check(cu.cuEventSynchronize(end))
        ms = ctypes.c_float()
        self.check(cu.cuEventElapsedTime(ctypes.byref(ms), start, end))
        return ms.value * 1e-3


class Runner:
    def __init__(self, suite, w9_weights, beam_budget_s):
        self.suite = suite
        self.sizes = SIZES[suite]
        self.calls = 5 if suite == "quick" else 30
        self.timer = Timer((2 << 30) if suite == "gpu" else (64 << 20))
        self.w9_weights = w9_weights
        self.beam_budget_s = beam_budget_s
        self.started = time.perf_counter()
        self.rng = np.random.default_rng(12)

    def uniform(self, shape, dt="f32", scale=1.0):
        """(host f64 values as the device holds them, device tensor)."""
        values = self.rng.uniform(-scale, scale, size=shape).astype(NP[dt])
        t = Tensor(values).cast(TG[dt]).contiguous().realize()
        host = t.cast(dtypes.float32).numpy().astype(np.float64) if dt == "bf16" else values.astype(np.float64)
        return host, t

    def case(self, workload, variant, imp, fn, args, ref, dt, metric, amount, shape, flush=True,
             check=lambda out: out, beam=0):
        base = {"workload": workload, "variant": variant, "impl": imp, "device": Device.DEFAULT}
        try:
            def realized(*a):
                out = fn(*a)
                return tuple(o.realize() for o in (out if isinstance(out, tuple) else (out,)))

            with Context(BEAM=beam):
                GlobalCounters.reset()
                outs = realized(*args)
                kernels = GlobalCounters.kernel_count
                got = np.concatenate([check(o.cast(dtypes.float32).numpy()).astype(np.float64).ravel() for o in outs])
                want = np.asarray(ref(), dtype=np.float64).ravel()
                if got.shape != want.shape:
                    raise ValueError(f"{got.size} values, reference has {want.size}")
                scale = float(np.abs(want).max())
                err = float(np.abs(got - want).max()) / (scale if scale > 0 else 1.0)
                err = err if math.isfinite(err) else float("inf")
                jit = TinyJit(realized)
                call = lambda: jit(*args)  # noqa: E731
                t0 = time.perf_counter()
                call()
                self.timer.dev.synchronize()
                slow = time.perf_counter() - t0 > 1.0
                warmup, calls = (1, 3) if slow else (3, self.calls)
                for _ in range(warmup - 1):
                    call()
                times = [self.timer.time(call, flush) for _ in range(calls)]
        except Exception as exc:  # one row failing must not lose the others
            emit({**base, "error": f"{type(exc).__name__}: {exc}"[:2000]})
            log(f"{workload} {variant or '-'} {imp}: FAILED {exc!r}")
            return
        seconds = statistics.median(times)
        value = {"GB/s": amount / seconds / 1e9, "TFLOP/s": amount / seconds / 1e12,
                 "us/kernel": seconds * 1e6 / max(amount, 1)}.get(metric, seconds * 1e3)
        emit({**base, "metric": metric, "value": value, "median_ms": seconds * 1e3, "shape": list(shape),
              "kernels": kernels, "ok": bool(err <= TOLS[dt] * (10 if workload == "W9" else 1)),
              "max_rel_err": err, "iters": calls, "warmup": warmup, "dtype": dt, "suite": self.suite,
              "beam": beam, "jit": True})
        log(f"{workload} {variant or '-'} {imp}: {value:.4g} {metric} (err {err:.2e}, {kernels} kernels)")


def softmax64(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layernorm64(x, w=None, b=None):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + 1e-5)
    return y if w is None else y * w + b


def gpt(x, layers, heads, tensor):
    """The W9 decoder (bench/src/gpt.rs): tinygrad tensors when `tensor`, else numpy f64."""
    bsz, t, d = x.shape
    hd = d // heads
    if tensor:
        mask = Tensor.ones(t, t).triu(1).cast(dtypes.bool)
    for (ln1w, ln1b, wqkv, bqkv, wo, bo, ln2w, ln2b, w1, b1, w2, b2) in layers:
        h = x.layernorm(-1, 1e-5) * ln1w + ln1b if tensor else layernorm64(x, ln1w, ln1b)
        qkv = h @ wqkv + bqkv
        q, k, v = (qkv[..., i * d:(i + 1) * d].reshape(bsz, t, heads, hd) for i in range(3))
        if tensor:
            q, k, v = (z.permute(0, 2, 1, 3) for z in (q, k, v))
            att = (q @ k.permute(0, 1, 3, 2)) * (1.0 / math.sqrt(hd))
            att = mask.where(-math.inf, att).softmax(-1)
            y = (att @ v).permute(0, 2, 1, 3).reshape(bsz, t, d)
        else:
            q, k, v = (z.transpose(0, 2, 1, 3) for z in (q, k, v))
            att = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(hd)
            att = np.where(np.triu(np.ones((t, t), dtype=bool), 1), -np.inf, att)
            y = (softmax64(att) @ v).transpose(0, 2, 1, 3).reshape(bsz, t, d)
        x = x + (y @ wo + bo)
        h = x.layernorm(-1, 1e-5) * ln2w + ln2b if tensor else layernorm64(x, ln2w, ln2b)
        h = h @ w1 + b1
        h = h.gelu() if tensor else 0.5 * h * (1 + np.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
        x = x + (h @ w2 + b2)
    return x.layernorm(-1, 1e-5) if tensor else layernorm64(x)


def read_safetensors(path):
    """{name: float16 numpy array} of kiln-bench's W9 file."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    return {k: np.frombuffer(blob[8 + n + m["data_offsets"][0]:8 + n + m["data_offsets"][1]],
                             dtype=np.float16).reshape(m["shape"]).copy()  # tinygrad copies from writable memory
            for k, m in header.items() if k != "__metadata__"}


def run(r, wanted):
    s = r.sizes
    if wanted("copy"):
        n = s["W1"]
        hx, x = r.uniform(n)
        r.case("copy", "", "tinygrad", lambda x: x.contiguous() + 0, (x,), lambda: hx, "f32", "GB/s", 8 * n, [n])
    if wanted("W1"):
        n = s["W1"]
        (ha, a), (hb, b), (hc, c) = r.uniform(n), r.uniform(n), r.uniform(n)
        r.case("W1", "", "tinygrad", lambda a, b, c: a * b + c, (a, b, c), lambda: ha * hb + hc, "f32", "GB/s",
               16 * n, [n])
    if wanted("W2"):
        rows, cols = s["W2"]
        hx, x = r.uniform((rows, cols))
        r.case("W2", "", "tinygrad", lambda x: x.sum(axis=1), (x,), lambda: hx.sum(axis=1), "f32", "GB/s",
               4 * (rows * cols + rows), [rows, cols])
    if wanted("W3"):
        rows, cols, dt = s["W3"]
        hx, x = r.uniform((rows, cols), dt, 4.0)
        size = 2 if dt == "f16" else 4
        r.case("W3", dt, "tinygrad", lambda x: x.softmax(-1), (x,), lambda: softmax64(hx), dt, "GB/s",
               2 * size * rows * cols, [rows, cols])
    if wanted("W4") and s["W4"]:
        rows, cols = s["W4"]
        (hx, x), (hw, w), (hb, b) = r.uniform((rows, cols)), r.uniform(cols), r.uniform(cols)
        r.case("W4", "", "tinygrad", lambda x, w, b: x.layernorm(-1, 1e-5) * w + b, (x, w, b),
               lambda: layernorm64(hx, hw, hb), "f32", "GB/s", 4 * (2 * rows * cols + 2 * cols), [rows, cols])
    beams = []
    if wanted("W5"):
        for n, dt in s["W5"]:
            (ha, a), (hb, b) = r.uniform((n, n), dt), r.uniform((n, n), dt)
            rows = [i * n // 16 for i in range(min(16, n))]
            # Default arguments bind this iteration's inputs: the BEAM rows call `ref` after the loop.
            args = ("W5", dt, "tinygrad", lambda a, b: a @ b, (a, b), lambda ha=ha, hb=hb, rows=rows: ha[rows] @ hb,
                    dt, "TFLOP/s", 2 * n ** 3, [n, n, n])
            r.case(*args, check=lambda out: out[rows])
            beams.append((args, rows))
    if wanted("W6") and s["W6"]:
        n, ch, hw = s["W6"]
        (hx, x), (hwt, wt) = r.uniform((n, ch, hw, hw), "f16"), r.uniform((ch, ch, 3, 3), "f16", 0.05)

        def conv_ref():
            p = np.pad(hx[:1], ((0, 0), (0, 0), (1, 1), (1, 1)))
            out = np.zeros((1, ch, hw, hw))
            for ki in range(3):
                for kj in range(3):
                    out += np.einsum("nchw,oc->nohw", p[:, :, ki:ki + hw, kj:kj + hw], hwt[:, :, ki, kj])
            return out
        r.case("W6", "", "tinygrad", lambda x, w: x.conv2d(w, padding=1), (x, wt), conv_ref, "f16", "TFLOP/s",
               2 * n * ch * hw * hw * ch * 9, [n, ch, hw, hw, ch, 3, 3], check=lambda out: out[:1])
    if wanted("W7") and s["W7"]:
        n = s["W7"]
        (ha, a), (hb, b), (hc, c), (hd, d) = (r.uniform(n) for _ in range(4))
        r.case("W7", "", "tinygrad", lambda a, b, c, d: (a + b + c, a + b + d), (a, b, c, d),
               lambda: np.concatenate([ha + hb + hc, ha + hb + hd]), "f32", "GB/s", 24 * n, [n])
    if wanted("W8") and s["W8"]:
        hx, x = r.uniform(1024)

        def chain(x):
            for _ in range(100):
                x = (x * 1.0001).contiguous()
            return x
        r.case("W8", "", "tinygrad", chain, (x,), lambda: hx * 1.0001 ** 100, "f32", "us/kernel", 100, [1024],
               flush=False)
    if wanted("W9") and s["W9"] and r.w9_weights:
        try:
            w9(r, s["W9"])
        except Exception as exc:  # the BEAM rows below must still run
            emit({"workload": "W9", "variant": "", "impl": "tinygrad", "device": Device.DEFAULT,
                  "error": f"setup failed: {type(exc).__name__}: {exc}"[:2000]})
    for args, rows in beams:
        if time.perf_counter() - r.started > r.beam_budget_s:
            emit({"workload": args[0], "variant": args[1], "impl": "tinygrad_beam2", "device": Device.DEFAULT,
                  "error": f"skipped: the {r.beam_budget_s:.0f} s budget of this script was spent"})
            continue
        r.case(*((args[0], args[1], "tinygrad_beam2") + args[3:]), check=lambda out, rows=rows: out[rows], beam=2)



def w9(r, shape):
    """W9 on the weights kiln-bench wrote, checked on the first tokens of sequence 0."""
    bsz, t, d, heads, n_layer = shape
    params = read_safetensors(r.w9_weights)
    dev = {k: Tensor(v).realize() for k, v in params.items()}
    layers = [tuple(dev[f"h.{i}.{p}"] for p in LAYER_PARAMS) for i in range(n_layer)]
    host = [tuple(params[f"h.{i}.{p}"].astype(np.float64) for p in LAYER_PARAMS) for i in range(n_layer)]
    tokens = min(t, 64)  # causal: the first tokens depend on those tokens alone
    ref = lambda: gpt(params["x"][:1, :tokens].astype(np.float64), host, heads, False)  # noqa: E731
    r.case("W9", "", "tinygrad", lambda x: gpt(x, layers, heads, True), (dev["x"],), ref, "f16", "ms", 0,
           [bsz, t, d, heads, n_layer], check=lambda out: out[:1, :tokens])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", choices=sorted(SIZES), default="gpu")
    ap.add_argument("--device", default="cuda", help="ignored: DEV chooses tinygrad's device")
    ap.add_argument("--only", default="")
    ap.add_argument("--w9-weights", default=None)
    ap.add_argument("--beam-budget-s", type=float, default=120.0)
    opts = ap.parse_args()
    only = {w.strip().lower() for w in opts.only.split(",") if w.strip()}
    import tinygrad
    log(f"tinygrad {getattr(tinygrad, '__version__', '?')} on {Device.DEFAULT}, suite {opts.suite}")
    run(Runner(opts.suite, opts.w9_weights, opts.beam_budget_s), lambda w: not only or w.lower() in only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
