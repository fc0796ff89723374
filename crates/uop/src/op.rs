//! The op set (`Op`) and the argument a node carries (`Arg`).
//!
//! `Op` is field-less so rewriters can index patterns by it; everything an op needs beyond its sources
//! lives in `Arg`. The set spans every level: tensor graph, kernel AST, index expressions, linear program.

use crate::dtype::ConstValue;
use std::sync::Arc;

/// What a UOp does. Grouped by level; see each variant for its sources and argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    // ---- leaves ----
    /// A constant; arg `Const`.
    Const,
    /// A named integer variable with a known range; arg `Var`.
    DefineVar,
    /// Kernel parameter: a pointer to global memory; arg `Buffer` whose `id` is the parameter slot;
    /// shape `[numel]`.
    DefineGlobal,
    /// Tensor-level device buffer; arg `Buffer`; shape `[numel]`.
    Buffer,
    /// A hardware index (thread, block); src `[size]`; arg `Special`.
    Special,
    /// A loop variable `0..end`; src `[end]`; arg `Range`.
    Range,

    // ---- unary ALU ----
    /// Negation.
    Neg,
    /// 2^x.
    Exp2,
    /// log2(x).
    Log2,
    /// sin(x).
    Sin,
    /// Square root.
    Sqrt,
    /// 1/x.
    Recip,
    /// Round toward zero.
    Trunc,

    // ---- binary ALU ----
    /// a + b.
    Add,
    /// a * b.
    Mul,
    /// Integer division, truncating toward zero (C semantics).
    Idiv,
    /// Integer remainder with the sign of the dividend (C semantics).
    Mod,
    /// Float division.
    Fdiv,
    /// max(a, b).
    Max,
    /// a < b (bool result).
    CmpLt,
    /// a != b (bool result).
    CmpNe,
    /// a == b (bool result).
    CmpEq,
    /// Bitwise/logical and.
    And,
    /// Bitwise/logical or.
    Or,
    /// Bitwise/logical xor.
    Xor,
    /// Shift left.
    Shl,
    /// Shift right.
    Shr,

    // ---- ternary ALU ----
    /// `src[0] ? src[1] : src[2]`.
    Where,
    /// `src[0] * src[1] + src[2]`.
    MulAcc,

    // ---- type changes ----
    /// Value conversion to `dtype`.
    Cast,
    /// Reinterpretation of the bits as `dtype`.
    Bitcast,

    // ---- tensor level ----
    /// Reduce over axes (kept as size 1); arg `ReduceAxis`.
    ReduceAxis,
    /// New shape, same element count; arg `Shape`.
    Reshape,
    /// Axis order; arg `Axes`.
    Permute,
    /// Broadcast size-1 axes; arg `Shape`.
    Expand,
    /// Zero padding per axis; arg `Pairs` (before, after).
    Pad,
    /// Sub-range per axis; arg `Pairs` (start, end).
    Shrink,
    /// Reverse axes; arg `Axes`.
    Flip,
    /// Force a realization point.
    Contiguous,

    // ---- kernel level ----
    /// Load: src `[buffer, index]` or `[buffer, index, gate]` (gated loads read 0 when the gate is false).
    /// In a kernel AST before lowering, `[buffer]` alone: the whole buffer, shape `[numel]`. With arg
    /// `Lanes(n)`, a vector load of the `n` elements from `index` on (read lane by lane through `Gep`).
    Load,
    /// Store: src `[buffer, index, value]` or with a trailing gate. In a kernel AST before lowering,
    /// `[buffer, value]`: the value (of any shape with `numel` elements) stored row-major.
    Store,
    /// A reduction over ranges: src `[value, range...]`; arg `Reduce`.
    Reduce,
    /// Groups the roots of a kernel or graph.
    Sink,

    // ---- linear program ----
    /// Accumulator declaration: src `[initial value]`; arg `Slot` (accumulator number).
    DefineAcc,
    /// `src[0] = src[1]` where src[0] is a DefineAcc.
    Assign,
    /// Closes the loop of `src[0]` (a Range).
    EndRange,
    /// Memory shared by the threads of a block (workgroup): arg `Buffer` whose `id` numbers it in the
    /// kernel; loaded and stored like a `DefineGlobal`.
    DefineLocal,
    /// Block-wide barrier: every thread's earlier stores to local memory are visible after it. src
    /// `[define_local, store...]`: loads that read the local memory after the barrier take the barrier
    /// as their buffer.
    Barrier,
    /// The value `src[0]` held by the thread of the same warp (subgroup) whose lane is this thread's
    /// lane xor `src[1]` (an index constant): one butterfly step of a reduction across a warp, without
    /// memory or barriers. Every thread of the warp executes it (no gate, no divergence around it), and
    /// the warp is full.
    Shuffle,
    /// Opens a block executed only where `src[0]` (bool) holds.
    If,
    /// Closes the block of `src[0]` (an If).
    EndIf,

    // ---- vectors ----
    /// The vector of its sources' values (one lane each, all of the node's dtype): the value of a
    /// vector store, which writes the lanes from its index on.
    Vectorize,
    /// One lane of a vector load: src `[load]`; arg `Slot(lane)`.
    Gep,
}

impl Op {
    /// Unary ALU ops.
    pub fn is_unary(self) -> bool {
        matches!(self, Op::Neg | Op::Exp2 | Op::Log2 | Op::Sin | Op::Sqrt | Op::Recip | Op::Trunc)
    }

    /// Binary ALU ops.
    pub fn is_binary(self) -> bool {
        matches!(
            self,
            Op::Add
                | Op::Mul
                | Op::Idiv
                | Op::Mod
                | Op::Fdiv
                | Op::Max
                | Op::CmpLt
                | Op::CmpNe
                | Op::CmpEq
                | Op::And
                | Op::Or
                | Op::Xor
                | Op::Shl
                | Op::Shr
        )
    }

    /// Any ALU op (unary, binary, ternary).
    pub fn is_alu(self) -> bool {
        self.is_unary() || self.is_binary() || matches!(self, Op::Where | Op::MulAcc)
    }

    /// Comparisons, whose result is `Bool`.
    pub fn is_comparison(self) -> bool {
        matches!(self, Op::CmpLt | Op::CmpNe | Op::CmpEq)
    }

    /// Movement ops of the tensor level.
    pub fn is_movement(self) -> bool {
        matches!(self, Op::Reshape | Op::Permute | Op::Expand | Op::Pad | Op::Shrink | Op::Flip)
    }

    /// Commutative binary ops.
    pub fn is_commutative(self) -> bool {
        matches!(self, Op::Add | Op::Mul | Op::Max | Op::CmpNe | Op::CmpEq | Op::And | Op::Or | Op::Xor)
    }

    /// Upper-case name as printed.
    pub fn name(self) -> String {
        format!("{self:?}").to_uppercase()
    }
}

/// The reduction a `ReduceAxis` or `Reduce` performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReduceOp {
    /// Sum.
    Add,
    /// Maximum.
    Max,
    /// Product.
    Mul,
}

impl ReduceOp {
    /// The binary ALU op that combines two partial results.
    pub fn alu(self) -> Op {
        match self {
            ReduceOp::Add => Op::Add,
            ReduceOp::Max => Op::Max,
            ReduceOp::Mul => Op::Mul,
        }
    }
}

/// What a `Range` is for. The order of declaration is the order of a kernel's axes: output kinds
/// first, reduce kinds next, expanded kinds last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RangeKind {
    /// The CPU's threads: the outermost loop, cut into one chunk per core (a CPU kernel's only
    /// parallel loop when it has one).
    Thread,
    /// An output dimension (becomes a block index, a flat thread index, or a parallel loop on the CPU).
    Global,
    /// An output dimension split across the threads of a block (GPU only).
    Local,
    /// A serial loop over a reduced dimension.
    Reduce,
    /// A reduced dimension split across the threads of a block, combined through local memory.
    GroupReduce,
    /// An output dimension computed by every thread for each of its values (expanded into copies).
    Upcast,
    /// A reduced dimension unrolled into copies inside one loop iteration.
    Unroll,
}

/// Hardware indices of GPU dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpecialKind {
    /// Workgroup (block) index along an axis.
    GroupIdx(u8),
    /// Local (thread-in-block) index along an axis.
    LocalIdx(u8),
    /// The thread's lane in its subgroup (Vulkan's `SubgroupLocalInvocationId`): the number
    /// [`Op::Shuffle`] xors. Which threads of a block share a subgroup is the device's choice.
    SubgroupLane,
    /// The number of the thread's subgroup within its block (Vulkan's `SubgroupId`).
    SubgroupId,
}

/// The argument of a UOp; which variant an op takes is listed on `Op`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// No argument.
    None,
    /// Constant value.
    Const(ConstValue),
    /// Parameter or accumulator number.
    Slot(usize),
    /// A named variable with inclusive bounds.
    Var {
        /// Printed name.
        name: Arc<str>,
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// A loop variable's identity.
    Range {
        /// Distinguishes ranges of equal size.
        id: u32,
        /// What the loop is for.
        kind: RangeKind,
    },
    /// A hardware index.
    Special(SpecialKind),
    /// A tensor-level buffer.
    Buffer {
        /// Unique id given by the frontend.
        id: u64,
        /// Number of elements.
        numel: usize,
    },
    /// Reduction op and the axes it reduces.
    ReduceAxis(ReduceOp, Vec<usize>),
    /// Reduction op of a kernel-level `Reduce`.
    Reduce(ReduceOp),
    /// A shape.
    Shape(Vec<usize>),
    /// An axis list (permutation or flipped axes).
    Axes(Vec<usize>),
    /// Per-axis pairs: pad (before, after) or shrink (start, end).
    Pairs(Vec<(usize, usize)>),
    /// The lane count of a vector load.
    Lanes(usize),
}
