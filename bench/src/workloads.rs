//! The workloads W1-W9, each checked for correctness before it is timed. Sizes follow issue 7; the
//! `quick` sizes keep CI runs short.

use crate::data::{read, uniform};
use crate::measure::Method;
use crate::report::Row;
use kiln::{DType, Tensor};

/// Sizes of every workload.
pub struct Sizes {
    w1: usize,
    w2: (usize, usize),
    w3: (usize, usize),
    w4: (usize, usize),
    w5: usize,
    w6: (usize, usize, usize),
    w7: usize,
    /// GPT-2-shaped decoder: batch, tokens, width, heads, layers.
    pub w9: Gpt,
}

/// Shape of the W9 decoder.
#[derive(Clone, Copy)]
pub struct Gpt {
    batch: usize,
    tokens: usize,
    width: usize,
    heads: usize,
    layers: usize,
}

impl Sizes {
    /// Full sizes, or small ones for CI.
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                w1: 1 << 16,
                w2: (64, 256),
                w3: (64, 128),
                w4: (64, 128),
                w5: 64,
                w6: (2, 16, 8),
                w7: 1 << 12,
                w9: Gpt { batch: 1, tokens: 16, width: 64, heads: 4, layers: 2 },
            }
        } else {
            Sizes {
                w1: 1 << 26,
                w2: (4096, 16384),
                w3: (4096, 4096),
                w4: (8192, 4096),
                w5: 4096,
                w6: (64, 256, 14),
                w7: 1 << 24,
                w9: Gpt { batch: 4, tokens: 256, width: 768, heads: 12, layers: 4 },
            }
        }
    }
}

fn row(workload: &str, variant: &str, metric: &'static str, value: f64, seconds: f64, kernels: usize, ok: bool) -> Row {
    Row {
        workload: workload.into(),
        variant: variant.into(),
        metric,
        value,
        median_ms: seconds * 1e3,
        kernels: Some(kernels),
        ok,
    }
}

/// Whether sampled outputs match: `got[i]` against `want(i)` for a spread of indices.
fn spot_check(got: &[f64], samples: usize, tol: f64, want: impl Fn(usize) -> f64) -> bool {
    let n = got.len();
    (0..samples.min(n)).map(|k| k * n / samples.min(n).max(1)).all(|i| {
        let w = want(i);
        let ok = (got[i] - w).abs() <= tol * (1.0 + w.abs());
        if !ok {
            eprintln!("  check failed at {i}: got {}, expected {w}", got[i]);
        }
        ok
    })
}

fn gbs(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / seconds.max(1e-12) / 1e9
}

/// W1: `a*b+c`.
pub fn w1(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let n = s.w1;
    let (a, b, c) =
        (uniform(&[n], DType::F32, 1.0, 1)?, uniform(&[n], DType::F32, 1.0, 2)?, uniform(&[n], DType::F32, 1.0, 3)?);
    let f = || a.tensor.mul(&b.tensor)?.add(&c.tensor);
    let got = read(&f()?)?;
    let ok = spot_check(&got, 4096, 1e-6, |i| f64::from((a.host[i] * b.host[i]) as f32) + c.host[i]);
    let t = m.device_time(|| f()?.realize().map(drop))?;
    Ok(row("W1", "", "GB/s", gbs(16 * n, t.seconds), t.seconds, t.kernels, ok))
}

/// W2: row sum.
pub fn w2(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let (r, c) = s.w2;
    let x = uniform(&[r, c], DType::F32, 1.0, 4)?;
    let f = || x.tensor.sum(&[1], false);
    let got = read(&f()?)?;
    let ok = spot_check(&got, 16, 1e-4, |i| x.host[i * c..(i + 1) * c].iter().sum());
    let t = m.device_time(|| f()?.realize().map(drop))?;
    Ok(row("W2", "", "GB/s", gbs(4 * (r * c + r), t.seconds), t.seconds, t.kernels, ok))
}

/// W3: softmax over the last axis in f16.
pub fn w3(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let (r, c) = s.w3;
    let x = uniform(&[r, c], DType::F16, 4.0, 5)?;
    let f = || x.tensor.softmax(-1);
    let got = read(&f()?)?;
    let ok = spot_check(&got, 64, 2e-2, |i| {
        let row = &x.host[(i / c) * c..(i / c + 1) * c];
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (row[i % c] - max).exp() / row.iter().map(|v| (v - max).exp()).sum::<f64>()
    });
    let t = m.device_time(|| f()?.realize().map(drop))?;
    Ok(row("W3", "", "GB/s", gbs(2 * 2 * r * c, t.seconds), t.seconds, t.kernels, ok))
}

/// W4: layernorm with weight and bias.
pub fn w4(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let (r, c) = s.w4;
    let (x, w, b) =
        (uniform(&[r, c], DType::F32, 1.0, 6)?, uniform(&[c], DType::F32, 1.0, 7)?, uniform(&[c], DType::F32, 1.0, 8)?);
    let f = || x.tensor.layernorm(-1, 1e-5)?.mul(&w.tensor)?.add(&b.tensor);
    let got = read(&f()?)?;
    let ok = spot_check(&got, 64, 1e-3, |i| {
        let row = &x.host[(i / c) * c..(i / c + 1) * c];
        let mean = row.iter().sum::<f64>() / c as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / c as f64;
        (row[i % c] - mean) / (var + 1e-5).sqrt() * w.host[i % c] + b.host[i % c]
    });
    let t = m.device_time(|| f()?.realize().map(drop))?;
    Ok(row("W4", "", "GB/s", gbs(4 * (2 * r * c + 2 * c), t.seconds), t.seconds, t.kernels, ok))
}

/// W5: square matmul in `dtype` (f32 accumulation).
pub fn w5(m: &Method, s: &Sizes, dtype: DType) -> kiln::Result<Row> {
    let n = s.w5;
    let (a, b) = (uniform(&[n, n], dtype, 1.0, 9)?, uniform(&[n, n], dtype, 1.0, 10)?);
    let f = || a.tensor.matmul(&b.tensor);
    let got = read(&f()?)?;
    let tol = match dtype {
        DType::F16 => 5e-3,
        DType::BF16 => 3e-2,
        _ => 1e-5,
    } * (n as f64).sqrt();
    let ok = spot_check(&got, 32, tol, |i| (0..n).map(|k| a.host[(i / n) * n + k] * b.host[k * n + i % n]).sum());
    let t = m.device_time(|| f()?.realize().map(drop))?;
    let flops = 2.0 * (n as f64).powi(3);
    Ok(row("W5", dtype.name(), "TFLOP/s", flops / t.seconds.max(1e-12) / 1e12, t.seconds, t.kernels, ok))
}

/// W6: conv2d NCHW f16, 3x3, padding 1.
pub fn w6(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let (n, ch, hw) = s.w6;
    let x = uniform(&[n, ch, hw, hw], DType::F16, 1.0, 11)?;
    let w = uniform(&[ch, ch, 3, 3], DType::F16, 0.05, 12)?;
    let f = || x.tensor.conv2d(&w.tensor, None, 1, 1);
    let got = read(&f()?)?;
    let ok = spot_check(&got, 32, 2e-2, |i| {
        let (img, o, y, z) = (i / (ch * hw * hw), (i / (hw * hw)) % ch, (i / hw) % hw, i % hw);
        let mut acc = 0.0;
        for c in 0..ch {
            for ki in 0..3 {
                for kj in 0..3 {
                    let (yy, zz) = (y + ki, z + kj);
                    if (1..=hw).contains(&yy) && (1..=hw).contains(&zz) {
                        acc += x.host[((img * ch + c) * hw + yy - 1) * hw + zz - 1]
                            * w.host[((o * ch + c) * 3 + ki) * 3 + kj];
                    }
                }
            }
        }
        acc
    });
    let t = m.device_time(|| f()?.realize().map(drop))?;
    let flops = 2.0 * (n * ch * hw * hw * ch * 9) as f64;
    Ok(row("W6", "", "TFLOP/s", flops / t.seconds.max(1e-12) / 1e12, t.seconds, t.kernels, ok))
}

/// W7: the seed case, `a+b+c` and `a+b+d` realized together.
pub fn w7(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let n = s.w7;
    let ins: Vec<_> = (13..17).map(|seed| uniform(&[n], DType::F32, 1.0, seed)).collect::<kiln::Result<_>>()?;
    let f = || -> kiln::Result<(Tensor, Tensor)> {
        let ab = ins[0].tensor.add(&ins[1].tensor)?;
        Ok((ab.add(&ins[2].tensor)?, ab.add(&ins[3].tensor)?))
    };
    let (o1, o2) = f()?;
    Tensor::realize_all(&[&o1, &o2])?;
    let (g1, g2) = (read(&o1)?, read(&o2)?);
    let sum = |i: usize, j: usize| f64::from((ins[0].host[i] + ins[1].host[i]) as f32) + ins[j].host[i];
    let ok = spot_check(&g1, 1024, 1e-6, |i| sum(i, 2)) && spot_check(&g2, 1024, 1e-6, |i| sum(i, 3));
    let t = m.device_time(|| {
        let (o1, o2) = f()?;
        Tensor::realize_all(&[&o1, &o2])
    })?;
    Ok(row("W7", "", "GB/s", gbs(6 * 4 * n, t.seconds), t.seconds, t.kernels, ok))
}

/// W8: 100 dependent tiny kernels; wall microseconds per kernel (no JIT yet).
pub fn w8(m: &Method, device: &kiln::Device) -> kiln::Result<Row> {
    let x = uniform(&[1024], DType::F32, 1.0, 17)?;
    let chain = || -> kiln::Result<Tensor> {
        let mut y = x.tensor.clone();
        for _ in 0..100 {
            y = (&y * 1.0001)?.contiguous()?;
        }
        y.realize()
    };
    let got = read(&chain()?)?;
    let ok = spot_check(&got, 64, 1e-4, |i| x.host[i] * 1.0001f64.powi(100));
    let t = m.wall_time(device, || chain().map(|_| 100))?;
    Ok(row("W8", "", "us/kernel", t.seconds * 1e6 / 100.0, t.seconds, 100, ok))
}

/// Weights of one decoder layer: (weight, bias) pairs.
pub struct Layer {
    ln1: (Tensor, Tensor),
    qkv: (Tensor, Tensor),
    proj: (Tensor, Tensor),
    ln2: (Tensor, Tensor),
    fc: (Tensor, Tensor),
    out: (Tensor, Tensor),
}

/// Random decoder weights (std about 0.02, like GPT-2's init).
fn layers(g: Gpt) -> kiln::Result<Vec<Layer>> {
    let d = g.width;
    let mut seed = 100;
    let mut w = |shape: &[usize], scale: f32| {
        seed += 1;
        uniform(shape, DType::F16, scale, seed).map(|i| i.tensor)
    };
    (0..g.layers)
        .map(|_| {
            Ok(Layer {
                ln1: (Tensor::ones(&[d], DType::F16)?, Tensor::zeros(&[d], DType::F16)?),
                qkv: (w(&[d, 3 * d], 0.035)?, w(&[3 * d], 0.035)?),
                proj: (w(&[d, d], 0.035)?, w(&[d], 0.035)?),
                ln2: (Tensor::ones(&[d], DType::F16)?, Tensor::zeros(&[d], DType::F16)?),
                fc: (w(&[d, 4 * d], 0.035)?, w(&[4 * d], 0.035)?),
                out: (w(&[4 * d, d], 0.035)?, w(&[d], 0.035)?),
            })
        })
        .collect()
}

/// One forward of the decoder: pre-LN attention and GELU MLP blocks, then a final LayerNorm.
fn forward(g: Gpt, x: &Tensor, layers: &[Layer]) -> kiln::Result<Tensor> {
    let (b, t, d, h) = (g.batch as isize, g.tokens as isize, g.width as isize, g.heads as isize);
    let ln = |x: &Tensor, (w, bias): &(Tensor, Tensor)| x.layernorm(-1, 1e-5)?.mul(w)?.add(bias);
    let linear = |x: &Tensor, (w, bias): &(Tensor, Tensor)| x.matmul(w)?.add(bias);
    let heads = |x: &Tensor| x.reshape(&[b, t, h, d / h])?.permute(&[0, 2, 1, 3]);
    let mut x = x.clone();
    for l in layers {
        let qkv = linear(&ln(&x, &l.ln1)?, &l.qkv)?;
        let part = |i: usize| qkv.shrink(&[(0, g.batch), (0, g.tokens), (i * g.width, (i + 1) * g.width)]);
        let (q, k, v) = (heads(&part(0)?)?, heads(&part(1)?)?, heads(&part(2)?)?);
        let attn = q.scaled_dot_product_attention(&k, &v, true)?.permute(&[0, 2, 1, 3])?.reshape(&[b, t, d])?;
        x = x.add(&linear(&attn, &l.proj)?)?;
        let mlp = linear(&linear(&ln(&x, &l.ln2)?, &l.fc)?.gelu()?, &l.out)?;
        x = x.add(&mlp)?;
    }
    x.layernorm(-1, 1e-5)
}

/// The W9 input and weights.
pub fn gpt_setup(g: Gpt) -> kiln::Result<(Tensor, Vec<Layer>)> {
    Ok((uniform(&[g.batch, g.tokens, g.width], DType::F16, 1.0, 99)?.tensor, layers(g)?))
}

/// Builds the W9 graph (nothing runs).
pub fn gpt_graph(g: Gpt, setup: &(Tensor, Vec<Layer>)) -> kiln::Result<Tensor> {
    forward(g, &setup.0, &setup.1)
}

/// Final LayerNorm rows have mean 0 and variance 1: a check that needs no reference model.
fn normalized_rows(values: &[f64], width: usize) -> bool {
    values.chunks(width).all(|row| {
        let mean = row.iter().sum::<f64>() / width as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / width as f64;
        row.iter().all(|v| v.is_finite()) && mean.abs() < 0.05 && (var - 1.0).abs() < 0.1
    })
}

/// W9: the decoder forward, device ms per forward.
pub fn w9(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let g = s.w9;
    let setup = gpt_setup(g)?;
    let got = read(&gpt_graph(g, &setup)?)?;
    let ok = normalized_rows(&got, g.width);
    let t = m.device_time(|| gpt_graph(g, &setup)?.realize().map(drop))?;
    Ok(row("W9", "", "ms", t.seconds * 1e3, t.seconds, t.kernels, ok))
}

/// A copy kernel of 2^26 f32 (the ceiling kiln's own kernels can reach without torch in the run).
pub fn copy(m: &Method, s: &Sizes) -> kiln::Result<Row> {
    let n = s.w1;
    let x = uniform(&[n], DType::F32, 1.0, 18)?;
    let f = || x.tensor.add(&x.tensor.full_like(0.0, DType::F32)?);
    let ok = spot_check(&read(&f()?)?, 1024, 0.0, |i| x.host[i]);
    let t = m.device_time(|| f()?.realize().map(drop))?;
    Ok(row("copy", "", "GB/s", gbs(8 * n, t.seconds), t.seconds, t.kernels, ok))
}
