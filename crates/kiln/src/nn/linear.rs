//! `Linear`: `y = x W^T + b`, with PyTorch's layout (`weight` is `[out, in]`) and initialisation.

use super::module::inherent_module;
use super::{uniform, Module};
use crate::error::Result;
use crate::tensor::Tensor;

/// A fully connected layer.
pub struct Linear {
    /// `[out, in]`.
    pub weight: Tensor,
    /// `[out]`, if the layer has a bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// `in_features -> out_features` with a bias, uniform in `±1/sqrt(in_features)`.
    pub fn new(in_features: usize, out_features: usize) -> Result<Linear> {
        Linear::with_bias(in_features, out_features, true)
    }

    /// As [`Linear::new`], with or without a bias.
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Result<Linear> {
        let bound = 1.0 / (in_features.max(1) as f64).sqrt();
        let weight = uniform(&[out_features, in_features], bound)?;
        let bias = if bias { Some(uniform(&[out_features], bound)?) } else { None };
        Ok(Linear { weight, bias })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul(&self.weight.transpose(0, 1)?)?;
        match &self.bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        p.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        p
    }
}

inherent_module!(Linear);
