//! `Sequential`: modules applied in order, named `0`, `1`, ... in state dicts (as PyTorch).

use super::module::{inherent_module, prefixed};
use super::Module;
use crate::error::Result;
use crate::tensor::Tensor;

/// A chain of modules.
pub struct Sequential(pub Vec<Box<dyn Module>>);

impl Sequential {
    /// The chain of `layers`.
    pub fn new(layers: Vec<Box<dyn Module>>) -> Sequential {
        Sequential(layers)
    }

    /// Switches every layer between training and evaluation.
    pub fn set_training(&self, training: bool) {
        Module::set_training(self, training);
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        for layer in &self.0 {
            y = layer.forward(&y)?;
        }
        Ok(y)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.0.iter().enumerate().flat_map(|(i, l)| prefixed(&i.to_string(), l.named_parameters())).collect()
    }

    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        self.0.iter().enumerate().flat_map(|(i, l)| prefixed(&i.to_string(), l.named_buffers())).collect()
    }

    fn set_training(&self, training: bool) {
        for layer in &self.0 {
            layer.set_training(training);
        }
    }
}

inherent_module!(Sequential);
