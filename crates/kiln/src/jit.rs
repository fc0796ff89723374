//! `Jit`: a function of tensors whose kernels are captured once and replayed.
//!
//! Call 1 runs the function as usual (kernels compile, caches warm). Call 2 runs it again while
//! recording every schedule it realizes, then captures the launches as one device graph (a CUDA graph,
//! a recorded Vulkan command buffer, a launch list on the CPU). Call 3 and later do not run the
//! function: they check the inputs, patch the input, output and state slots of the graph, and replay it
//! with one submission.
//!
//! What a replay binds anew each call:
//! - **inputs**: the buffers of the tensors passed in (realized, distinct, and of the shapes, dtypes and
//!   device of call 2);
//! - **outputs**: fresh buffers, so the tensors of one call are never overwritten by the next (the
//!   buffer of an output the caller has dropped is reused, which leaves the graph's arguments as they
//!   were);
//! - **state**: tensors the function `assign`s (parameters an optimiser updates) read their current
//!   buffer and receive a fresh one, exactly as an eager `assign` does.
//!
//! Everything else the step touched is fixed at capture: weights it reads, scalars it built (a scalar
//! that must change between calls is passed as a 0-dim input tensor; optimisers keep their learning
//! rate and step count on the device, so they need nothing), and intermediate buffers. Host work inside
//! the function (`to_vec`, `from_slice`) is not replayed. A step that draws random numbers (`rand`,
//! `randn`, dropout in training mode) is refused at capture: they are drawn on the host, so a replay
//! would repeat them.

use crate::device::Device;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use kiln_runtime::{Buffer, DeviceGraph, Patch, RawBuffer};
use kiln_uop::DType;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A function of tensors that replays its captured kernels from the third call on.
pub struct Jit<F> {
    f: F,
    calls: u64,
    step: Option<Step>,
}

/// What a realize records while a capture is on (per thread).
#[derive(Default)]
struct Recording {
    plans: Vec<kiln_runtime::ExecPlan>,
    /// Realized tensors the step's realizations read, with the buffer each held then.
    reads: Vec<(Tensor, RawBuffer)>,
    /// Tensors assigned during the step.
    assigns: Vec<Tensor>,
    /// Whether the step drew random numbers (on the host, so a replay would repeat them).
    random: bool,
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
}

/// Keeps `plan` when a capture is on this thread (its buffers then live as long as the capture).
pub(crate) fn record_plan(plan: kiln_runtime::ExecPlan) {
    RECORDING.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            rec.plans.push(plan);
        }
    });
}

/// Notes the realized tensors among `reached` (what a realization reads), when a capture is on.
pub(crate) fn record_reads(reached: &[Tensor]) {
    RECORDING.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            for t in reached {
                if let Some(b) = buffer_of(t) {
                    rec.reads.push((t.clone(), b.raw()));
                }
            }
        }
    });
}

/// Notes that random numbers were drawn, when a capture is on: the capture then fails, since the
/// numbers are drawn on the host and a replay would repeat them.
pub(crate) fn record_random() {
    RECORDING.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            rec.random = true;
        }
    });
}

/// Notes that `tensor` is being assigned, when a capture is on.
pub(crate) fn record_assign(tensor: &Tensor) {
    RECORDING.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            if !rec.assigns.iter().any(|t| Arc::ptr_eq(&t.0, &tensor.0)) {
                rec.assigns.push(tensor.clone());
            }
        }
    });
}

/// Shape, dtype and device of an input.
#[derive(Clone, Debug, PartialEq)]
struct Signature {
    shape: Vec<usize>,
    dtype: DType,
    device: String,
}

/// Where a replay takes a buffer from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Binding {
    /// The buffer of input `i`.
    Input(usize),
    /// Fresh buffer `i`, allocated at each replay.
    Fresh(usize),
    /// The buffer tracked tensor `i` holds when the replay starts.
    Tracked(usize),
}

/// A value a replay hands back: an output or the new value of a state tensor.
#[derive(Clone)]
enum Value {
    Bound(Binding),
    /// A buffer the step does not write (a weight returned as is).
    Fixed(Arc<Buffer>),
}

/// A captured step.
struct Step {
    device: Device,
    graph: Box<dyn DeviceGraph>,
    inputs: Vec<Signature>,
    /// Every launch slot that a replay binds anew.
    slots: Vec<(usize, usize, Binding)>,
    /// Bytes of each fresh buffer.
    fresh: Vec<usize>,
    /// The buffer each fresh slot had at the last replay: reused when nothing else holds it any more
    /// (the caller dropped that output), so the graph's arguments stay as they are.
    spare: Vec<Option<Arc<Buffer>>>,
    outputs: Vec<(Value, DType, Vec<usize>)>,
    /// Realized tensors the step reads: a replay reads their current values.
    tracked: Vec<Tensor>,
    /// Bytes of each tracked tensor's buffer at capture.
    tracked_bytes: Vec<usize>,
    /// Assigned tensors and their value after the step.
    state: Vec<(Tensor, Value)>,
    launches: usize,
    /// The buffers the graph reads that no replay rebinds (weights, scalars, intermediates).
    _held: Vec<Arc<Buffer>>,
}

impl<F> Jit<F>
where
    F: FnMut(&[&Tensor]) -> Result<Vec<Tensor>>,
{
    /// Wraps `f`, a step from input tensors to output tensors.
    pub fn new(f: F) -> Jit<F> {
        Jit { f, calls: 0, step: None }
    }

    /// Kernels one replay launches (0 before the step is captured).
    pub fn kernels(&self) -> usize {
        self.step.as_ref().map_or(0, |s| s.launches)
    }

    /// Runs the step: eagerly on call 1, recording on call 2, by replay from call 3 on. Outputs are
    /// realized tensors of their own.
    pub fn call(&mut self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        let buffers = check_inputs(inputs)?;
        self.calls += 1;
        match self.calls {
            1 => self.run(inputs),
            2 => self.capture(inputs, &buffers),
            _ => match &mut self.step {
                Some(step) => step.replay(inputs, &buffers),
                None => Err(Error::Jit("the step was not captured (its capture failed)".into())),
            },
        }
    }

    fn run(&mut self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        let out = (self.f)(inputs)?;
        Tensor::realize_all(&out.iter().collect::<Vec<_>>())?;
        Ok(out)
    }

    fn capture(&mut self, inputs: &[&Tensor], buffers: &[Arc<Buffer>]) -> Result<Vec<Tensor>> {
        if RECORDING.with(|r| r.borrow().is_some()) {
            return Err(Error::Jit("a jitted function cannot call another one while capturing".into()));
        }
        RECORDING.with(|r| *r.borrow_mut() = Some(Recording::default()));
        let out = self.run(inputs);
        let recording = RECORDING.with(|r| r.borrow_mut().take()).unwrap_or_default();
        let out = out?;
        self.step = Some(Step::build(inputs, buffers, &out, recording)?);
        Ok(out)
    }
}

/// The buffers of `inputs`, checked to be realized and distinct.
fn check_inputs(inputs: &[&Tensor]) -> Result<Vec<Arc<Buffer>>> {
    let mut buffers: Vec<Arc<Buffer>> = Vec::with_capacity(inputs.len());
    for (i, t) in inputs.iter().enumerate() {
        let buffer = buffer_of(t).ok_or_else(|| {
            Error::Jit(format!(
                "input {i} is not realized (a lazy tensor or a view): call .realize() or .contiguous() first"
            ))
        })?;
        if let Some(j) = buffers.iter().position(|b| b.raw() == buffer.raw()) {
            return Err(Error::Jit(format!("inputs {j} and {i} are the same buffer; pass it once")));
        }
        buffers.push(buffer);
    }
    Ok(buffers)
}

fn signature(t: &Tensor) -> Signature {
    Signature { shape: t.shape(), dtype: t.dtype(), device: t.device().name() }
}

fn buffer_of(t: &Tensor) -> Option<Arc<Buffer>> {
    t.state().buffer.as_ref().map(|(_, b)| Arc::clone(b))
}

impl Step {
    fn build(inputs: &[&Tensor], buffers: &[Arc<Buffer>], outputs: &[Tensor], rec: Recording) -> Result<Step> {
        if rec.random {
            return Err(Error::Jit(
                "the step draws random numbers (rand, randn, dropout), which are drawn on the host and would \
                 repeat at every replay; draw them outside and pass them in as inputs"
                    .into(),
            ));
        }
        let Some(first) = rec.plans.first() else {
            return Err(Error::Jit("the step launched no kernels, so there is nothing to replay".into()));
        };
        let device_rt = Arc::clone(first.device());
        let device = Device(Arc::clone(&device_rt));
        if rec.plans.iter().any(|p| !Arc::ptr_eq(p.device(), &device_rt)) {
            return Err(Error::Jit("the step runs kernels on more than one device".into()));
        }
        if let Some(t) = inputs.iter().find(|t| t.device() != device) {
            return Err(Error::Jit(format!(
                "an input is on {}, the step runs on {}",
                t.device().name(),
                device.name()
            )));
        }
        let launches: Vec<kiln_runtime::Launch> = rec.plans.iter().flat_map(|p| p.launches().iter().cloned()).collect();
        let written: std::collections::HashSet<RawBuffer> = launches
            .iter()
            .flat_map(|l| l.args.iter().zip(&l.program.params).filter(|(_, p)| p.written).map(|(a, _)| *a))
            .collect();
        let mut bindings: HashMap<RawBuffer, Binding> = HashMap::new();
        for (i, b) in buffers.iter().enumerate() {
            bindings.insert(b.raw(), Binding::Input(i));
        }
        let mut fresh = Vec::new();
        let mut value_of = |buffer: Arc<Buffer>, bindings: &mut HashMap<RawBuffer, Binding>| -> Value {
            if let Some(b) = bindings.get(&buffer.raw()) {
                return Value::Bound(*b);
            }
            if written.contains(&buffer.raw()) {
                fresh.push(buffer.bytes());
                let b = Binding::Fresh(fresh.len() - 1);
                bindings.insert(buffer.raw(), b);
                Value::Bound(b)
            } else {
                Value::Fixed(buffer)
            }
        };
        let mut outs = Vec::with_capacity(outputs.len());
        for (i, t) in outputs.iter().enumerate() {
            let buffer = buffer_of(t).ok_or_else(|| Error::Jit(format!("output {i} has no buffer after the step")))?;
            outs.push((value_of(buffer, &mut bindings), t.dtype(), t.shape()));
        }
        let mut state = Vec::new();
        for t in &rec.assigns {
            let after = buffer_of(t).ok_or_else(|| Error::Jit("an assigned tensor has no buffer".into()))?;
            state.push((t.clone(), value_of(after, &mut bindings)));
        }
        let mut tracked: Vec<Tensor> = Vec::new();
        for (t, raw) in &rec.reads {
            if !bindings.contains_key(raw) {
                let k = match tracked.iter().position(|u| Arc::ptr_eq(&u.0, &t.0)) {
                    Some(k) => k,
                    None => {
                        tracked.push(t.clone());
                        tracked.len() - 1
                    }
                };
                bindings.insert(*raw, Binding::Tracked(k));
            }
        }
        let slots: Vec<(usize, usize, Binding)> = launches
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.args.iter().enumerate().map(move |(s, a)| (i, s, *a)))
            .filter_map(|(i, s, a)| bindings.get(&a).map(|b| (i, s, *b)))
            .collect();
        let rebound: std::collections::HashSet<RawBuffer> = bindings.keys().copied().collect();
        let mut held: HashMap<RawBuffer, Arc<Buffer>> = HashMap::new();
        for p in &rec.plans {
            for b in p.held_buffers() {
                if !rebound.contains(&b.raw()) {
                    held.entry(b.raw()).or_insert_with(|| Arc::clone(b));
                }
            }
        }
        let count = launches.len();
        let graph = kiln_runtime::capture(&device_rt, launches)?;
        tracing::debug!("jit: captured {count} launches, {} rebound slots", slots.len());
        Ok(Step {
            device,
            graph,
            inputs: inputs.iter().map(|t| signature(t)).collect(),
            slots,
            spare: vec![None; fresh.len()],
            fresh,
            outputs: outs,
            tracked_bytes: tracked.iter().map(|t| buffer_of(t).map_or(0, |b| b.bytes())).collect(),
            tracked,
            state,
            launches: count,
            _held: held.into_values().collect(),
        })
    }

    fn replay(&mut self, inputs: &[&Tensor], buffers: &[Arc<Buffer>]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::Jit(format!(
                "{} inputs given, the step was captured with {}",
                inputs.len(),
                self.inputs.len()
            )));
        }
        for (i, (t, want)) in inputs.iter().zip(&self.inputs).enumerate() {
            let got = signature(t);
            if got != *want {
                return Err(Error::Jit(format!(
                    "input {i} is {:?} {} on {}, the step was captured with {:?} {} on {}",
                    got.shape, got.dtype, got.device, want.shape, want.dtype, want.device
                )));
            }
        }
        let runtime = self.device.runtime();
        let mut fresh = Vec::with_capacity(self.fresh.len());
        for (&bytes, spare) in self.fresh.iter().zip(self.spare.iter_mut()) {
            let buffer = match spare.take() {
                Some(b) if Arc::strong_count(&b) == 1 => b,
                _ => Arc::new(Buffer::alloc(runtime, bytes)?),
            };
            *spare = Some(Arc::clone(&buffer));
            fresh.push(buffer);
        }
        let tracked: Vec<Arc<Buffer>> = self
            .tracked
            .iter()
            .map(|t| buffer_of(t).ok_or_else(|| Error::Jit("a tensor the step reads lost its buffer".into())))
            .collect::<Result<_>>()?;
        for ((t, b), sig) in self.tracked.iter().zip(&tracked).zip(&self.tracked_bytes) {
            if b.bytes() != *sig {
                return Err(Error::Jit(format!("a tensor the step reads changed size ({:?})", t.shape())));
            }
        }
        let bound = |b: Binding| match b {
            Binding::Input(i) => &buffers[i],
            Binding::Fresh(i) => &fresh[i],
            Binding::Tracked(i) => &tracked[i],
        };
        let patches: Vec<Patch> =
            self.slots.iter().map(|&(launch, slot, b)| Patch { launch, slot, buffer: bound(b).raw() }).collect();
        self.graph.replay(&patches)?;
        let value = |v: &Value| -> Arc<Buffer> {
            match v {
                Value::Fixed(b) => Arc::clone(b),
                Value::Bound(b) => Arc::clone(bound(*b)),
            }
        };
        for (t, v) in &self.state {
            t.replace_buffer(value(v));
        }
        Ok(self
            .outputs
            .iter()
            .map(|(v, dtype, shape)| Tensor::from_buffer(&self.device, value(v), *dtype, shape))
            .collect())
    }
}
