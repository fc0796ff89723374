//! Autograd as graph rewrites: the gradient of a tensor is a lazy tensor whose graph is built from the
//! forward graph by one rule per op (`rules.rs`), so it is scheduled (and fused) like any other graph,
//! together with the forward pass when both are realized at once.
//!
//! Gradients are taken with respect to the graphs tensors stand for: a realized tensor is a leaf (its
//! buffer), a lazy one is its graph. Tensors built under [`no_grad`] are constants to autograd (their
//! graph is a stop; an equal graph built outside `no_grad` is the same node, so it stops there too). [`Tensor::backward`] fills the `.grad()` of every tensor marked with
//! [`Tensor::set_requires_grad`] that the output depends on; it must run before the output is realized,
//! since realizing lets go of the graph.

mod rules;
mod uops;
mod walk;

use crate::error::{Error, Result};
use crate::realize::{reach, Reached};
use crate::tensor::{buffer_view, Tensor};
use kiln_uop::{Arg, Op, UOp};
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

thread_local! {
    static NO_GRAD_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether tensors built now record their graph for autograd (false inside [`no_grad`]).
pub(crate) fn recording() -> bool {
    NO_GRAD_DEPTH.with(Cell::get) == 0
}

/// Runs `f` without recording: tensors it builds (on this thread) are constants to autograd, as
/// `torch.no_grad`. Optimisers build their updates this way.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            NO_GRAD_DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    NO_GRAD_DEPTH.with(|d| d.set(d.get() + 1));
    let _restore = Restore;
    f()
}

impl Tensor {
    /// Marks (or unmarks) this tensor as a leaf whose gradient [`Tensor::backward`] collects. Mark
    /// realized tensors (parameters): a lazy tensor's graph may be shared with an equal one.
    pub fn set_requires_grad(&self, requires_grad: bool) {
        self.state().requires_grad = requires_grad;
    }

    /// Whether [`Tensor::backward`] collects this tensor's gradient.
    pub fn requires_grad(&self) -> bool {
        self.state().requires_grad
    }

    /// The gradient collected by [`Tensor::backward`] (summed over calls until cleared).
    pub fn grad(&self) -> Option<Tensor> {
        self.state().grad.clone()
    }

    /// Clears the collected gradient.
    pub fn zero_grad(&self) {
        self.state().grad = None;
    }

    /// The gradients of this one-element tensor with respect to each of `targets` (tinygrad's
    /// `Tensor.gradient`), as lazy tensors. A target the output reads only through steps (comparisons,
    /// integer casts) has a zero gradient; a target that is not in the output's graph is an error.
    pub fn gradient(&self, targets: &[&Tensor]) -> Result<Vec<Tensor>> {
        let reached = self.reached_graph()?;
        let grads = self.gradients_in(&reached, targets)?;
        let mut in_graph: Option<HashSet<UOp>> = None;
        let mut out = Vec::with_capacity(targets.len());
        for (i, (g, t)) in grads.into_iter().zip(targets).enumerate() {
            if let Some(g) = g {
                out.push(g);
                continue;
            }
            let nodes =
                in_graph.get_or_insert_with(|| self.uop().substitute(&reached.became).toposort().into_iter().collect());
            if !nodes.contains(&t.uop().substitute(&reached.became)) {
                return Err(Error::Invalid {
                    op: "gradient",
                    reason: format!("target {i} (shape {:?}) is not used to compute the output", t.shape()),
                });
            }
            out.push(t.full_like(0.0, t.dtype())?);
        }
        Ok(out)
    }

    /// Computes the gradient of this one-element tensor with respect to every tensor marked
    /// [`Tensor::set_requires_grad`] that it depends on, and adds it to their [`Tensor::grad`].
    pub fn backward(&self) -> Result<()> {
        let reached = self.reached_graph()?;
        let leaves: Vec<Tensor> = reached.tensors.iter().filter(|t| t.requires_grad()).cloned().collect();
        if leaves.is_empty() {
            return Err(Error::Invalid {
                op: "backward",
                reason: "the output does not depend on any tensor that requires grad".into(),
            });
        }
        let refs: Vec<&Tensor> = leaves.iter().collect();
        for (leaf, g) in leaves.iter().zip(self.gradients_in(&reached, &refs)?) {
            let Some(g) = g else { continue };
            let total = match leaf.grad() {
                Some(prev) => prev.add(&g)?,
                None => g,
            };
            leaf.state().grad = Some(total);
        }
        Ok(())
    }

    /// The graph behind this output, checked to be differentiable.
    fn reached_graph(&self) -> Result<Reached> {
        if self.numel() != 1 {
            return Err(Error::Invalid {
                op: "gradient",
                reason: format!("the output must hold one element, it has shape {:?}", self.shape()),
            });
        }
        if !self.dtype().is_float() {
            return Err(Error::DType {
                op: "gradient",
                dtype: self.dtype(),
                reason: "the output must be a float".into(),
            });
        }
        if self.state().buffer.is_some() {
            return Err(Error::Invalid {
                op: "gradient",
                reason: "the output is realized, so its graph is gone; take gradients before realizing it".into(),
            });
        }
        Ok(reach(&[self]))
    }

    /// The gradient of this output with respect to each target (`None` where it does not depend on it).
    fn gradients_in(&self, reached: &Reached, targets: &[&Tensor]) -> Result<Vec<Option<Tensor>>> {
        let became = &reached.became;
        let root = self.uop().substitute(became);
        let target_uops: Vec<UOp> = targets.iter().map(|t| t.uop().substitute(became)).collect();
        let stops: HashSet<UOp> =
            reached.tensors.iter().filter(|t| t.state().detached).map(|t| t.uop().substitute(became)).collect();
        let wanted: HashSet<UOp> = target_uops.iter().cloned().collect();
        let grads = walk::compute(&root, uops::full_like(&root, 1.0), &wanted, &stops)?;
        target_uops
            .iter()
            .zip(targets)
            .map(|(u, t)| grads.get(u).map(|g| self.holding(reached, g.cast(t.dtype()))).transpose())
            .collect()
    }

    /// A lazy tensor for the gradient graph `g`, holding the buffers it reads. It holds them through
    /// tensors of its own, not the leaves themselves: a gradient stored in its leaf's `grad` must not
    /// keep that leaf alive, and an `assign` to a leaf must not change what its gradient reads.
    fn holding(&self, reached: &Reached, g: UOp) -> Result<Tensor> {
        let mut sources = Vec::new();
        for u in g.toposort() {
            if let (Op::Buffer, Arg::Buffer { id, numel }) = (u.op(), u.arg()) {
                let buffer = reached.buffers.get(id).ok_or(kiln_runtime::RuntimeError::MissingBuffer(*id))?;
                let holder = Tensor::lazy(&self.0.device, buffer_view(*id, u.dtype(), &[*numel]), vec![]);
                holder.state().buffer = Some((*id, Arc::clone(buffer)));
                sources.push(holder);
            }
        }
        Ok(Tensor::lazy(&self.0.device, g, sources))
    }
}

#[cfg(test)]
mod tests;
