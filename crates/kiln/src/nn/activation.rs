//! Activation modules (`GELU`, `SiLU`) and `Tensor::silu`.

use super::module::inherent_module;
use super::Module;
use crate::error::Result;
use crate::tensor::Tensor;

impl Tensor {
    /// `x * sigmoid(x)` (also called swish).
    pub fn silu(&self) -> Result<Tensor> {
        self.mul(&self.sigmoid()?)
    }
}

/// GELU with the tanh approximation ([`Tensor::gelu`]).
pub struct GELU;

impl Module for GELU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.gelu()
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
}

inherent_module!(GELU);

/// SiLU ([`Tensor::silu`]).
pub struct SiLU;

impl Module for SiLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.silu()
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
}

inherent_module!(SiLU);
