//! `Embedding`: rows of a table picked by integer indices, written as a one-hot matrix product so that
//! its gradient is an ordinary graph (a sum of the output gradient per index).

use super::module::inherent_module;
use super::Module;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use kiln_uop::DType;

/// A lookup table of `vocab` vectors of size `dim`.
pub struct Embedding {
    /// `[vocab, dim]`.
    pub weight: Tensor,
    /// `0..vocab` as i32, compared with the indices.
    positions: Tensor,
}

impl Embedding {
    /// `vocab` vectors of size `dim`, standard normal (as PyTorch).
    pub fn new(vocab: usize, dim: usize) -> Result<Embedding> {
        let weight = Tensor::randn(&[vocab, dim], DType::F32)?;
        let positions = Tensor::arange(0.0, vocab as f64, 1.0, DType::I32)?;
        Ok(Embedding { weight, positions })
    }
}

impl Module for Embedding {
    /// Integer indices of any shape `[...]` to vectors `[..., dim]`. An index outside the table gives a
    /// zero vector.
    fn forward(&self, idx: &Tensor) -> Result<Tensor> {
        if !idx.dtype().is_int() {
            return Err(Error::DType {
                op: "Embedding",
                dtype: idx.dtype(),
                reason: "indices must be integers".into(),
            });
        }
        let one_hot = idx.cast(DType::I32)?.unsqueeze(-1)?.eq(&self.positions)?.cast(self.weight.dtype())?;
        one_hot.matmul(&self.weight)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.clone())]
    }
}

inherent_module!(Embedding);
