//! Grouped reductions: a `REDUCE` over a `GroupReduce` axis of `G` threads becomes each thread's partial
//! `REDUCE` over the other axes, stored to local memory at `g * L + l` (`l` numbers the thread among the
//! `L` threads of the block's local axes), then combined by a tree: while `n > 1` partials remain, the
//! threads with `g < n / 2` fold in the partial `ceil(n / 2)` slots above theirs, a barrier after each
//! step. `log2(G)` steps of one operation each, where a serial walk would cost `G` per thread, and a
//! pairwise order of summation (no compensation needed). Slot `l` then holds the result; only the thread
//! with `g = 0` stores the kernel's outputs.

use crate::opt::{range_kind, range_size, Kernel};
use kiln_uop::{Arg, DType, Op, RangeKind, ReduceOp, UOp};
use std::collections::HashMap;

/// The kernel with its grouped reduction (if any) combined through local memory.
pub(crate) fn group_reduce(k: &Kernel) -> Kernel {
    let Some(g) = k.axes.iter().find(|r| range_kind(r) == Some(RangeKind::GroupReduce)).cloned() else {
        return k.clone();
    };
    let Some(reduce) = k.reduces().into_iter().find(|u| u.src()[1..].contains(&g)) else {
        return k.clone();
    };
    let Arg::Reduce(op) = *reduce.arg() else { return k.clone() };
    let mut k = k.clone();
    let groups = range_size(&g);
    let locals: Vec<UOp> = k.axes.iter().filter(|r| range_kind(r) == Some(RangeKind::Local)).cloned().collect();
    let threads = locals.iter().map(range_size).product::<usize>() as i64;
    let local_linear = locals.iter().fold(UOp::index(0), |acc, r| acc.mul(&UOp::index(range_size(r) as i64)).add(r));
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
    let buffer =
        UOp::new(Op::DefineLocal, reduce.dtype(), vec![], Arg::Buffer { id: 0, numel: groups * threads as usize });
    let slot_of = |group: &UOp| kiln_rewrite::simplify(&group.mul(&UOp::index(threads)).add(&local_linear));
    let mine = slot_of(&g);
    let store = UOp::new(Op::Store, DType::Void, vec![buffer.clone(), mine.clone(), partial], Arg::None);
    let mut written = UOp::new(Op::Barrier, DType::Void, vec![buffer.clone(), store], Arg::None);
    let mut remaining = groups;
    while remaining > 1 {
        let half = remaining.div_ceil(2);
        let folding = g.lt(&UOp::index((remaining - half) as i64));
        let other = slot_of(&g.add(&UOp::index(half as i64)));
        let a = UOp::new(Op::Load, reduce.dtype(), vec![written.clone(), mine.clone(), folding.clone()], Arg::None);
        let b = UOp::new(Op::Load, reduce.dtype(), vec![written.clone(), other, folding.clone()], Arg::None);
        let folded = match op {
            ReduceOp::Add => a.add(&b),
            ReduceOp::Mul => a.mul(&b),
            ReduceOp::Max => a.max(&b),
        };
        let store = UOp::new(Op::Store, DType::Void, vec![buffer.clone(), mine.clone(), folded, folding], Arg::None);
        written = UOp::new(Op::Barrier, DType::Void, vec![buffer.clone(), store], Arg::None);
        remaining = half;
    }
    let combined = UOp::new(Op::Load, reduce.dtype(), vec![written, slot_of(&UOp::index(0))], Arg::None);
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
