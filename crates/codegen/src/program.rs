//! The linear program: instructions in execution order plus what a device needs to launch them.

use kiln_uop::{DType, UOp};

/// A kernel parameter (a global buffer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Element type.
    pub dtype: DType,
    /// Number of elements the kernel may touch.
    pub numel: usize,
    /// True if the kernel stores into it.
    pub written: bool,
    /// Read once, and too large to stay cached for another kernel: loads carry the evict-first hint
    /// where the target has one (see `late::streamed`).
    pub streamed: bool,
}

/// The launch of a GPU kernel: blocks (workgroups) along each dimension, threads per block along each
/// dimension, and the bytes of local memory a block uses. Devices launch exactly this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LaunchDims {
    /// Blocks along x, y, z.
    pub global: [u32; 3],
    /// Threads per block along x, y, z.
    pub local: [u32; 3],
    /// Local (shared) memory per block, in bytes.
    pub shared_bytes: u32,
}

impl LaunchDims {
    /// One block of one thread (the CPU, which loops instead).
    pub const SINGLE: LaunchDims = LaunchDims { global: [1, 1, 1], local: [1, 1, 1], shared_bytes: 0 };

    /// Threads per block.
    pub fn threads_per_block(&self) -> u32 {
        self.local.iter().product()
    }
}

/// A lowered, ordered kernel.
#[derive(Clone, Debug)]
pub struct Program {
    /// Kernel name, tinygrad style: `E_` (elementwise) or `r_` (reduce) and the output dims.
    pub name: String,
    /// UOps in execution order: `DEFINE_GLOBAL`s, `RANGE` (opens a loop), `END_RANGE`, `DEFINE_ACC`,
    /// ALU ops, `LOAD`, `ASSIGN`, `REDUCE` (the accumulator after its loop), `STORE`.
    pub instructions: Vec<UOp>,
    /// Parameters by slot.
    pub params: Vec<Param>,
    /// Output elements.
    pub global_size: usize,
    /// How a GPU device launches it (all ones for the CPU).
    pub launch: LaunchDims,
    /// C dialect: extent of the outermost loop, split across threads (1 when there is none).
    pub parallel_extent: usize,
    /// Whether every index expression fits in i32.
    pub index_fits_i32: bool,
    /// Floating point operations per launch (estimate, for `KILN_DEBUG`).
    pub flops: usize,
    /// The opts applied to the kernel, in order.
    pub opts: Vec<crate::OptOp>,
}
