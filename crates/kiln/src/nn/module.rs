//! The [`Module`] trait (forward, named parameters and buffers, state dicts) and the macro that gives
//! every module the same methods inherently, so `layer.forward(&x)` needs no trait import.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A layer or model: a forward function and named tensors.
pub trait Module: Send + Sync {
    /// The output for input `x`.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// Trainable tensors, by name (PyTorch's names: `weight`, `bias`, `0.weight` inside a
    /// [`super::Sequential`]).
    fn named_parameters(&self) -> Vec<(String, Tensor)>;

    /// State that is saved but not trained (running statistics), by name.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Switches between training and evaluation behaviour (dropout, batch statistics).
    fn set_training(&self, _training: bool) {}

    /// The trainable tensors.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters().into_iter().map(|(_, t)| t).collect()
    }

    /// Parameters and buffers, by name.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut all = self.named_parameters();
        all.extend(self.named_buffers());
        all
    }

    /// Assigns each tensor of `state` to the parameter or buffer of its name, in place. Every entry of
    /// the module must be present with its shape; extra entries are errors too. Dtypes are converted.
    fn load_state_dict(&self, state: &[(String, Tensor)]) -> Result<()> {
        let mine = self.state_dict();
        if let Some((name, _)) = state.iter().find(|(n, _)| !mine.iter().any(|(m, _)| m == n)) {
            return Err(Error::StateDict { name: name.clone(), reason: "the module has no such entry".into() });
        }
        for (name, target) in &mine {
            let (_, value) = state
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| Error::StateDict { name: name.clone(), reason: "missing from the state dict".into() })?;
            if value.shape() != target.shape() {
                let reason = format!("shape {:?} does not match the module's {:?}", value.shape(), target.shape());
                return Err(Error::StateDict { name: name.clone(), reason });
            }
            target.assign(&value.to(&target.device())?.cast(target.dtype())?)?;
        }
        Ok(())
    }
}

/// Entries of a sub-module under `prefix.`.
pub(crate) fn prefixed(prefix: &str, entries: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    entries.into_iter().map(|(n, t)| (format!("{prefix}.{n}"), t)).collect()
}

/// Inherent `forward`, `parameters`, `state_dict` and `load_state_dict` for a [`Module`].
macro_rules! inherent_module {
    ($ty:ty) => {
        impl $ty {
            /// The output for input `x`.
            pub fn forward(&self, x: &crate::Tensor) -> crate::Result<crate::Tensor> {
                crate::nn::Module::forward(self, x)
            }
            /// The trainable tensors (sharing storage with the module).
            pub fn parameters(&self) -> Vec<crate::Tensor> {
                crate::nn::Module::parameters(self)
            }
            /// Parameters and buffers, by name.
            pub fn state_dict(&self) -> Vec<(String, crate::Tensor)> {
                crate::nn::Module::state_dict(self)
            }
            /// Assigns a state dict in place (see [`crate::nn::Module::load_state_dict`]).
            pub fn load_state_dict(&self, state: &[(String, crate::Tensor)]) -> crate::Result<()> {
                crate::nn::Module::load_state_dict(self, state)
            }
        }
    };
}
pub(crate) use inherent_module;
