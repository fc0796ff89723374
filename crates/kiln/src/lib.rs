//! kiln: a lazy tensor library and compiler.
//!
//! Build tensors with a PyTorch-like API; nothing runs until [`Tensor::realize`], [`Tensor::realize_all`]
//! or [`Tensor::to_vec`]. Then the graph is scheduled into kernels, compiled for the tensor's device and
//! launched. Every fallible call returns [`Result`]; bad input (shapes, dtypes, axes) is an error naming
//! the op and the values involved, never a panic.
//!
//! ```
//! use kiln::{Tensor, DType};
//! let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
//! let b = Tensor::ones(&[2, 2], DType::F32)?;
//! let c = (&a + &b)?.sum(&[1], false)?;
//! assert_eq!(c.to_vec::<f32>()?, vec![5.0, 9.0]);
//! # Ok::<(), kiln::Error>(())
//! ```
//!
//! Operators (`&a + &b`, `&a * 2.0`) return `Result<Tensor>` and follow the same broadcasting and
//! promotion rules as the methods they stand for.

mod assign;
mod autograd;
mod device;
mod element;
mod error;
mod jit;
pub mod nn;
mod ops;
pub mod optim;
mod random;
mod realize;
pub mod safetensors;
mod scalar;
mod size;
mod tensor;

pub use autograd::no_grad;
pub use device::Device;
pub use element::Element;
pub use error::{Error, Result};
pub use half;
pub use jit::Jit;
/// A started device timer (see [`Device::start_timer`]).
pub use kiln_runtime::Timer;
pub use kiln_uop::DType;
pub use tensor::Tensor;
