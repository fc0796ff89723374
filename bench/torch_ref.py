#!/usr/bin/env python3
"""PyTorch reference side of `cargo xtask bench` (issues 7 and 11).

Runs the bench workloads W1-W9 and the copy ceiling with torch eager,
torch.compile (default mode) and, for W8 and W9 on CUDA, the replay of a
CUDA graph of the eager call (torch_cudagraph), on one device, and prints
one JSON object per line to stdout -- nothing else goes to stdout; progress
and torch's own logs go to stderr.

Usage:
    python3 bench/torch_ref.py [--device cuda|cpu] [--suite gpu|quick|cpu] [--quick]
                               [--only W1,W3,...] [--no-compile] [--w9-weights FILE]

Suites and sizes follow bench/src/suite.rs ("gpu": full W1-W9, "quick": CI
sizes, "cpu": the CPU rows); --quick is --suite quick.  --w9-weights reads
the W9 input and weights from the safetensors file kiln-bench wrote (F16,
linear weights [in, out], final LayerNorm without affine), so both sides run
the same model; without it, random weights of the same layout are drawn.

Line schema (one per workload x variant x impl):
    {"workload": "W5", "variant": "f16", "impl": "torch_eager" | "torch_compile",
     "metric": "TFLOP/s" | "GB/s" | "us/kernel" | "ms", "value": float,
     "median_ms": float, "kernels": int | null, "ok": bool, "device": str, ...extra}
  "variant" is "" where a workload has only one.  Extra keys always present:
  "memops", "dtype", "shape", "max_rel_err", "torch", "suite", "iters", "warmup";
  torch_compile lines also carry "compile_s" (wall seconds of the first,
  compiling call; inductor's on-disk caches may make it warm, not cold).
  W5 lines carry "tf32": false and "reduced_precision_reduction": false,
  W9 lines "attention": "explicit".
  On failure: {"workload": ..., "variant": ..., "impl": ..., "error": "<message>", "device": ...}.

Method (kiln's bench must measure the same way, so that numbers compare):
  * Timing with CUDA events around each timed call (CPU: time.perf_counter).
  * Before each timed call a flush buffer (2 GiB on CUDA; 64 MiB on CPU or
    in the quick and cpu suites) is overwritten with zero_() on the same stream, right
    before the start event, to empty the L2.  The host does not wait for the
    flush, so launches of the timed call queue up behind it.  After each call
    the host waits for the end event.
  * Warm-up: 3 calls (torch.compile: the first call compiles and is not
    timed, then 3 warm-up calls), then the median of 30 timed calls (quick: 5).
    A row whose first call takes over a second gets 1 warm-up and 3 calls.
  * torch_cudagraph: the eager call captured once in a CUDA graph (after 3
    warm-up calls on a side stream); each timed call is one replay.
  * W8 (100 dependent tiny kernels) has no flush: the host synchronizes, then
    the events go around the whole chain, so launch cost is counted.
  * Correctness is checked before timing, against a float64 reference
    computed with torch on the same device (on a row/batch slice for W5, W6
    and W9).  The check is normwise: max|out - ref| <= tol * max|ref|, with a
    tolerance for the dtype; "ok" reports it and "max_rel_err" the measured
    max|out - ref| / max|ref|.
  * "kernels": kernels launched by one call, counted once with torch.profiler
    (all GPU activities except memcpy/memset); "memops": the memcpy/memset
    operations of that call (cuBLAS zeroes a workspace with a memset before
    some f16/bf16 GEMMs; "copy" is one memcpy and no kernel).  Both null on
    CPU or when the profiler fails.  Kernel names go to stderr.
  * TF32 is off (torch.backends.cuda.matmul.allow_tf32 = False, also for
    cuDNN) and fp16/bf16 matmuls use full-precision (f32) reductions.
"""

import argparse
import collections
import json
import math
import os
import statistics
import sys
import time
import traceback

# Keep stdout for the JSON lines only: anything else that writes to fd 1
# (torch, the compilers inductor starts, stray prints) goes to stderr.
_JSON_OUT = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ref_common import LAYER_PARAMS, SIZES, TOLS  # noqa: E402

WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "copy"]
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}


def log(*args):
    print("[torch_ref]", *args, file=sys.stderr, flush=True)


def emit(obj):
    _JSON_OUT.write(json.dumps(obj) + "\n")
    _JSON_OUT.flush()


def sig(x, digits=6):
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


class Case:
    """One workload variant: a function, its inputs, and how to score it."""

    def __init__(self, workload, variant, fn, args, ref, tol, metric, amount,
                 dtype, shape, seed, flush=True, impls=("torch_eager", "torch_compile"),
                 check_slice=None, extra=None):
        self.workload = workload
        self.variant = variant
        self.fn = fn                # fn(*args) -> tensor or tuple of tensors
        self.args = args
        self.ref = ref              # ref() -> float64 tensor(s)
        self.tol = tol
        self.metric = metric
        self.amount = amount        # bytes (GB/s), flops (TFLOP/s), steps (us/kernel)
        self.dtype = dtype
        self.shape = shape
        self.seed = seed
        self.flush = flush
        self.impls = impls
        self.check_slice = check_slice  # out -> the part compared with ref()
        self.extra = extra or {}

    def value(self, median_ms):
        s = median_ms * 1e-3
        if self.metric == "GB/s":
            return self.amount / s / 1e9
        if self.metric == "TFLOP/s":
            return self.amount / s / 1e12
        if self.metric == "us/kernel":
            return median_ms * 1e3 / self.amount
        return median_ms


class Runner:
    def __init__(self, device, suite, compile_, w9_weights=None):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.suite = suite
        self.quick = suite == "quick"
        self.sizes = SIZES[suite]
        self.w9_weights = w9_weights
        self.compile = compile_
        self.warmup = 3
        self.iters = 5 if self.quick else 30
        flush_bytes = (2 << 30) if suite == "gpu" else (64 << 20)
        self.flush_buf = torch.empty(flush_bytes, dtype=torch.uint8, device=self.device)
        self.device_name = torch.cuda.get_device_name(self.device) if self.cuda else "cpu"

    # -- data -------------------------------------------------------------
    def gen(self, seed):
        g = torch.Generator(device=self.device)
        g.manual_seed(seed)
        return g

    def randn(self, g, shape, dtype, scale=1.0):
        t = torch.randn(shape, generator=g, device=self.device, dtype=torch.float32)
        if scale != 1.0:
            t.mul_(scale)
        return t.to(dtype)

    # -- measurement ------------------------------------------------------
    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time_calls(self, fn, args, flush):
        """(median ms, timed calls, warm-ups); a first call over 1 s makes it 1 warm-up, 3 calls."""
        self.sync()
        t0 = time.perf_counter()
        fn(*args)
        self.sync()
        slow = time.perf_counter() - t0 > 1.0
        warmup, iters = (1, 3) if slow else (self.warmup, self.iters)
        for _ in range(warmup - 1):
            fn(*args)
        self.sync()
        times = []
        if self.cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            for _ in range(iters):
                if flush:
                    self.flush_buf.zero_()
                else:
                    torch.cuda.synchronize(self.device)
                start.record()
                fn(*args)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
        else:
            for _ in range(iters):
                if flush:
                    self.flush_buf.zero_()
                t0 = time.perf_counter()
                fn(*args)
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times), iters, warmup

    def count_kernels(self, fn, args):
        """(kernels, memcpy/memset operations) of one call, or (None, None)."""
        if not self.cuda:
            return None, None
        try:
            from torch.profiler import ProfilerActivity, profile

            self.sync()
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                fn(*args)
                self.sync()
            names = collections.Counter(
                e.name for e in prof.events()
                if e.device_type == torch.autograd.DeviceType.CUDA)
            summary = ", ".join(f"{c}x {k[:70]}" for k, c in names.most_common(12))
            log(f"  {sum(names.values())} GPU ops: {summary}")
            memops = sum(c for k, c in names.items() if k.startswith(("Memcpy", "Memset")))
            return sum(names.values()) - memops, memops
        except Exception as exc:  # profiler unavailable: report null
            log(f"kernel count failed: {exc!r}")
            return None, None

    @staticmethod
    def rel_err(out, ref):
        outs = out if isinstance(out, (tuple, list)) else (out,)
        refs = ref if isinstance(ref, (tuple, list)) else (ref,)
        if len(outs) != len(refs):
            raise ValueError(f"{len(outs)} outputs, {len(refs)} references")
        worst = 0.0
        for o, r in zip(outs, refs):
            if tuple(o.shape) != tuple(r.shape):
                raise ValueError(f"shape {tuple(o.shape)} != reference {tuple(r.shape)}")
            scale = r.abs().max().item()
            err = (o.double() - r).abs().max().item()
            e = err / scale if scale > 0 else err
            if not math.isfinite(e):
                return float("inf")
            worst = max(worst, e)
        return worst

    # -- one case, all impls ---------------------------------------------
    def impls(self, case):
        """The case's impls that run here: no torch.compile with --no-compile, graphs on CUDA only."""
        return [i for i in case.impls
                if not (i == "torch_compile" and not self.compile)
                and not (i == "torch_cudagraph" and not self.cuda)]

    def run_case(self, case):
        base = {"workload": case.workload, "variant": case.variant}
        try:
            ref = case.ref()
        except Exception as exc:
            for impl in self.impls(case):
                self.error(base, impl, f"reference failed: {exc!r}")
            return
        for impl in self.impls(case):
            log(f"{case.workload} {case.variant or '-'} {impl}")
            try:
                self.run_impl(case, impl, ref, base)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                self.error(base, impl, f"{type(exc).__name__}: {exc}".strip()[:2000])
            finally:
                if self.cuda:
                    torch.cuda.empty_cache()
        del ref

    def graphed(self, fn, args):
        """fn(*args) captured in a CUDA graph; the returned function replays it."""
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                fn(*args)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = fn(*args)

        def replay(*_):
            graph.replay()
            return out
        return replay

    def error(self, base, impl, msg):
        emit({**base, "impl": impl, "error": msg, "device": self.device_name})

    def run_impl(self, case, impl, ref, base):
        extra = {}
        if impl == "torch_compile":
            torch._dynamo.reset()
            fn = torch.compile(case.fn, dynamic=False)
            self.sync()
            t0 = time.perf_counter()
            fn(*case.args)
            self.sync()
            extra["compile_s"] = sig(time.perf_counter() - t0, 4)
        elif impl == "torch_cudagraph":
            fn = self.graphed(case.fn, case.args)
        else:
            fn = case.fn
        out = fn(*case.args)
        self.sync()
        if case.check_slice is not None:
            out = case.check_slice(out)
        err = self.rel_err(out, ref)
        ok = bool(err <= case.tol)
        del out
        kernels, memops = self.count_kernels(fn, case.args)
        median_ms, iters, warmup = self.time_calls(fn, case.args, case.flush)
        emit({
            **base,
            "impl": impl,
            "metric": case.metric,
            "value": sig(case.value(median_ms)),
            "median_ms": sig(median_ms),
            "kernels": kernels,
            "memops": memops,
            "ok": ok,
            "device": self.device_name,
            "dtype": case.dtype,
            "shape": case.shape,
            "max_rel_err": sig(err, 3),
            "torch": torch.__version__,
            "suite": self.suite,
            "iters": iters,
            "warmup": warmup,
            **case.extra,
            **extra,
        })


# ---------------------------------------------------------------------------
# Workloads. Each builder returns a list of Cases.
# ---------------------------------------------------------------------------



def w1(r):
    n = r.sizes["W1"]
    g = r.gen(101)
    a, b, c = (r.randn(g, (n,), torch.float32) for _ in range(3))

    def fn(a, b, c):
        return a * b + c

    def ref():
        return a.double() * b.double() + c.double()

    return [Case("W1", "", fn, (a, b, c), ref, TOLS["f32"], "GB/s", 16 * n,
                 "f32", [n], 101, extra={"bytes": 16 * n})]


def w2(r):
    m, k = r.sizes["W2"]
    g = r.gen(102)
    x = r.randn(g, (m, k), torch.float32)

    def fn(x):
        return x.sum(dim=1)

    def ref():
        return x.double().sum(dim=1)

    nbytes = 4 * m * k + 4 * m
    return [Case("W2", "", fn, (x,), ref, TOLS["f32"], "GB/s", nbytes,
                 "f32", [m, k], 102, extra={"bytes": nbytes})]


def w3(r):
    m, n, dt = r.sizes["W3"]
    g = r.gen(103)
    x = r.randn(g, (m, n), DTYPES[dt])

    def fn(x):
        return torch.softmax(x, dim=-1)

    def ref():
        return torch.softmax(x.double(), dim=-1)

    nbytes = 2 * x.element_size() * m * n
    return [Case("W3", dt, fn, (x,), ref, TOLS[dt], "GB/s", nbytes,
                 dt, [m, n], 103, extra={"bytes": nbytes})]


def w4(r):
    if r.sizes["W4"] is None:
        return []
    m, n = r.sizes["W4"]
    g = r.gen(104)
    x = r.randn(g, (m, n), torch.float32)
    w = 1.0 + r.randn(g, (n,), torch.float32, 0.1)
    b = r.randn(g, (n,), torch.float32, 0.1)

    def fn(x, w, b):
        return F.layer_norm(x, (n,), w, b, 1e-5)

    def ref():
        return F.layer_norm(x.double(), (n,), w.double(), b.double(), 1e-5)

    nbytes = 2 * 4 * m * n + 2 * 4 * n
    return [Case("W4", "", fn, (x, w, b), ref, TOLS["f32"], "GB/s", nbytes,
                 "f32", [m, n], 104, extra={"bytes": nbytes, "eps": 1e-5})]


def w5(r):
    cases = []
    for i, (s, name) in enumerate(r.sizes["W5"]):
        dt = DTYPES[name]
        rows = min(s, 256)  # rows checked against the f64 reference
        seed = 105 + 10 * i
        g = r.gen(seed)
        a = r.randn(g, (s, s), dt)
        b = r.randn(g, (s, s), dt)

        def fn(a, b):
            return a @ b

        def ref(a=a, b=b, rows=rows):
            return a[:rows].double() @ b.double()

        cases.append(Case("W5", name, fn, (a, b), ref, TOLS[name], "TFLOP/s",
                          2 * s * s * s, name, [s, s, s], seed,
                          check_slice=lambda out, rows=rows: out[:rows],
                          extra={"flops": 2 * s * s * s, "tf32": False,
                                 "reduced_precision_reduction": False}))
    return cases


def w6(r):
    if r.sizes["W6"] is None:
        return []
    n, c, h = r.sizes["W6"]
    o, w, kh, kw = c, h, 3, 3
    nref = min(n, 2)  # images checked against the f64 reference
    g = r.gen(106)
    x = r.randn(g, (n, c, h, w), torch.float16)
    wt = r.randn(g, (o, c, kh, kw), torch.float16, 1.0 / math.sqrt(c * kh * kw))

    def fn(x, wt):
        return F.conv2d(x, wt, None, 1, 1)

    def ref():
        return F.conv2d(x[:nref].double(), wt.double(), None, 1, 1)

    flops = 2 * n * o * h * w * c * kh * kw
    return [Case("W6", "", fn, (x, wt), ref, TOLS["f16"], "TFLOP/s", flops, "f16",
                 [n, c, h, w, o, kh, kw], 106, check_slice=lambda out: out[:nref],
                 extra={"flops": flops, "padding": 1, "layout": "NCHW"})]


def w7(r):
    if r.sizes["W7"] is None:
        return []
    n = r.sizes["W7"]
    g = r.gen(107)
    a, b, c, d = (r.randn(g, (n,), torch.float32) for _ in range(4))

    def fn(a, b, c, d):
        out1 = a + b + c
        out2 = a + b + d
        return out1, out2

    def ref():
        ab = a.double() + b.double()
        return ab + c.double(), ab + d.double()

    nbytes = 6 * 4 * n
    return [Case("W7", "", fn, (a, b, c, d), ref, TOLS["f32"], "GB/s", nbytes,
                 "f32", [n], 107, extra={"bytes": nbytes})]


def w8(r):
    if not r.sizes["W8"]:
        return []
    n, steps = 1024, 100
    g = r.gen(108)
    x = r.randn(g, (n,), torch.float32)

    def fn(x):
        for _ in range(steps):
            x = x * 1.0001
        return x

    def ref():
        return x.double() * (1.0001 ** steps)

    return [Case("W8", "", fn, (x,), ref, TOLS["f32"], "us/kernel", steps, "f32",
                 [n], 108, flush=False, extra={"steps": steps},
                 impls=("torch_eager", "torch_compile", "torch_cudagraph"))]


def gpt_forward(x, mask, layers, n_head):
    """Pre-LN GPT-2 block stack with explicit causal attention (no SDPA), linear weights
    [in, out] (x @ w + b) and a final LayerNorm without affine, as kiln's W9 (bench/src/gpt.rs)."""
    bsz, t, d = x.shape
    hd = d // n_head
    scale = 1.0 / math.sqrt(hd)
    for (ln1w, ln1b, wqkv, bqkv, wo, bo, ln2w, ln2b, w1, b1, w2, b2) in layers:
        h = F.layer_norm(x, (d,), ln1w, ln1b, 1e-5)
        qkv = h @ wqkv + bqkv
        q, k, v = qkv.split(d, dim=-1)
        q = q.reshape(bsz, t, n_head, hd).transpose(1, 2)
        k = k.reshape(bsz, t, n_head, hd).transpose(1, 2)
        v = v.reshape(bsz, t, n_head, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * scale
        att = att.masked_fill(mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(bsz, t, d)
        x = x + (y @ wo + bo)
        h = F.layer_norm(x, (d,), ln2w, ln2b, 1e-5)
        h = F.gelu(h @ w1 + b1, approximate="tanh")
        x = x + (h @ w2 + b2)
    return F.layer_norm(x, (d,), None, None, 1e-5)




def read_safetensors(path, device):
    """{name: tensor} of an F16 safetensors file, read without the safetensors package."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F16":
            raise ValueError(f"{name}: dtype {meta['dtype']}, expected F16")
        begin, end = meta["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float16)
        out[name] = t.reshape(meta["shape"]).to(device)
    return out


def w9(r):
    if r.sizes["W9"] is None:
        return []
    bsz, t, d, n_head, n_layer = r.sizes["W9"]
    dff = 4 * d
    dt = torch.float16
    if r.w9_weights:
        params = read_safetensors(r.w9_weights, r.device)
        x = params["x"]
        if list(x.shape) != [bsz, t, d]:
            raise ValueError(f"--w9-weights holds x of shape {list(x.shape)}, suite wants {[bsz, t, d]}")
        layers = [tuple(params[f"h.{i}.{p}"] for p in LAYER_PARAMS) for i in range(n_layer)]
        source = "kiln-bench safetensors"
    else:
        g = r.gen(109)
        std = 0.02
        shapes = [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, dff), (dff,), (dff, d), (d,)]
        layers = [tuple((1.0 if p.startswith("ln") and p.endswith("weight") else 0.0) + r.randn(g, s, dt, std)
                        for p, s in zip(LAYER_PARAMS, shapes)) for _ in range(n_layer)]
        x = r.randn(g, (bsz, t, d), dt)
        source = "random"
    mask = torch.ones(t, t, dtype=torch.bool, device=r.device).triu(1)
    nref = min(bsz, 1)  # batch rows checked against the f64 reference

    def fn(x, mask, layers):
        return gpt_forward(x, mask, layers, n_head)

    def ref():
        dl = [tuple(p.double() for p in layer) for layer in layers]
        return gpt_forward(x[:nref].double(), mask, dl, n_head)

    flops = n_layer * (2 * bsz * t * (3 * d * d + d * d + 2 * d * dff)
                       + 2 * 2 * bsz * n_head * t * t * (d // n_head))
    return [Case("W9", "", fn, (x, mask, layers), ref, 2e-2, "ms", None, "f16",
                 [bsz, t, d, n_head, n_layer], 109, check_slice=lambda out: out[:nref],
                 impls=("torch_eager", "torch_compile", "torch_cudagraph"),
                 extra={"attention": "explicit", "layers": n_layer, "batch": bsz,
                        "seq": t, "d_model": d, "heads": n_head, "d_ff": dff,
                        "gelu": "tanh", "flops": flops, "weights": source})]


def copy(r):
    n = r.sizes["W1"]
    g = r.gen(110)
    src = r.randn(g, (n,), torch.float32)
    dst = torch.empty_like(src)

    def fn(dst, src):
        dst.copy_(src)
        return dst

    def ref():
        return src.double()

    nbytes = 2 * 4 * n
    return [Case("copy", "", fn, (dst, src), ref, 0.0, "GB/s", nbytes, "f32",
                 [n], 110, impls=("torch_eager",), extra={"bytes": nbytes})]


BUILDERS = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6,
            "W7": w7, "W8": w8, "W9": w9, "copy": copy}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default=None,
                    help="default: cuda when available, else cpu")
    ap.add_argument("--suite", choices=sorted(SIZES), default=None,
                    help="sizes (bench/src/suite.rs); default: gpu on cuda, cpu on the CPU")
    ap.add_argument("--quick", action="store_true", help="the quick suite: CI sizes, 5 timed calls")
    ap.add_argument("--w9-weights", default=None, help="safetensors file with the W9 input and weights")
    ap.add_argument("--only", default="", help="comma list of W1..W9, copy")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    opts = ap.parse_args()

    device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        emit({"workload": "*", "variant": "", "impl": "*", "device": "cuda",
              "error": "CUDA requested but torch.cuda.is_available() is False"})
        return 1

    names = WORKLOADS
    if opts.only:
        wanted = {w.strip().lower() for w in opts.only.split(",") if w.strip()}
        unknown = wanted - {w.lower() for w in WORKLOADS}
        if unknown:
            ap.error(f"unknown workloads: {', '.join(sorted(unknown))}")
        names = [w for w in WORKLOADS if w.lower() in wanted]

    torch.set_grad_enabled(False)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False

    suite = "quick" if opts.quick else (opts.suite or ("gpu" if device == "cuda" else "cpu"))
    r = Runner(device, suite, not opts.no_compile, opts.w9_weights)
    log(f"torch {torch.__version__} on {r.device_name}; suite={suite} "
        f"compile={not opts.no_compile} iters={r.iters}")
    t_start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        try:
            cases = BUILDERS[name](r)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            for impl in ("torch_eager", "torch_compile"):
                r.error({"workload": name, "variant": ""}, impl,
                        f"setup failed: {type(exc).__name__}: {exc}")
            continue
        for case in cases:
            r.run_case(case)
        del cases
        if r.cuda:
            torch.cuda.empty_cache()
        log(f"{name} done in {time.perf_counter() - t0:.1f} s")
    log(f"all done in {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
