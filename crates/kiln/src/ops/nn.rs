//! Composite ops built from the primitives: matmul (a reduce over a broadcast product, so the compiler
//! sees it), softmax, log_softmax, layernorm.

use crate::error::{Error, Result};
use crate::ops::normalize_axis;
use crate::size;
use crate::tensor::Tensor;
use kiln_uop::DType;

impl Tensor {
    /// Matrix product over the last dim of `self` and the second-to-last of `other` (1-D operands are
    /// promoted like `torch.matmul`; leading dims broadcast).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a_shape, b_shape) = (self.shape(), other.shape());
        if a_shape.is_empty() || b_shape.is_empty() {
            return Err(Error::Shape { op: "matmul", lhs: a_shape, rhs: b_shape });
        }
        let a = if a_shape.len() == 1 { self.unsqueeze(0)? } else { self.clone() };
        let b = if b_shape.len() == 1 { other.unsqueeze(1)? } else { other.clone() };
        let (sa, sb) = (a.shape(), b.shape());
        let (n, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let (k2, m) = (sb[sb.len() - 2], sb[sb.len() - 1]);
        if k != k2 {
            return Err(Error::Shape { op: "matmul", lhs: a_shape, rhs: b_shape });
        }
        let batch = crate::ops::broadcast_shape("matmul", &sa[..sa.len() - 2], &sb[..sb.len() - 2])
            .map_err(|_| Error::Shape { op: "matmul", lhs: a_shape.clone(), rhs: b_shape.clone() })?;
        let full = |tail: &[usize]| -> Vec<usize> { batch.iter().chain(tail).copied().collect() };
        // a: [..., n, 1, k], b^T: [..., 1, m, k]; product [..., n, m, k] summed over k.
        let a = a.unsqueeze(-2)?.broadcast_to(&full(&[n, m, k]))?;
        let bt = b.transpose(-1, -2)?.unsqueeze(-3)?.broadcast_to(&full(&[n, m, k]))?;
        let mut out = a.mul(&bt)?.sum(&[-1], false)?;
        if a_shape.len() == 1 {
            out = out.squeeze(-2)?;
        }
        if b_shape.len() == 1 {
            out = out.squeeze(-1)?;
        }
        Ok(out)
    }

    /// `exp(x - max) / sum(exp(x - max))` along `axis`.
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.cast(DType::F32)? };
        let a = normalize_axis("softmax", axis, x.ndim())? as isize;
        let e = x.sub(&x.max(&[a], true)?)?.exp()?;
        e.div(&e.sum(&[a], true)?)
    }

    /// `x - max - log(sum(exp(x - max)))` along `axis`.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.cast(DType::F32)? };
        let a = normalize_axis("log_softmax", axis, x.ndim())? as isize;
        let shifted = x.sub(&x.max(&[a], true)?)?;
        shifted.sub(&shifted.exp()?.sum(&[a], true)?.log()?)
    }

    /// Normalises over `axis` to zero mean and unit variance: `(x - mean) / sqrt(var + eps)`
    /// (biased variance, as `torch.nn.LayerNorm`; multiply by a weight and add a bias after).
    pub fn layernorm(&self, axis: isize, eps: f64) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.cast(DType::F32)? };
        let a = normalize_axis("layernorm", axis, x.ndim())? as isize;
        let centered = x.sub(&x.mean(&[a], true)?)?;
        let var = centered.square()?.mean(&[a], true)?;
        centered.mul(&var.add(&var.scalar(eps, var.dtype())?)?.rsqrt()?)
    }
}

/// The most window taps `conv2d` writes out as terms of its sum.
const MAX_CONV_TAPS: usize = 4096;

impl Tensor {
    /// 2-D convolution of an NCHW input with an `[out, in, kh, kw]` weight (PyTorch's `conv2d`
    /// without groups or dilation). Built as a sum over the kernel window of shifted channel
    /// contractions, which the scheduler fuses into one kernel.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, stride: usize, padding: usize) -> Result<Tensor> {
        let (xs, ws) = (self.shape(), weight.shape());
        let bad = || Error::Shape { op: "conv2d", lhs: xs.clone(), rhs: ws.clone() };
        let [n, c, h, w] = <[usize; 4]>::try_from(xs.clone()).map_err(|_| bad())?;
        let [o, c2, kh, kw] = <[usize; 4]>::try_from(ws.clone()).map_err(|_| bad())?;
        let both_sides = size::add_dim("conv2d", &xs, padding, padding)?;
        let (hp, wp) = (size::add_dim("conv2d", &xs, h, both_sides)?, size::add_dim("conv2d", &xs, w, both_sides)?);
        if c != c2 || hp < kh || wp < kw || kh == 0 || kw == 0 {
            return Err(bad());
        }
        if stride == 0 {
            return Err(Error::Invalid { op: "conv2d", reason: "stride 0".into() });
        }
        if kh.saturating_mul(kw) > MAX_CONV_TAPS {
            return Err(Error::Invalid {
                op: "conv2d",
                reason: format!("a {kh}x{kw} window has more than {MAX_CONV_TAPS} taps (each is a term of the sum)"),
            });
        }
        size::add_dim("conv2d", &xs, both_sides, stride)?;
        let (oh, ow) = ((hp - kh) / stride + 1, (wp - kw) / stride + 1);
        // Extra `stride` on the far side lets every strided window be cut as `stride * out` long.
        let xp = self.pad(&[(0, 0), (0, 0), (padding, padding + stride), (padding, padding + stride)])?;
        let mut out: Option<Tensor> = None;
        for i in 0..kh {
            for j in 0..kw {
                let mut win = xp.shrink(&[(0, n), (0, c), (i, i + stride * oh), (j, j + stride * ow)])?;
                if stride > 1 {
                    win = win
                        .reshape_usize(&[n, c, oh, stride, ow, stride])?
                        .shrink(&[(0, n), (0, c), (0, oh), (0, 1), (0, ow), (0, 1)])?
                        .reshape_usize(&[n, c, oh, ow])?;
                }
                let tap = weight.shrink(&[(0, o), (0, c), (i, i + 1), (j, j + 1)])?.reshape_usize(&[1, o, c, 1, 1])?;
                let term = win.reshape_usize(&[n, 1, c, oh, ow])?.mul(&tap)?.sum(&[2], false)?;
                out = Some(match out {
                    Some(acc) => acc.add(&term)?,
                    None => term,
                });
            }
        }
        let out = out.ok_or_else(bad)?;
        match bias {
            Some(b) if b.shape() == [o] => out.add(&b.reshape_usize(&[1, o, 1, 1])?),
            Some(b) => Err(Error::Shape { op: "conv2d bias", lhs: b.shape(), rhs: vec![o] }),
            None => Ok(out),
        }
    }

    /// `softmax(q k^T / sqrt(d)) v` over the last two dims (`self` is the query), with an optional
    /// causal mask (query i attends to keys 0..=i). Written out, so the compiler sees every step.
    pub fn scaled_dot_product_attention(&self, key: &Tensor, value: &Tensor, is_causal: bool) -> Result<Tensor> {
        let (qs, ks) = (self.shape(), key.shape());
        if qs.len() < 2 || ks.len() < 2 || qs[qs.len() - 1] != ks[ks.len() - 1] {
            return Err(Error::Shape { op: "scaled_dot_product_attention", lhs: qs, rhs: ks });
        }
        let (t, s, d) = (qs[qs.len() - 2], ks[ks.len() - 2], qs[qs.len() - 1]);
        let scores = self.matmul(&key.transpose(-1, -2)?)?;
        let scores = scores.mul(&scores.scalar(1.0 / (d as f64).sqrt(), scores.dtype())?)?;
        let scores = if is_causal {
            let count = size::numel("scaled_dot_product_attention", &[t, s])?;
            let mut mask: Vec<bool> = size::reserve("scaled_dot_product_attention", &[t, s], count)?;
            mask.extend((0..count).map(|k| k % s.max(1) <= k / s.max(1)));
            let mask = Tensor::from_slice_on(&mask, &[t, s], &self.device())?;
            mask.where_(&scores, &scores.scalar(f64::NEG_INFINITY, scores.dtype())?)?
        } else {
            scores
        };
        scores.softmax(-1)?.matmul(value)
    }
}
