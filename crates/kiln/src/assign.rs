//! `Tensor::assign`: gives a tensor a new value in place, so every handle to it (a module's parameter
//! and the optimiser's copy of it) sees the update.
//!
//! Buffers are never written after they are computed: assigning realizes the new value and swaps its
//! buffer into the tensor. Graphs built from the old value still name the old buffer (and, if the tensor
//! was lazy, its old graph); the tensor keeps each old buffer as a [`Retired`] entry for as long as some
//! graph refers to it, which realization finds when it walks the tensor, so those graphs keep computing
//! with the value they were built from.

use crate::error::{Error, Result};
use crate::tensor::{buffer_view, Tensor};
use kiln_runtime::Buffer;
use kiln_uop::{DType, Op, UOp, WeakUOp};
use std::collections::HashMap;
use std::sync::Arc;

/// A value a tensor held before an assign, kept while a pending graph may read it.
pub(crate) struct Retired {
    id: u64,
    buffer: Arc<Buffer>,
    dtype: DType,
    shape: Vec<usize>,
    /// The `Op::Buffer` node of the old buffer: alive exactly while some graph reads the old buffer.
    node: WeakUOp,
    /// The graph the tensor stood for before its old buffer was computed, if a graph still holds it.
    became: Option<WeakUOp>,
}

impl Retired {
    /// Whether any graph may still read this value.
    pub(crate) fn in_use(&self) -> bool {
        self.node.upgrade().is_some() || self.became.as_ref().and_then(WeakUOp::upgrade).is_some()
    }

    /// Adds the old buffer, and the substitution of the old graph by a view of it, to what a
    /// realization needs.
    pub(crate) fn collect(&self, buffers: &mut HashMap<u64, Arc<Buffer>>, became: &mut HashMap<UOp, UOp>) {
        buffers.insert(self.id, Arc::clone(&self.buffer));
        if let Some(before) = self.became.as_ref().and_then(WeakUOp::upgrade) {
            became.insert(before, buffer_view(self.id, self.dtype, &self.shape));
        }
    }
}

fn shape_of(uop: &UOp) -> Vec<usize> {
    uop.shape().unwrap_or_default().to_vec()
}

/// The `Op::Buffer` node under a realized tensor's view.
fn buffer_node(view: &UOp) -> UOp {
    match view.op() {
        Op::Reshape => view.src()[0].clone(),
        _ => view.clone(),
    }
}

impl Tensor {
    /// Replaces this tensor's value with `value` (same shape, dtype and device), in place: every clone
    /// of this tensor sees the new value. `value` is realized (with `self`, if `self` is still lazy).
    /// Graphs built from the old value are not affected: they keep reading the old value.
    pub fn assign(&self, value: &Tensor) -> Result<()> {
        self.check_device("assign", value)?;
        if self.shape() != value.shape() {
            return Err(Error::Shape { op: "assign", lhs: self.shape(), rhs: value.shape() });
        }
        if self.dtype() != value.dtype() {
            return Err(Error::DType {
                op: "assign",
                dtype: value.dtype(),
                reason: format!("the target holds {}", self.dtype()),
            });
        }
        if Arc::ptr_eq(&self.0, &value.0) {
            return Ok(());
        }
        Tensor::realize_all(&[self, value])?;
        let buffer =
            value.state().buffer.as_ref().map(|(_, b)| Arc::clone(b)).ok_or_else(|| Error::Invalid {
                op: "assign",
                reason: "the value has no buffer after realize".into(),
            })?;
        self.replace_buffer(buffer);
        Ok(())
    }

    /// Makes `buffer` this tensor's value, keeping the old one as [`Retired`] while graphs read it.
    pub(crate) fn replace_buffer(&self, buffer: Arc<Buffer>) {
        let mut state = self.state();
        crate::jit::record_assign(self);
        let id = Tensor::fresh_buffer_id();
        let view = buffer_view(id, state.uop.dtype(), &shape_of(&state.uop));
        let old_view = std::mem::replace(&mut state.uop, view);
        let old_became = state.became.take();
        if let Some((old_id, old_buffer)) = state.buffer.replace((id, buffer)) {
            let retired = Retired {
                id: old_id,
                buffer: old_buffer,
                dtype: old_view.dtype(),
                shape: shape_of(&old_view),
                node: buffer_node(&old_view).downgrade(),
                became: old_became,
            };
            drop(old_view);
            state.retired.push(retired);
        }
        state.retired.retain(Retired::in_use);
    }
}

#[cfg(test)]
mod tests {
    use crate::{Device, Tensor};

    fn cpu() -> Device {
        Device::cpu().unwrap()
    }

    #[test]
    fn assign_updates_every_handle_and_spares_older_graphs() -> crate::Result<()> {
        let d = cpu();
        let p = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &d)?;
        let handle = p.clone();
        let before = (&p * 10.0)?;
        let lazy_sum = p.add(&p)?;
        p.assign(&(&p + 1.0)?)?;
        assert_eq!(handle.to_vec::<f32>()?, vec![2.0, 3.0]);
        // Built from the old value, realized after the assign: they still see the old value.
        assert_eq!(before.to_vec::<f32>()?, vec![10.0, 20.0]);
        assert_eq!(lazy_sum.to_vec::<f32>()?, vec![2.0, 4.0]);
        assert_eq!((&p * 10.0)?.to_vec::<f32>()?, vec![20.0, 30.0]);
        Ok(())
    }

    #[test]
    fn assigning_a_lazy_tensor_keeps_graphs_of_its_old_graph() -> crate::Result<()> {
        let d = cpu();
        let a = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &d)?;
        let lazy = (&a * 3.0)?;
        let child = (&lazy + 1.0)?;
        lazy.assign(&Tensor::from_slice_on(&[7.0f32, 8.0], &[2], &d)?)?;
        assert_eq!(child.to_vec::<f32>()?, vec![4.0, 7.0]);
        assert_eq!(lazy.to_vec::<f32>()?, vec![7.0, 8.0]);
        Ok(())
    }

    #[test]
    fn old_values_are_released_once_no_graph_reads_them() -> crate::Result<()> {
        let d = cpu();
        let p = Tensor::from_slice_on(&[1.0f32; 4], &[4], &d)?;
        for _ in 0..20 {
            p.assign(&(&p * 0.5)?)?;
        }
        assert!(p.state().retired.is_empty(), "no graph reads the old values");
        assert_eq!(p.to_vec::<f32>()?, vec![0.5f32.powi(20); 4]);
        Ok(())
    }

    #[test]
    fn mismatched_assign_is_an_error() -> crate::Result<()> {
        let d = cpu();
        let p = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &d)?;
        assert!(p.assign(&Tensor::from_slice_on(&[1.0f32; 3], &[3], &d)?).is_err());
        assert!(p.assign(&Tensor::from_slice_on(&[1i32, 2], &[2], &d)?).is_err());
        Ok(())
    }
}
