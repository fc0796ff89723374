//! Loss functions.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use kiln_uop::DType;

/// Mean cross-entropy of `logits` `[n, classes]` against integer `labels` `[n]` (log-softmax of the
/// logits picked at each label, negated and averaged).
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let (ls, ys) = (logits.shape(), labels.shape());
    if ls.len() != 2 || ys != [ls[0]] {
        return Err(Error::Shape { op: "cross_entropy", lhs: ls, rhs: ys });
    }
    if !labels.dtype().is_int() {
        return Err(Error::DType { op: "cross_entropy", dtype: labels.dtype(), reason: "labels are integers".into() });
    }
    let classes = Tensor::arange(0.0, ls[1] as f64, 1.0, DType::I32)?.to(&logits.device())?;
    let one_hot = labels.cast(DType::I32)?.unsqueeze(-1)?.eq(&classes)?;
    let logp = logits.log_softmax(-1)?;
    let picked = one_hot.where_(&logp, &logp.full_like(0.0, logp.dtype())?)?.sum(&[-1], false)?;
    picked.mean(&[], false)?.neg()
}
