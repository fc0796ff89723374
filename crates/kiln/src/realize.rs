//! Realization: schedule the graphs of several tensors together, run the kernels on their device, and
//! bind each tensor to its buffer. Also reading data back (`to_vec`).

use crate::element::Element;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use kiln_runtime::{debug_level, prepare, Buffer};
use kiln_schedule::BufferRef;
use kiln_uop::{UOp, WeakUOp};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

impl Tensor {
    /// Computes this tensor (if it is not yet) and returns it.
    pub fn realize(&self) -> Result<Tensor> {
        Tensor::realize_all(&[self])?;
        Ok(self.clone())
    }

    /// Computes several tensors in one schedule, so shared work is done once (and independent
    /// elementwise outputs of one shape share a kernel).
    pub fn realize_all(tensors: &[&Tensor]) -> Result<()> {
        let pending: Vec<&Tensor> = tensors.iter().copied().filter(|t| t.state().buffer.is_none()).collect();
        let Some(first) = pending.first() else { return Ok(()) };
        let device = first.device();
        if let Some(other) = pending.iter().find(|t| t.device() != device) {
            return Err(Error::DeviceMismatch { op: "realize_all", lhs: device.name(), rhs: other.device().name() });
        }
        let Reached { buffers: inputs, became, tensors } = reach(&pending);
        crate::jit::record_reads(&tensors);
        let roots: Vec<_> = pending.iter().map(|t| t.uop().substitute(&became)).collect();
        let t0 = Instant::now();
        let schedule = kiln_schedule::schedule(&roots)?;
        let schedule_time = t0.elapsed();
        if debug_level() >= 2 {
            eprintln!(
                "*** schedule {:.3} ms: {} kernels for {} outputs",
                schedule_time.as_secs_f64() * 1e3,
                schedule.kernels.len(),
                roots.len()
            );
        }
        let mut plan = prepare(&device.0, &schedule, &inputs)?;
        plan.run()?;
        kiln_runtime::record_phases(schedule_time, &plan.times());
        for (t, out) in pending.iter().zip(&schedule.outputs) {
            match out {
                BufferRef::New(i) => t.set_realized(Tensor::fresh_buffer_id(), Arc::clone(&plan.buffers()[*i])),
                BufferRef::Input(id) => {
                    let buffer = inputs.get(id).ok_or(kiln_runtime::RuntimeError::MissingBuffer(*id))?;
                    t.set_realized(*id, Arc::clone(buffer));
                }
            }
        }
        crate::jit::record_plan(plan);
        Ok(())
    }

    /// Forces a realization point: the result is materialised in its own buffer.
    pub fn contiguous(&self) -> Result<Tensor> {
        let u = self.uop();
        Ok(self.derive(kiln_uop::UOp::new(kiln_uop::Op::Contiguous, u.dtype(), vec![u], kiln_uop::Arg::None), &[]))
    }

    /// The raw bytes of the realized tensor, row-major.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        // Realized tensors always hold a row-major view of their buffer.
        self.realize()?;
        let t = self;
        let buffer = t.state().buffer.as_ref().map(|(_, b)| Arc::clone(b));
        let buffer = buffer
            .ok_or_else(|| Error::Invalid { op: "to_vec", reason: "tensor has no buffer after realize".into() })?;
        let mut bytes = buffer.to_host()?;
        bytes.truncate(t.numel() * t.dtype().size());
        Ok(bytes)
    }

    /// Realizes the tensor and copies it to the host, row-major. `T` must match the dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(Error::DType {
                op: "to_vec",
                dtype: self.dtype(),
                reason: format!("requested elements of type {}; cast the tensor first", T::DTYPE),
            });
        }
        let bytes = self.to_bytes()?;
        Ok(bytes.chunks_exact(T::DTYPE.size()).map(T::read_bytes).collect())
    }
}

/// What a walk over the tensors behind some graphs finds.
pub(crate) struct Reached {
    /// Buffers of every realized tensor reachable through `sources` (and the values they held before an
    /// `assign`, while a pending graph reads them), by buffer id.
    pub(crate) buffers: HashMap<u64, Arc<Buffer>>,
    /// For each realized tensor that a pending graph may still contain, the graph it stood for mapped to
    /// a view of its buffer.
    pub(crate) became: HashMap<UOp, UOp>,
    /// Every tensor visited, each once.
    pub(crate) tensors: Vec<Tensor>,
}

/// Walks the tensors behind `tensors` (iteratively) and collects what realizing or differentiating their
/// graphs needs.
///
/// Each tensor's state is read once under its lock, so a tensor that another thread realizes meanwhile
/// is seen either pending (its sources are collected) or realized (its buffer replaces its old graph):
/// both give a graph whose every buffer is in the map.
pub(crate) fn reach(tensors: &[&Tensor]) -> Reached {
    let mut reached = Reached { buffers: HashMap::new(), became: HashMap::new(), tensors: Vec::new() };
    let mut stack: Vec<Tensor> = tensors.iter().map(|t| (*t).clone()).collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(Arc::as_ptr(&t.0)) {
            continue;
        }
        let mut state = t.state();
        if let Some((id, b)) = &state.buffer {
            reached.buffers.insert(*id, Arc::clone(b));
            if let Some(before) = state.became.as_ref().and_then(WeakUOp::upgrade) {
                reached.became.insert(before, state.uop.clone());
            }
        }
        state.retired.retain(crate::assign::Retired::in_use);
        for r in &state.retired {
            r.collect(&mut reached.buffers, &mut reached.became);
        }
        stack.extend(state.sources.iter().cloned());
        drop(state);
        reached.tensors.push(t);
    }
    reached
}
