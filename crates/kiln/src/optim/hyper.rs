//! `Hyper`: a per-step number an optimiser's kernels read (the learning rate), kept on each device as
//! a 0-dim f32 tensor. Setting it assigns a new value into that tensor, so no kernel is recompiled and
//! a jitted training step (see [`crate::Jit`]) reads the value set before each call.

use crate::device::Device;
use crate::error::Result;
use crate::tensor::Tensor;

/// A hyper-parameter the host sets and kernels read from a buffer.
pub(crate) struct Hyper {
    value: f64,
    /// The value's tensor on each device an update ran on, and whether it holds `value`.
    tensors: Vec<(Device, Tensor, bool)>,
}

impl Hyper {
    pub(crate) fn new(value: f64) -> Hyper {
        Hyper { value, tensors: Vec::new() }
    }

    pub(crate) fn get(&self) -> f64 {
        self.value
    }

    /// Sets the value and writes it into every tensor made so far (a failed write is retried, as an
    /// error, by the next [`Hyper::tensor`]).
    pub(crate) fn set(&mut self, value: f64) {
        if value == self.value {
            return;
        }
        self.value = value;
        for entry in &mut self.tensors {
            entry.2 = false;
            if let Err(e) = Hyper::write(entry, value) {
                tracing::warn!("setting a hyper-parameter to {value} failed now, will retry at the next step: {e}");
            }
        }
    }

    fn write(entry: &mut (Device, Tensor, bool), value: f64) -> Result<()> {
        if !entry.2 {
            entry.1.assign(&Tensor::from_slice_on(&[value as f32], &[], &entry.0)?)?;
            entry.2 = true;
        }
        Ok(())
    }

    /// The value as a 0-dim f32 tensor on `device`, cast to `dtype` (made on first use).
    pub(crate) fn tensor(&mut self, device: &Device, dtype: kiln_uop::DType) -> Result<Tensor> {
        let at = match self.tensors.iter().position(|(d, _, _)| d == device) {
            Some(at) => at,
            None => {
                let t = Tensor::from_slice_on(&[self.value as f32], &[], device)?;
                self.tensors.push((device.clone(), t, true));
                self.tensors.len() - 1
            }
        };
        let value = self.value;
        let entry = &mut self.tensors[at];
        Hyper::write(entry, value)?;
        entry.1.cast(dtype)
    }
}
