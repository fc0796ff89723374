//! `Kernel`: a lowered kernel and its ordered axes. Every loop or thread dimension is a `RANGE` with a
//! `RangeKind`; `axes` lists them output kinds first (thread, global, local), then reduce kinds, then the
//! expanded ones (upcast, unroll), which is the order `OptOp` axis numbers refer to.

use kiln_uop::{Arg, Op, RangeKind, UOp};

/// A lowered kernel: a `SINK` of `STORE(global, index, value[, gate])` over its axes.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// `SINK` of lowered stores.
    pub sink: UOp,
    /// Every range of the kernel, in axis order.
    pub axes: Vec<UOp>,
    /// Shape every store iterates over.
    pub output_shape: Vec<usize>,
    /// Every `DEFINE_GLOBAL` of the kernel AST, by slot (lowering may drop loads that can never
    /// happen, but the kernel keeps its parameters).
    pub globals: Vec<UOp>,
    /// The id the next new range gets.
    pub(crate) next_range: u32,
    /// Set by `NoLocals`: blocks of one thread, and no `Local` or `Group` opt after it.
    pub no_locals: bool,
}

/// The kind of a range node.
pub(crate) fn range_kind(r: &UOp) -> Option<RangeKind> {
    match r.arg() {
        Arg::Range { kind, .. } if r.op() == Op::Range => Some(*kind),
        _ => None,
    }
}

/// The trip count of a range node.
pub(crate) fn range_size(r: &UOp) -> usize {
    r.src().first().and_then(UOp::const_int).and_then(|n| usize::try_from(n).ok()).unwrap_or(1)
}

impl Kernel {
    /// Axes of `kind`, as positions in [`Kernel::axes`].
    pub fn axes_of(&self, kind: RangeKind) -> Vec<usize> {
        self.axes.iter().enumerate().filter(|(_, r)| range_kind(r) == Some(kind)).map(|(i, _)| i).collect()
    }

    /// The `REDUCE` nodes of the kernel.
    pub(crate) fn reduces(&self) -> Vec<UOp> {
        self.sink.toposort().into_iter().filter(|u| u.op() == Op::Reduce).collect()
    }

    /// A fresh range of `size` and `kind`.
    pub(crate) fn new_range(&mut self, size: usize, kind: RangeKind) -> UOp {
        self.next_range += 1;
        UOp::range(size as i64, self.next_range - 1, kind)
    }

    /// Puts the axes back in kind order (stable, so splits keep their place among their kind).
    pub(crate) fn sort_axes(&mut self) {
        // `RangeKind`'s declaration order is the axis order; a non-range (never expected) sorts last.
        self.axes.sort_by_key(|r| (range_kind(r).is_none(), range_kind(r)));
    }
}
