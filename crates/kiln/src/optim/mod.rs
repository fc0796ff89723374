//! Optimisers: [`SGD`] (momentum, Nesterov, weight decay), [`Adam`] and [`AdamW`], and learning-rate
//! schedules.
//!
//! `step()` builds every update as a lazy tensor (under [`crate::no_grad`]), realizes them in one
//! schedule and assigns each into its parameter in place, so the handles a module returned from
//! `parameters()` see the new values. The learning rate is a 0-dim tensor the update kernels read
//! ([`Hyper`]) and Adam's bias corrections come from optimiser state updated with the parameters, so a
//! schedule that changes the rate every step compiles no new kernel, and a jitted training step
//! ([`crate::Jit`]) replays with the rate set before each call and the right step count. (Call
//! `set_lr` outside the jitted function: what the function itself does on the host is not replayed.)

mod adam;
mod hyper;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use schedule::{CosineLr, LrSchedule, StepLr, Warmup};
pub use sgd::SGD;

use crate::error::{Error, Result};
use crate::tensor::Tensor;
pub(crate) use hyper::Hyper;

/// New values for tensors (parameters and optimiser state), applied together.
pub(crate) type Updates = Vec<(Tensor, Tensor)>;

/// Realizes every new value (with `also`, so work they share is done once) and assigns each to its
/// tensor.
pub(crate) fn apply(updates: &Updates, also: &[&Tensor]) -> Result<()> {
    let mut outputs: Vec<&Tensor> = updates.iter().map(|(_, v)| v).collect();
    outputs.extend_from_slice(also);
    Tensor::realize_all(&outputs)?;
    for (target, value) in updates {
        target.assign(value)?;
    }
    Ok(())
}

/// Checks a learning rate or other hyper-parameter.
pub(crate) fn check(op: &'static str, name: &str, value: f64, range: std::ops::RangeInclusive<f64>) -> Result<()> {
    if value.is_finite() && range.contains(&value) {
        Ok(())
    } else {
        Err(Error::Invalid { op, reason: format!("{name} = {value} is outside {range:?}") })
    }
}

/// Marks `params` as requiring gradients; each must be a float tensor.
pub(crate) fn prepare(op: &'static str, params: &[Tensor]) -> Result<()> {
    if let Some(p) = params.iter().find(|p| !p.dtype().is_float()) {
        return Err(Error::DType { op, dtype: p.dtype(), reason: "parameters must be floats".into() });
    }
    for p in params {
        p.set_requires_grad(true);
    }
    Ok(())
}

/// A realized zero tensor like `p` (optimiser state).
pub(crate) fn zeros_like(p: &Tensor) -> Result<Tensor> {
    p.full_like(0.0, p.dtype())?.contiguous()?.realize()
}

/// Methods every optimiser has (inherent, so `opt.step()` needs no trait import).
macro_rules! optimizer_methods {
    ($ty:ty) => {
        impl $ty {
            /// Clears the gradients of every parameter.
            pub fn zero_grad(&self) {
                for p in &self.params {
                    p.zero_grad();
                }
            }

            /// Updates every parameter that has a gradient, in place.
            pub fn step(&mut self) -> crate::Result<()> {
                self.step_with(&[])
            }

            /// [`Self::step`], realizing `also` (a loss, metrics) in the same schedule, so the forward
            /// pass the gradients read is computed once.
            pub fn step_with(&mut self, also: &[&crate::Tensor]) -> crate::Result<()> {
                let updates = crate::no_grad(|| self.updates())?;
                crate::optim::apply(&updates, also)
            }

            /// Sets the learning rate (kernels are not recompiled).
            pub fn set_lr(&mut self, lr: f64) {
                self.lr.set(lr);
            }

            /// The learning rate.
            pub fn lr(&self) -> f64 {
                self.lr.get()
            }

            /// The parameters (handles sharing storage with the module they came from).
            pub fn parameters(&self) -> &[crate::Tensor] {
                &self.params
            }
        }
    };
}
pub(crate) use optimizer_methods;
