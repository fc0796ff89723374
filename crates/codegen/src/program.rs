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
    /// Output elements (threads for GPU dialects).
    pub global_size: usize,
    /// Threads per block for GPU dialects (1 for C).
    pub local_size: usize,
    /// C dialect: extent of the outermost loop, split across threads (1 when there is none).
    pub parallel_extent: usize,
    /// Whether every index expression fits in i32.
    pub index_fits_i32: bool,
    /// Floating point operations per launch (estimate, for `KILN_DEBUG`).
    pub flops: usize,
}
