//! `Tensor`: a lazy value on a device. A tensor holds a UOp graph until it is realized; then it holds a
//! device buffer and a view of it, lets go of the tensors it was computed from, and remembers (weakly)
//! the graph it replaced, so tensors built from it earlier read its buffer instead of recomputing it.

use crate::assign::Retired;
use crate::device::Device;
use crate::element::{f64_as_bytes, Element};
use crate::error::{Error, Result};
use crate::size;
use kiln_runtime::Buffer;
use kiln_uop::{Arg, ConstValue, DType, Op, UOp, WeakUOp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A lazy n-dimensional array. Cloning shares the tensor (like `Rc`), it does not copy data.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) device: Device,
    pub(crate) state: Mutex<State>,
}

pub(crate) struct State {
    /// The graph computing this tensor (a view of `buffer` once realized).
    pub(crate) uop: UOp,
    /// The buffer (and its `Op::Buffer` id) once realized.
    pub(crate) buffer: Option<(u64, Arc<Buffer>)>,
    /// Tensors whose buffers `uop` reads; emptied at realization.
    pub(crate) sources: Vec<Tensor>,
    /// Once realized: the graph this tensor stood for before. It is held weakly: only pending graphs
    /// built from this tensor keep it alive, and realizing them substitutes this tensor's buffer for it.
    pub(crate) became: Option<WeakUOp>,
    /// Values this tensor held before [`Tensor::assign`] replaced them, kept while a pending graph
    /// still reads them.
    pub(crate) retired: Vec<Retired>,
    /// A leaf whose gradient [`Tensor::backward`] collects.
    pub(crate) requires_grad: bool,
    /// The gradient collected by [`Tensor::backward`].
    pub(crate) grad: Option<Tensor>,
    /// Built under [`crate::no_grad`]: gradients do not flow through it.
    pub(crate) detached: bool,
}

// Tensors are shared across threads (two threads may realize overlapping graphs).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Tensor>();
};

impl Drop for Inner {
    /// Drops the chain of source tensors with a loop: a lazy chain of any length cannot overflow the
    /// stack.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stack = std::mem::take(&mut state.sources);
        stack.extend(state.grad.take());
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0) {
                let state = inner.state.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
                stack.append(&mut state.sources);
                stack.extend(state.grad.take());
            }
        }
    }
}

static NEXT_BUFFER_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn buffer_view(id: u64, dtype: DType, shape: &[usize]) -> UOp {
    let numel = shape.iter().product();
    let b = UOp::new(Op::Buffer, dtype, vec![], Arg::Buffer { id, numel });
    if shape == [numel] {
        b
    } else {
        UOp::new(Op::Reshape, dtype, vec![b], Arg::Shape(shape.to_vec()))
    }
}

impl Tensor {
    pub(crate) fn lazy(device: &Device, uop: UOp, sources: Vec<Tensor>) -> Tensor {
        // A value computed under `no_grad` is a constant to autograd; leaves (no sources) never are.
        let detached = !sources.is_empty() && !crate::autograd::recording();
        let state = State {
            uop,
            buffer: None,
            sources,
            became: None,
            retired: Vec::new(),
            requires_grad: false,
            grad: None,
            detached,
        };
        Tensor(Arc::new(Inner { device: device.clone(), state: Mutex::new(state) }))
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The graph this tensor stands for.
    pub fn uop(&self) -> UOp {
        self.state().uop.clone()
    }

    /// A tensor computed from `self` (and `others`) by `uop`.
    pub(crate) fn derive(&self, uop: UOp, others: &[&Tensor]) -> Tensor {
        let mut sources = vec![self.clone()];
        sources.extend(others.iter().map(|t| (*t).clone()));
        Tensor::lazy(&self.0.device, uop, sources)
    }

    /// A realized tensor over a new buffer.
    pub(crate) fn from_buffer(device: &Device, buffer: Arc<Buffer>, dtype: DType, shape: &[usize]) -> Tensor {
        let id = NEXT_BUFFER_ID.fetch_add(1, Ordering::Relaxed);
        let t = Tensor::lazy(device, buffer_view(id, dtype, shape), vec![]);
        t.state().buffer = Some((id, buffer));
        t
    }

    /// Binds this tensor to a computed buffer, dropping its graph.
    pub(crate) fn set_realized(&self, id: u64, buffer: Arc<Buffer>) {
        let mut state = self.state();
        if state.buffer.is_some() {
            // Another thread realized it first; both computed the same value.
            return;
        }
        let view = buffer_view(id, state.uop.dtype(), state.uop.shape().unwrap_or_default());
        let before = std::mem::replace(&mut state.uop, view);
        state.became = Some(before.downgrade());
        state.buffer = Some((id, buffer));
        state.sources.clear();
    }

    pub(crate) fn fresh_buffer_id() -> u64 {
        NEXT_BUFFER_ID.fetch_add(1, Ordering::Relaxed)
    }

    // ---- creation ----

    /// A tensor holding `data` with `shape`, on the default device.
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        Tensor::from_slice_on(data, shape, &Device::default_device()?)
    }

    /// A tensor holding `data` with `shape`, on `device`.
    pub fn from_slice_on<T: Element>(data: &[T], shape: &[usize], device: &Device) -> Result<Tensor> {
        let numel = size::numel("from_slice", shape)?;
        if numel != data.len() {
            return Err(Error::Shape { op: "from_slice", lhs: vec![data.len()], rhs: shape.to_vec() });
        }
        let mut bytes = size::reserve("from_slice", shape, size::bytes("from_slice", shape, T::DTYPE)?)?;
        for &x in data {
            x.write_bytes(&mut bytes);
        }
        Tensor::from_bytes(bytes, T::DTYPE, shape, device)
    }

    pub(crate) fn from_bytes(bytes: Vec<u8>, dtype: DType, shape: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::from_host(&bytes, dtype, shape, device)
    }

    /// A realized tensor holding a copy of `bytes` (row-major elements of `dtype`, already checked).
    pub(crate) fn from_host(bytes: &[u8], dtype: DType, shape: &[usize], device: &Device) -> Result<Tensor> {
        let buffer = Buffer::alloc(&device.0, bytes.len())?;
        buffer.copy_in(bytes)?;
        Ok(Tensor::from_buffer(device, Arc::new(buffer), dtype, shape))
    }

    /// A tensor of `shape` filled with `value` (lazy: no memory until realized).
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        Tensor::full_on(shape, value, dtype, &Device::default_device()?)
    }

    /// [`Tensor::full`] on `device`.
    pub fn full_on(shape: &[usize], value: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        if dtype == DType::Void || dtype == DType::Index {
            return Err(Error::DType { op: "full", dtype, reason: "not a tensor element type".into() });
        }
        size::bytes("full", shape, dtype)?;
        let c = UOp::constant(dtype, ConstValue::Float(value));
        let ones = vec![1; shape.len()];
        let mut u = UOp::new(Op::Reshape, dtype, vec![c], Arg::Shape(ones.clone()));
        if shape != ones {
            u = UOp::new(Op::Expand, dtype, vec![u], Arg::Shape(shape.to_vec()));
        }
        Ok(Tensor::lazy(device, u, vec![]))
    }

    /// Zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, 0.0, dtype)
    }

    /// Ones.
    pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, 1.0, dtype)
    }

    /// A tensor like `self` (shape, device) filled with `value` of `dtype`.
    pub fn full_like(&self, value: f64, dtype: DType) -> Result<Tensor> {
        Tensor::full_on(&self.shape(), value, dtype, &self.0.device)
    }

    /// `[start, start+step, ...)` up to (excluding) `stop`, like `torch.arange`.
    pub fn arange(start: f64, stop: f64, step: f64, dtype: DType) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
            return Err(Error::Invalid {
                op: "arange",
                reason: format!("bad range start={start} stop={stop} step={step}"),
            });
        }
        let count = ((stop - start) / step).ceil().max(0.0);
        if !count.is_finite() || count >= usize::MAX as f64 {
            return Err(Error::Invalid {
                op: "arange",
                reason: format!("start={start:e} stop={stop:e} step={step:e} gives {count:e} elements"),
            });
        }
        let n = count as usize;
        let mut bytes = size::reserve("arange", &[n], size::bytes("arange", &[n], dtype)?)?;
        for i in 0..n {
            f64_as_bytes(start + step * i as f64, dtype, &mut bytes);
        }
        Tensor::from_bytes(bytes, dtype, &[n], &Device::default_device()?)
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize, dtype: DType) -> Result<Tensor> {
        let mut bytes = size::reserve("eye", &[n, n], size::bytes("eye", &[n, n], dtype)?)?;
        for i in 0..n * n {
            f64_as_bytes(if i / n.max(1) == i % n.max(1) { 1.0 } else { 0.0 }, dtype, &mut bytes);
        }
        Tensor::from_bytes(bytes, dtype, &[n, n], &Device::default_device()?)
    }

    // ---- accessors ----

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.state().uop.shape().unwrap_or_default().to_vec()
    }

    /// Number of dims.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.state().uop.dtype()
    }

    /// The device.
    pub fn device(&self) -> Device {
        self.0.device.clone()
    }

    /// A copy on `device` (through host memory).
    pub fn to(&self, device: &Device) -> Result<Tensor> {
        if *device == self.0.device {
            return Ok(self.clone());
        }
        let bytes = self.to_bytes()?;
        Tensor::from_bytes(bytes, self.dtype(), &self.shape(), device)
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor(shape={:?}, dtype={}, device={})", self.shape(), self.dtype(), self.0.device.name())
    }
}
