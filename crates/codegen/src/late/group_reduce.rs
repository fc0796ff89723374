//! Grouped reductions: a `REDUCE` over a `GroupReduce` axis of `G` threads becomes each thread's partial
//! `REDUCE` over the other axes, then the `G` partials are combined, one of two ways:
//!
//! - **Warps** (where the device has them and the group lies along whole warps of the block's `x`
//!   dimension): `log2(min(G, warp))` butterfly `SHUFFLE`s leave every lane with its warp's result; a
//!   group wider than a warp has each warp's first lane store its result to local memory, one barrier,
//!   and every thread folds the `G / warp` results pairwise.
//! - **Subgroups** (Vulkan, whose subgroups number their lanes the device's way: where the block is
//!   this one group along `x`, a whole number of subgroups wide): the same shuffles within each
//!   subgroup, whose thread at lane 0 stores the subgroup's result at its subgroup's number.
//! - **A tree in local memory** (anywhere else): each partial is stored at `g * L + l` (`l` numbers the
//!   thread among the `L` threads of the block's local axes), then while `n > 1` partials remain, the
//!   threads with `g < n / 2` fold in the partial `ceil(n / 2)` slots above theirs, a barrier after each
//!   step.
//!
//! Both add in a pairwise order (no compensation needed) in `log2(G)` steps where a serial walk would
//! cost `G`. Only the thread with `g = 0` stores the kernel's outputs.

use crate::opt::{range_kind, range_size, Kernel};
use crate::target::Caps;
use kiln_uop::{Arg, DType, Op, RangeKind, ReduceOp, SpecialKind, UOp};
use std::collections::HashMap;

/// The kernel with its grouped reduction (if any) combined across its threads.
pub(crate) fn group_reduce(k: &Kernel, caps: &Caps) -> Kernel {
    let Some(g) = k.axes.iter().find(|r| range_kind(r) == Some(RangeKind::GroupReduce)).cloned() else {
        return k.clone();
    };
    let Some(reduce) = k.reduces().into_iter().find(|u| u.src()[1..].contains(&g)) else {
        return k.clone();
    };
    let Arg::Reduce(op) = *reduce.arg() else { return k.clone() };
    let mut k = k.clone();
    let block: Vec<UOp> = k
        .axes
        .iter()
        .filter(|r| matches!(range_kind(r), Some(RangeKind::Local | RangeKind::GroupReduce)))
        .cloned()
        .collect();
    let locals: Vec<UOp> = block.iter().filter(|r| range_kind(r) == Some(RangeKind::Local)).cloned().collect();
    let rest: Vec<UOp> = reduce.src()[1..].iter().filter(|r| **r != g).cloned().collect();
    let partial = if rest.is_empty() {
        reduce.src()[0].clone()
    } else {
        UOp::new(
            Op::Reduce,
            reduce.dtype(),
            std::iter::once(reduce.src()[0].clone()).chain(rest).collect(),
            reduce.arg().clone(),
        )
    };
    let group = Group {
        g: g.clone(),
        size: range_size(&g),
        threads: locals.iter().map(range_size).product::<usize>() as i64,
        local_linear: locals.iter().fold(UOp::index(0), |acc, r| acc.mul(&UOp::index(range_size(r) as i64)).add(r)),
        op,
        dtype: reduce.dtype(),
    };
    let combined = if let Some(span) = warp_span(&group, block.last() == Some(&g), caps) {
        let span_index = UOp::index(span as i64);
        let (lane, warp) = (g.modulo(&span_index), g.idiv(&span_index));
        group.in_warps(partial, span, &lane, &warp)
    } else if let Some(span) = subgroup_span(&group, block.len(), caps) {
        let special =
            |kind, size: usize| UOp::new(Op::Special, DType::Index, vec![UOp::index(size as i64)], Arg::Special(kind));
        let (lane, subgroup) =
            (special(SpecialKind::SubgroupLane, span), special(SpecialKind::SubgroupId, group.size / span));
        group.in_warps(partial, span, &lane, &subgroup)
    } else {
        group.in_tree(partial)
    };
    let first = g.eq(&UOp::index(0));
    let sink = k.sink.substitute(&HashMap::from([(reduce, combined)]));
    // The kernel's stores (the sink's sources) are gated by `g = 0` as well as by any gate they had (a
    // padded axis).
    let stores = sink
        .src()
        .iter()
        .map(|store| {
            let mut src = store.src().to_vec();
            match src.get_mut(3) {
                Some(gate) => *gate = gate.and(&first),
                None => src.push(first.clone()),
            }
            store.with_src(src)
        })
        .collect();
    k.sink = sink.with_src(stores);
    k
}

/// The lanes a warp's shuffles combine (`min(G, warp)`), or `None` where shuffles cannot serve: the
/// device has no warps, the group is not a power of two along the block's `x` dimension (so that lanes
/// `xor`-ed within the span stay in one group), the block is not whole warps (a partial warp cannot
/// shuffle), or the value's type has no shuffle.
fn warp_span(group: &Group, along_x: bool, caps: &Caps) -> Option<usize> {
    let warp = caps.warp as usize;
    let whole_warps = warp > 0 && (group.size * group.threads as usize).is_multiple_of(warp);
    (warp.is_power_of_two() && group.size.is_power_of_two() && along_x && whole_warps && shuffles(group.dtype))
        .then_some(group.size.min(warp))
}

/// The lanes of a subgroup (`Caps::subgroup`) where the block is this one group along `x` and a whole
/// number of subgroups wide, so that every subgroup is full and holds threads of this group only,
/// whichever threads the device puts together; `None` elsewhere.
fn subgroup_span(group: &Group, block_axes: usize, caps: &Caps) -> Option<usize> {
    let sub = caps.subgroup as usize;
    (sub > 1 && sub.is_power_of_two() && block_axes == 1 && group.size.is_multiple_of(sub) && shuffles(group.dtype))
        .then_some(sub)
}

/// Whether values of `dtype` can be shuffled between lanes.
fn shuffles(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::F16 | DType::BF16 | DType::F32 | DType::F64 | DType::I32 | DType::U32 | DType::I64 | DType::U64
    )
}

/// The grouped reduction's axis and the block it lies in.
struct Group {
    /// The `GroupReduce` range.
    g: UOp,
    /// Its length `G`.
    size: usize,
    /// Threads of the block's other local axes (`L`).
    threads: i64,
    /// This thread's number among those `L`.
    local_linear: UOp,
    op: ReduceOp,
    dtype: DType,
}

impl Group {
    fn fold(&self, a: &UOp, b: &UOp) -> UOp {
        UOp::alu(self.op.alu(), vec![a.clone(), b.clone()])
    }

    /// Pairwise fold of `values` (a balanced tree, so sums round as a pairwise sum does).
    fn fold_pairwise(&self, values: &[UOp]) -> UOp {
        match values {
            [one] => one.clone(),
            _ => {
                let (low, high) = values.split_at(values.len().div_ceil(2));
                self.fold(&self.fold_pairwise(low), &self.fold_pairwise(high))
            }
        }
    }

    /// Local memory for `n` values per group of this block.
    fn local_buffer(&self, n: usize) -> UOp {
        UOp::new(Op::DefineLocal, self.dtype, vec![], Arg::Buffer { id: 0, numel: n * self.threads as usize })
    }

    /// The local-memory slot of value `i` of this thread's group.
    fn slot(&self, i: &UOp) -> UOp {
        kiln_rewrite::simplify(&i.mul(&UOp::index(self.threads)).add(&self.local_linear))
    }

    /// Butterfly shuffles over `span` lanes, then (for a group wider than a warp) one value per warp
    /// through local memory: the thread at `lane` 0 of each warp stores at slot `warp`.
    fn in_warps(&self, partial: UOp, span: usize, lane: &UOp, warp: &UOp) -> UOp {
        let mut value = partial;
        let mut distance = span / 2;
        while distance >= 1 {
            let other = UOp::new(Op::Shuffle, self.dtype, vec![value.clone(), UOp::index(distance as i64)], Arg::None);
            value = self.fold(&value, &other);
            distance /= 2;
        }
        let warps = self.size / span;
        if warps == 1 {
            return value;
        }
        let buffer = self.local_buffer(warps);
        let leader = lane.eq(&UOp::index(0));
        let store = UOp::new(Op::Store, DType::Void, vec![buffer.clone(), self.slot(warp), value, leader], Arg::None);
        let written = UOp::new(Op::Barrier, DType::Void, vec![buffer, store], Arg::None);
        let results: Vec<UOp> = (0..warps)
            .map(|w| UOp::new(Op::Load, self.dtype, vec![written.clone(), self.slot(&UOp::index(w as i64))], Arg::None))
            .collect();
        self.fold_pairwise(&results)
    }

    /// The tree in local memory, a barrier per step.
    fn in_tree(&self, partial: UOp) -> UOp {
        let buffer = self.local_buffer(self.size);
        let mine = self.slot(&self.g);
        let store = UOp::new(Op::Store, DType::Void, vec![buffer.clone(), mine.clone(), partial], Arg::None);
        let mut written = UOp::new(Op::Barrier, DType::Void, vec![buffer.clone(), store], Arg::None);
        let mut remaining = self.size;
        while remaining > 1 {
            let half = remaining.div_ceil(2);
            let folding = self.g.lt(&UOp::index((remaining - half) as i64));
            let other = self.slot(&self.g.add(&UOp::index(half as i64)));
            let a = UOp::new(Op::Load, self.dtype, vec![written.clone(), mine.clone(), folding.clone()], Arg::None);
            let b = UOp::new(Op::Load, self.dtype, vec![written.clone(), other, folding.clone()], Arg::None);
            let store = UOp::new(
                Op::Store,
                DType::Void,
                vec![buffer.clone(), mine.clone(), self.fold(&a, &b), folding],
                Arg::None,
            );
            written = UOp::new(Op::Barrier, DType::Void, vec![buffer.clone(), store], Arg::None);
            remaining = half;
        }
        UOp::new(Op::Load, self.dtype, vec![written, self.slot(&UOp::index(0))], Arg::None)
    }
}
