//! Neural-network building blocks: layers with parameters ([`Linear`], [`Conv2d`], [`BatchNorm2d`],
//! [`LayerNorm`], [`RMSNorm`], [`Embedding`]), [`Dropout`], activations ([`GELU`], [`SiLU`]),
//! [`scaled_dot_product_attention`] (causal or masked), [`max_pool2d`], [`cross_entropy`], and
//! [`Sequential`].
//!
//! Every module has `forward(&Tensor) -> Result<Tensor>` and `parameters() -> Vec<Tensor>` (handles
//! sharing storage with the module, which optimisers update in place), and named state dicts
//! (`state_dict`, `load_state_dict`, with PyTorch's names) that [`crate::safetensors`] saves and loads.
//! Parameters are realized tensors on the default device, initialised as PyTorch does.

mod activation;
mod attention;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod loss;
mod module;
mod norm;
mod sequential;

pub use activation::{SiLU, GELU};
pub use attention::scaled_dot_product_attention;
pub use conv::{max_pool2d, Conv2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use loss::cross_entropy;
pub use module::Module;
pub use norm::{BatchNorm2d, LayerNorm, RMSNorm};
pub use sequential::Sequential;

use crate::error::Result;
use crate::tensor::Tensor;
use kiln_uop::DType;

/// A realized f32 parameter of `shape` drawn uniformly from `[-bound, bound)`.
pub(crate) fn uniform(shape: &[usize], bound: f64) -> Result<Tensor> {
    let u = Tensor::rand(shape, DType::F32)?;
    crate::no_grad(|| (&(&u * (2.0 * bound))? - bound)?.contiguous()?.realize())
}

/// A realized f32 parameter of `shape` filled with `value`.
pub(crate) fn filled(shape: &[usize], value: f64) -> Result<Tensor> {
    Tensor::full(shape, value, DType::F32)?.contiguous()?.realize()
}
