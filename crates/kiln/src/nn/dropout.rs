//! `Dropout`: while training, zeroes each element with probability `p` and scales the rest by
//! `1 / (1 - p)`; in evaluation, the identity.

use super::module::inherent_module;
use super::Module;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use kiln_uop::DType;
use std::sync::atomic::{AtomicBool, Ordering};

/// Random zeroing of elements (training only).
pub struct Dropout {
    p: f64,
    training: AtomicBool,
}

impl Dropout {
    /// Drops with probability `p` in `[0, 1)`; starts in training mode.
    pub fn new(p: f64) -> Result<Dropout> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Invalid { op: "Dropout", reason: format!("p = {p} is outside [0, 1)") });
        }
        Ok(Dropout { p, training: AtomicBool::new(true) })
    }

    /// Switches between dropping (training) and the identity (evaluation).
    pub fn set_training(&self, training: bool) {
        Module::set_training(self, training);
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training.load(Ordering::Relaxed) || self.p == 0.0 {
            return Ok(x.clone());
        }
        let keep = Tensor::rand(&x.shape(), DType::F32)?.to(&x.device())?.ge(&x.full_like(self.p, DType::F32)?)?;
        keep.where_(&(x * (1.0 / (1.0 - self.p)))?, &x.full_like(0.0, x.dtype())?)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}

inherent_module!(Dropout);
