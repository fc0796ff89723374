//! Kernel optimisations: the kernel's ordered axes (`Kernel`), the `OptOp`s that split them
//! (`shift.rs`: upcast, unroll, local, group, swap, no locals, pad to, thread), and the hand-coded heuristics that choose them
//! (`heuristic.rs`).

mod heuristic;
mod kernel;
mod shift;

pub use heuristic::hand_coded_optimizations;
pub use kernel::Kernel;
pub(crate) use kernel::{range_kind, range_size};
pub(crate) use shift::{rewrite_ranges, Resimplify};

/// One optimisation of a kernel's axes. `axis` indexes [`Kernel::axes`]; `amt` is the split amount.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptOp {
    /// Compute `amt` outputs of an output `axis` per thread (expanded into copies sharing their loads).
    Upcast { axis: usize, amt: usize },
    /// Unroll `amt` iterations of a reduce `axis` into one loop iteration.
    Unroll { axis: usize, amt: usize },
    /// Split `amt` of an output `axis` into the threads of a block.
    Local { axis: usize, amt: usize },
    /// Split a reduce `axis` across `amt` threads of a block, `amt` consecutive elements at a time, and
    /// combine their partial results through local memory.
    Group { axis: usize, amt: usize },
    /// Like `Group`, each thread taking one contiguous `1/amt` of the axis.
    GroupTop { axis: usize, amt: usize },
    /// Pad `axis` up to a multiple of `amt` (loads and stores past its end gated off).
    PadTo { axis: usize, amt: usize },
    /// Exchange two output axes `a` and `b`.
    Swap { a: usize, b: usize },
    /// Use no local dimension: blocks of one thread, and no `Local` or `Group` opt after it.
    NoLocals,
    /// Split an output `axis` into `amt` contiguous chunks run by the CPU's threads (the kernel's
    /// parallel loop becomes those chunks). CPU only; one per kernel.
    Thread { axis: usize, amt: usize },
    /// Use tensor core `kind` of the device table on `axis` (not implemented yet: rejected).
    TensorCore { axis: usize, kind: usize },
}

impl OptOp {
    /// How many kinds [`OptOp::of_kind`] draws from (every opt but `TensorCore`).
    pub const KINDS: u8 = 9;

    /// The opt of kind `kind % KINDS` on `axis` by `amt` (`Swap` exchanges `axis` and `amt % 4`;
    /// `NoLocals` ignores both): how a random search or a random test names an opt by numbers.
    pub fn of_kind(kind: u8, axis: usize, amt: usize) -> OptOp {
        match kind % Self::KINDS {
            0 => OptOp::Upcast { axis, amt },
            1 => OptOp::Unroll { axis, amt },
            2 => OptOp::Local { axis, amt },
            3 => OptOp::Group { axis, amt },
            4 => OptOp::GroupTop { axis, amt },
            5 => OptOp::Swap { a: axis, b: amt % 4 },
            6 => OptOp::NoLocals,
            7 => OptOp::PadTo { axis, amt },
            _ => OptOp::Thread { axis, amt },
        }
    }
}
