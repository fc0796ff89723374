//! Normalisation layers: `BatchNorm2d` (batch statistics while training, running ones in evaluation),
//! `LayerNorm` and `RMSNorm` over the last dim.

use super::module::inherent_module;
use super::{filled, Module};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};

/// Batch normalisation of NCHW inputs per channel, as `torch.nn.BatchNorm2d` (momentum 0.1).
pub struct BatchNorm2d {
    /// Scale per channel.
    pub weight: Tensor,
    /// Shift per channel.
    pub bias: Tensor,
    /// Running mean per channel (a buffer).
    pub running_mean: Tensor,
    /// Running (unbiased) variance per channel (a buffer).
    pub running_var: Tensor,
    eps: f64,
    momentum: f64,
    training: AtomicBool,
}

impl BatchNorm2d {
    /// For `channels` channels, eps 1e-5, in training mode.
    pub fn new(channels: usize) -> Result<BatchNorm2d> {
        Ok(BatchNorm2d {
            weight: filled(&[channels], 1.0)?,
            bias: filled(&[channels], 0.0)?,
            running_mean: filled(&[channels], 0.0)?,
            running_var: filled(&[channels], 1.0)?,
            eps: 1e-5,
            momentum: 0.1,
            training: AtomicBool::new(true),
        })
    }
}

impl Module for BatchNorm2d {
    /// While training, normalises with the batch's statistics and updates the running ones in place
    /// (which realizes the batch statistics); in evaluation, uses the running statistics.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let shape = x.shape();
        let c = self.weight.numel();
        if shape.len() != 4 || shape[1] != c {
            return Err(Error::Shape { op: "BatchNorm2d", lhs: shape, rhs: vec![0, c, 0, 0] });
        }
        let per_channel = |t: &Tensor| t.reshape_usize(&[1, c, 1, 1]);
        let (mean, var) = if self.training.load(Ordering::Relaxed) {
            let mean = x.mean(&[0, 2, 3], true)?;
            let var = x.sub(&mean)?.square()?.mean(&[0, 2, 3], true)?;
            let count = (shape[0] * shape[2] * shape[3]) as f64;
            crate::no_grad(|| -> Result<()> {
                let unbiased = (&var.reshape_usize(&[c])? * (count / (count - 1.0).max(1.0)))?;
                let m = self.momentum;
                self.running_mean
                    .assign(&(&self.running_mean * (1.0 - m))?.add(&(&mean.reshape_usize(&[c])? * m)?)?)?;
                self.running_var.assign(&(&self.running_var * (1.0 - m))?.add(&(&unbiased * m)?)?)
            })?;
            (mean, var)
        } else {
            (per_channel(&self.running_mean)?, per_channel(&self.running_var)?)
        };
        let normed = x.sub(&mean)?.mul(&(&var + self.eps)?.rsqrt()?)?;
        normed.mul(&per_channel(&self.weight)?)?.add(&per_channel(&self.bias)?)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.clone()), ("bias".into(), self.bias.clone())]
    }

    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        vec![("running_mean".into(), self.running_mean.clone()), ("running_var".into(), self.running_var.clone())]
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}

inherent_module!(BatchNorm2d);

impl BatchNorm2d {
    /// Switches between batch statistics (training) and running statistics (evaluation).
    pub fn set_training(&self, training: bool) {
        Module::set_training(self, training);
    }
}

/// Layer normalisation over the last dim with a learned scale and shift.
pub struct LayerNorm {
    /// Scale.
    pub weight: Tensor,
    /// Shift.
    pub bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Over a last dim of size `dim`, eps 1e-5.
    pub fn new(dim: usize) -> Result<LayerNorm> {
        Ok(LayerNorm { weight: filled(&[dim], 1.0)?, bias: filled(&[dim], 0.0)?, eps: 1e-5 })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.layernorm(-1, self.eps)?.mul(&self.weight)?.add(&self.bias)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.clone()), ("bias".into(), self.bias.clone())]
    }
}

inherent_module!(LayerNorm);

/// Root-mean-square normalisation over the last dim: `x / sqrt(mean(x^2) + eps) * weight`.
pub struct RMSNorm {
    /// Scale.
    pub weight: Tensor,
    eps: f64,
}

impl RMSNorm {
    /// Over a last dim of size `dim`, eps 1e-6.
    pub fn new(dim: usize) -> Result<RMSNorm> {
        Ok(RMSNorm { weight: filled(&[dim], 1.0)?, eps: 1e-6 })
    }
}

impl Module for RMSNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let ms = x.square()?.mean(&[-1], true)?;
        x.mul(&(&ms + self.eps)?.rsqrt()?)?.mul(&self.weight)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.clone())]
    }
}

inherent_module!(RMSNorm);
