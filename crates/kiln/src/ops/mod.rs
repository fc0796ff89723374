//! Tensor operations, by kind: elementwise math, reductions, movement, and composite nn ops.
//! Shared here: axis normalisation, broadcasting and dtype promotion.

mod elementwise;
mod movement;
mod nn;
mod operators;
mod reduce;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Resolves a possibly negative `axis` of a tensor with `ndim` dims.
pub(crate) fn normalize_axis(op: &'static str, axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if (0..n).contains(&a) {
        Ok(a as usize)
    } else {
        Err(Error::Axis { op, axis, ndim })
    }
}

/// The broadcast shape of `a` and `b` (numpy rules).
pub(crate) fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, n - s.len()).chain(s.iter().copied()).collect() };
    let (pa, pb) = (pad(a), pad(b));
    pa.iter()
        .zip(&pb)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (1, _) => Ok(y),
            (_, 1) => Ok(x),
            _ => Err(Error::Shape { op, lhs: a.to_vec(), rhs: b.to_vec() }),
        })
        .collect()
}

impl Tensor {
    /// `self` broadcast to `shape` (which must be a broadcast of its shape).
    pub(crate) fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let mine = self.shape();
        if mine == shape {
            return Ok(self.clone());
        }
        let mut padded: Vec<usize> = vec![1; shape.len().saturating_sub(mine.len())];
        padded.extend(&mine);
        let t = if padded == mine { self.clone() } else { self.reshape_usize(&padded)? };
        t.expand_usize(shape)
    }

    pub(crate) fn check_device(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.device() == other.device() {
            Ok(())
        } else {
            Err(Error::DeviceMismatch { op, lhs: self.device().name(), rhs: other.device().name() })
        }
    }
}
