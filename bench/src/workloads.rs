//! The workloads W1-W8 and copy: each builds its inputs, checks its result against the host
//! reference (`host.rs`) with `check.rs`, then is timed by `measure.rs`. W9 lives in `gpt.rs`.

use crate::check::{verify, Depth};
use crate::data::{read, uniform};
use crate::host;
use crate::measure::{Flush, Method, Sample};
use crate::row::Row;
use kiln::{DType, Tensor};
use std::time::Instant;

/// Rows of a matmul checked against the host (each a full row of the product).
const CHECKED_ROWS: usize = 16;

/// A row from a sample; `amount` is bytes (GB/s), flops (TFLOP/s) or steps (us/kernel).
pub fn row(workload: &str, variant: &str, metric: &str, amount: f64, shape: Vec<usize>, t: &Sample) -> Row {
    let value = match metric {
        "GB/s" => amount / t.seconds.max(1e-12) / 1e9,
        "TFLOP/s" => amount / t.seconds.max(1e-12) / 1e12,
        "us/kernel" => t.seconds * 1e6 / amount,
        _ => t.seconds * 1e3,
    };
    Row {
        workload: workload.into(),
        variant: variant.into(),
        imp: "kiln".into(),
        metric: metric.into(),
        value,
        median_ms: t.seconds * 1e3,
        shape,
        kernels: Some(t.kernels),
        kernel_ms: Some(t.kernel_seconds * 1e3),
        calls: t.calls,
        warmup: t.warmup,
        ok: false,
        max_rel_err: None,
    }
}

/// Marks `row` with the outcome of checking `got` against `want` (failures are printed).
pub fn checked(mut row: Row, got: &[f64], want: &[f64], dtype: DType, depth: Depth) -> Row {
    match verify(got, want, dtype, depth) {
        Ok(err) => {
            row.ok = true;
            row.max_rel_err = Some(err);
        }
        Err(e) => {
            eprintln!("  {} check FAILED: {e}", row.label());
            if let Ok(err) = crate::check::relative_error(got, want) {
                row.max_rel_err = Some(err);
            }
        }
    }
    row
}

/// W1: `a*b+c` in f32.
pub fn w1(m: &Method, n: usize) -> kiln::Result<Row> {
    let (a, b, c) =
        (uniform(&[n], DType::F32, 1.0, 1)?, uniform(&[n], DType::F32, 1.0, 2)?, uniform(&[n], DType::F32, 1.0, 3)?);
    let f = || a.tensor.mul(&b.tensor)?.add(&c.tensor);
    let got = read(&f()?)?;
    let t = m.time(Flush::Before, || f()?.realize().map(drop))?;
    let r = row("W1", "", "GB/s", 16.0 * n as f64, vec![n], &t);
    Ok(checked(r, &got, &host::mul_add(&a.host, &b.host, &c.host), DType::F32, Depth::Op))
}

/// W2: row sum in f32.
pub fn w2(m: &Method, (r, c): (usize, usize)) -> kiln::Result<Row> {
    let x = uniform(&[r, c], DType::F32, 1.0, 4)?;
    let f = || x.tensor.sum(&[1], false);
    let got = read(&f()?)?;
    let t = m.time(Flush::Before, || f()?.realize().map(drop))?;
    let out = row("W2", "", "GB/s", 4.0 * (r * c + r) as f64, vec![r, c], &t);
    Ok(checked(out, &got, &host::row_sums(&x.host, c), DType::F32, Depth::Op))
}

/// W3: softmax over the last axis.
pub fn w3(m: &Method, (r, c, dtype): (usize, usize, DType)) -> kiln::Result<Row> {
    let x = uniform(&[r, c], dtype, 4.0, 5)?;
    let f = || x.tensor.softmax(-1);
    let got = read(&f()?)?;
    let t = m.time(Flush::Before, || f()?.realize().map(drop))?;
    let out = row("W3", dtype.name(), "GB/s", (2 * dtype.size() * r * c) as f64, vec![r, c], &t);
    Ok(checked(out, &got, &host::softmax_rows(&x.host, c), dtype, Depth::Op))
}

/// W4: layernorm with weight and bias in f32.
pub fn w4(m: &Method, (r, c): (usize, usize)) -> kiln::Result<Row> {
    let (x, w, b) =
        (uniform(&[r, c], DType::F32, 1.0, 6)?, uniform(&[c], DType::F32, 1.0, 7)?, uniform(&[c], DType::F32, 1.0, 8)?);
    let f = || x.tensor.layernorm(-1, 1e-5)?.mul(&w.tensor)?.add(&b.tensor);
    let got = read(&f()?)?;
    let t = m.time(Flush::Before, || f()?.realize().map(drop))?;
    let out = row("W4", "", "GB/s", 4.0 * (2 * r * c + 2 * c) as f64, vec![r, c], &t);
    let want = host::layernorm_rows(&x.host, c, 1e-5, Some((&w.host, &b.host)));
    Ok(checked(out, &got, &want, DType::F32, Depth::Op))
}

/// W5: square matmul in `dtype` (f32 accumulation), [`CHECKED_ROWS`] rows checked.
pub fn w5(m: &Method, (n, dtype): (usize, DType)) -> kiln::Result<Row> {
    let (a, b) = (uniform(&[n, n], dtype, 1.0, 9)?, uniform(&[n, n], dtype, 1.0, 10)?);
    let f = || a.tensor.matmul(&b.tensor);
    let got = read(&f()?)?;
    let t = m.time(Flush::Before, || f()?.realize().map(drop))?;
    let out = row("W5", dtype.name(), "TFLOP/s", 2.0 * (n as f64).powi(3), vec![n, n, n], &t);
    let rows = host::spread(n, CHECKED_ROWS);
    let want = host::matmul_rows(&a.host, &b.host, n, n, &rows);
    Ok(checked(out, &host::take_rows(&got, n, &rows), &want, dtype, Depth::Op))
}

/// W6: conv2d NCHW f16, 3x3, padding 1; the first image checked.
pub fn w6(m: &Method, (n, ch, hw): (usize, usize, usize)) -> kiln::Result<Row> {
    let x = uniform(&[n, ch, hw, hw], DType::F16, 1.0, 11)?;
    let w = uniform(&[ch, ch, 3, 3], DType::F16, 0.05, 12)?;
    let f = || x.tensor.conv2d(&w.tensor, None, 1, 1);
    let got = read(&f()?)?;
    let t = m.time(Flush::Before, || f()?.realize().map(drop))?;
    let flops = 2.0 * (n * ch * hw * hw * ch * 9) as f64;
    let out = row("W6", "", "TFLOP/s", flops, vec![n, ch, hw, hw, ch, 3, 3], &t);
    let want = host::conv3x3_image(&x.host, &w.host, ch, hw, 0);
    Ok(checked(out, &got[..want.len()], &want, DType::F16, Depth::Op))
}

/// W7: the seed case, `a+b+c` and `a+b+d` realized together.
pub fn w7(m: &Method, n: usize) -> kiln::Result<Row> {
    let ins: Vec<_> = (13..17).map(|seed| uniform(&[n], DType::F32, 1.0, seed)).collect::<kiln::Result<_>>()?;
    let f = || -> kiln::Result<(Tensor, Tensor)> {
        let ab = ins[0].tensor.add(&ins[1].tensor)?;
        Ok((ab.add(&ins[2].tensor)?, ab.add(&ins[3].tensor)?))
    };
    let (o1, o2) = f()?;
    Tensor::realize_all(&[&o1, &o2])?;
    let got = [read(&o1)?, read(&o2)?].concat();
    let t = m.time(Flush::Before, || {
        let (o1, o2) = f()?;
        Tensor::realize_all(&[&o1, &o2])
    })?;
    let out = row("W7", "", "GB/s", (6 * 4 * n) as f64, vec![n], &t);
    let want =
        [host::add3(&ins[0].host, &ins[1].host, &ins[2].host), host::add3(&ins[0].host, &ins[1].host, &ins[3].host)]
            .concat();
    Ok(checked(out, &got, &want, DType::F32, Depth::Op))
}

/// W8: 100 dependent tiny kernels, timed from an idle device (no flush): microseconds per kernel.
pub fn w8(m: &Method) -> kiln::Result<Row> {
    let x = uniform(&[1024], DType::F32, 1.0, 17)?;
    let chain = || w8_chain(&x.tensor)?.realize();
    let got = read(&chain()?)?;
    let t = m.time(Flush::Idle, || chain().map(drop))?;
    w8_host(m, &x.tensor)?;
    let out = row("W8", "", "us/kernel", 100.0, vec![1024], &t);
    let want: Vec<f64> = x.host.iter().map(|v| v * 1.0001f64.powi(100)).collect();
    Ok(checked(out, &got, &want, DType::F32, Depth::Op))
}

/// W8's graph, unrealized: 100 dependent kernels.
fn w8_chain(x: &Tensor) -> kiln::Result<Tensor> {
    let mut y = x.clone();
    for _ in 0..100 {
        y = (&y * 1.0001)?.contiguous()?;
    }
    Ok(y)
}

/// Where eager W8's host time goes, printed (a diagnostic, not a row): over more calls from an idle
/// device, the wall time per kernel of building the graph, of realizing it (split into the phases the
/// runtime records: scheduling, code generation with its memo lookups, device compilation, queueing
/// the launches, and the rest: walking the tensors, allocating, binding), of dropping it, and of then
/// waiting for the device.
fn w8_host(m: &Method, x: &Tensor) -> kiln::Result<()> {
    const CALLS: usize = 50;
    let device = m.device();
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6 / (100 * CALLS) as f64;
    let zero = std::time::Duration::ZERO;
    let (mut build, mut realize, mut dropping, mut waiting) = (zero, zero, zero, zero);
    let mut calls = Vec::with_capacity(CALLS);
    device.synchronize()?;
    kiln_runtime::take_phases();
    for _ in 0..CALLS {
        let t0 = Instant::now();
        let y = w8_chain(x)?;
        let t1 = Instant::now();
        y.realize()?;
        let t2 = Instant::now();
        drop(y);
        let t3 = Instant::now();
        device.synchronize()?;
        let t4 = Instant::now();
        (build, realize, dropping, waiting) =
            (build + (t1 - t0), realize + (t2 - t1), dropping + (t3 - t2), waiting + (t4 - t3));
        calls.push((t4 - t0).as_secs_f64() * 1e4);
    }
    let p = kiln_runtime::take_phases();
    let rest = realize.saturating_sub(p.schedule + p.codegen + p.compile + p.launch);
    eprintln!(
        "W8 eager host, us per kernel (mean of {CALLS} calls): build {:.2}, realize {:.2} (schedule {:.2}, codegen {:.2}, \
         compile {:.2}, launch {:.2}, rest {:.2}), drop {:.2}, then waiting {:.2}; whole calls {:.2} median, {:.2}-{:.2}",
        us(build),
        us(realize),
        us(p.schedule),
        us(p.codegen),
        us(p.compile),
        us(p.launch),
        us(rest),
        us(dropping),
        us(waiting),
        crate::measure::median(&mut calls),
        calls[0],
        calls[CALLS - 1],
    );
    Ok(())
}

/// A step replayed by `kiln::Jit`, timed two ways: device time per call (the bench method, as the `jit`
/// variant, compared with the references' replays) and host wall time per call over back-to-back
/// replays (the `jit wall` variant, no reference). `amount` turns seconds into the row's metric.
fn jitted(
    m: &Method,
    spec: JitRow,
    jit: &mut kiln::Jit<impl FnMut(&[&Tensor]) -> kiln::Result<Vec<Tensor>>>,
    inputs: &[&Tensor],
) -> kiln::Result<(Row, Row, Tensor)> {
    let JitRow { workload, metric, amount, shape, flush } = spec;
    jit.call(inputs)?;
    jit.call(inputs)?;
    let mut t = m.time(flush, || jit.call(inputs).map(drop))?;
    t.kernels = jit.kernels();
    let device = m.device();
    let mut out = None;
    device.synchronize()?;
    let start = Instant::now();
    for _ in 0..t.calls {
        // The previous output goes first, as in the device-timed calls, so its buffer can be reused.
        drop(out.take());
        out = Some(jit.call(inputs)?.remove(0));
    }
    device.synchronize()?;
    let wall = Sample { seconds: start.elapsed().as_secs_f64() / t.calls.max(1) as f64, ..t };
    let out = out.ok_or(kiln::Error::Invalid { op: "jit row", reason: "no timed call".into() })?;
    let mut gpu = row(workload, "jit", metric, amount, shape.clone(), &t);
    gpu.kernel_ms = None;
    let mut host = row(workload, "jit wall", metric, amount, shape, &wall);
    host.kernel_ms = None;
    Ok((gpu, host, out))
}

/// What a jitted row measures.
struct JitRow {
    workload: &'static str,
    metric: &'static str,
    amount: f64,
    shape: Vec<usize>,
    flush: Flush,
}

/// W8 replayed by the JIT: the same 100 kernels captured once.
pub fn w8_jit(m: &Method) -> kiln::Result<Vec<Row>> {
    let x = uniform(&[1024], DType::F32, 1.0, 17)?;
    let mut jit = kiln::Jit::new(|i: &[&Tensor]| {
        let mut y = i[0].clone();
        for _ in 0..100 {
            y = (&y * 1.0001)?.contiguous()?;
        }
        Ok(vec![y])
    });
    let w8_spec = JitRow { workload: "W8", metric: "us/kernel", amount: 100.0, shape: vec![1024], flush: Flush::Idle };
    let (gpu, host, out) = jitted(m, w8_spec, &mut jit, &[&x.tensor])?;
    let got = read(&out)?;
    let want: Vec<f64> = x.host.iter().map(|v| v * 1.0001f64.powi(100)).collect();
    Ok(vec![checked(gpu, &got, &want, DType::F32, Depth::Op), checked(host, &got, &want, DType::F32, Depth::Op)])
}

/// W9 replayed by the JIT: the decoder's forward captured once, the weights read anew at each replay.
pub fn w9_jit(m: &Method, model: &crate::gpt::Model) -> kiln::Result<Vec<Row>> {
    let g = model.gpt;
    let tensors = model.upload()?;
    let weights = tensors[1..].to_vec();
    let mut jit = kiln::Jit::new(|i: &[&Tensor]| {
        let mut all = vec![i[0].clone()];
        all.extend(weights.iter().cloned());
        Ok(vec![crate::gpt::forward(g, &all)?])
    });
    let shape = vec![g.batch, g.tokens, g.width, g.heads, g.layers];
    let spec = JitRow { workload: "W9", metric: "ms", amount: 0.0, shape, flush: Flush::Before };
    let (gpu, host, out) = jitted(m, spec, &mut jit, &[&tensors[0]])?;
    let (got, want) = crate::gpt::checked_pair(model, &read(&out)?);
    Ok(vec![checked(gpu, &got, &want, DType::F16, Depth::Model), checked(host, &got, &want, DType::F16, Depth::Model)])
}

/// kiln's own copy kernel over `n` f32 (`x + 0`).
pub fn copy(m: &Method, n: usize) -> kiln::Result<Row> {
    let x = uniform(&[n], DType::F32, 1.0, 18)?;
    let f = || x.tensor.add(&x.tensor.full_like(0.0, DType::F32)?);
    let got = read(&f()?)?;
    let t = m.time(Flush::Before, || f()?.realize().map(drop))?;
    let out = row("copy", "", "GB/s", 8.0 * n as f64, vec![n], &t);
    Ok(checked(out, &got, &x.host, DType::F32, Depth::Op))
}

/// The device's own copy (`cuMemcpyDtoD`, `vkCmdCopyBuffer`, memcpy) of `n` f32: the copy ceiling.
pub fn memcpy(m: &Method, n: usize) -> kiln::Result<Row> {
    let x = uniform(&[n], DType::F32, 1.0, 19)?;
    let runtime = m.device().runtime();
    let bytes = 4 * n;
    let (src, dst) = (kiln_runtime::Buffer::alloc(runtime, bytes)?, kiln_runtime::Buffer::alloc(runtime, bytes)?);
    let host: Vec<u8> = x.host.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
    src.copy_in(&host)?;
    let copy = || -> kiln::Result<()> { Ok(runtime.copy_buffer(dst.raw(), src.raw(), bytes)?) };
    copy()?;
    let got: Vec<f64> =
        dst.to_host()?.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect();
    let t = m.time(Flush::Before, copy)?;
    let mut out = row("copy", "", "GB/s", 8.0 * n as f64, vec![n], &t);
    out.imp = "memcpy".into();
    out.kernels = None;
    out.kernel_ms = None;
    Ok(checked(out, &got, &x.host, DType::F32, Depth::Op))
}

/// W9: the decoder forward in f16 (ms per forward), checked on [`crate::gpt::checked`] against the
/// host forward of the same weights.
pub fn w9(m: &Method, model: &crate::gpt::Model) -> kiln::Result<Row> {
    let g = model.gpt;
    let tensors = model.upload()?;
    let got = read(&crate::gpt::forward(g, &tensors)?)?;
    let t = m.time(Flush::Before, || crate::gpt::forward(g, &tensors)?.realize().map(drop))?;
    let out = row("W9", "", "ms", 0.0, vec![g.batch, g.tokens, g.width, g.heads, g.layers], &t);
    let (got, want) = crate::gpt::checked_pair(model, &got);
    Ok(checked(out, &got, &want, DType::F16, Depth::Model))
}
