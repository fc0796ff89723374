//! Composite ops built from the primitives: matmul (a reduce over a broadcast product, so the compiler
//! sees it), softmax, log_softmax, layernorm.

use crate::error::{Error, Result};
use crate::ops::normalize_axis;
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
