//! Scaled dot-product attention with an optional causal mask and an optional explicit mask.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use kiln_uop::DType;

/// `softmax(q k^T / sqrt(d) + mask) v` over the last two dims. `mask` broadcasts to the scores
/// `[..., t, s]`: a bool mask keeps the positions where it is true, a float mask is added. With
/// `is_causal`, query `i` also sees only keys `0..=i`.
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    is_causal: bool,
) -> Result<Tensor> {
    let Some(mask) = mask else { return q.scaled_dot_product_attention(k, v, is_causal) };
    let (qs, ks) = (q.shape(), k.shape());
    if qs.len() < 2 || ks.len() < 2 || qs[qs.len() - 1] != ks[ks.len() - 1] {
        return Err(Error::Shape { op: "scaled_dot_product_attention", lhs: qs, rhs: ks });
    }
    let d = qs[qs.len() - 1];
    let scores = (&q.matmul(&k.transpose(-1, -2)?)? * (1.0 / (d as f64).sqrt()))?;
    let mut scores = if mask.dtype() == DType::Bool {
        mask.where_(&scores, &scores.full_like(f64::NEG_INFINITY, scores.dtype())?)?
    } else {
        scores.add(mask)?
    };
    if is_causal {
        let (t, s) = (qs[qs.len() - 2], ks[ks.len() - 2]);
        let rows = Tensor::arange(0.0, t as f64, 1.0, DType::I32)?.to(&q.device())?.unsqueeze(-1)?;
        let cols = Tensor::arange(0.0, s as f64, 1.0, DType::I32)?.to(&q.device())?;
        scores = cols.le(&rows)?.where_(&scores, &scores.full_like(f64::NEG_INFINITY, scores.dtype())?)?;
    }
    scores.softmax(-1)?.matmul(v)
}
