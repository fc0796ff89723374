//! The scheduler's output: kernels in dependency order and the buffers they read and write.

use kiln_uop::{DType, UOp};

/// A buffer a kernel parameter is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferRef {
    /// An existing buffer, by the id in its `Op::Buffer` node.
    Input(u64),
    /// The i-th buffer of [`Schedule::buffers`], allocated for this schedule.
    New(usize),
}

/// A buffer the schedule needs allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferSpec {
    /// Element type.
    pub dtype: DType,
    /// Number of elements.
    pub numel: usize,
}

/// One kernel: its AST and the buffer bound to each parameter slot.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// `SINK` of `STORE(DEFINE_GLOBAL, value)`; values read `LOAD(DEFINE_GLOBAL)` through movement ops.
    pub ast: UOp,
    /// `args[slot]` is the buffer behind `DEFINE_GLOBAL` slot `slot`. Outputs come first.
    pub args: Vec<BufferRef>,
}

impl Kernel {
    /// Number of buffers this kernel writes (the first slots).
    pub fn output_count(&self) -> usize {
        self.ast.src().len()
    }
}

/// Kernels in an order that respects their dependencies.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    /// The kernels, in launch order.
    pub kernels: Vec<Kernel>,
    /// Buffers to allocate; `BufferRef::New(i)` refers to `buffers[i]`.
    pub buffers: Vec<BufferSpec>,
    /// For each requested output, the buffer holding it (row-major, contiguous).
    pub outputs: Vec<BufferRef>,
}
