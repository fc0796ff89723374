//! Grouped reductions: a `REDUCE` over a `GroupReduce` axis of `G` threads becomes each thread's partial
//! `REDUCE` over the other axes, stored to local memory at `g * L + l` (`l` numbers the thread among the
//! `L` threads of the block's local axes), a barrier, and a final `REDUCE` over the `G` partials read
//! back from local memory. Only the thread with `g = 0` stores the kernel's outputs.

use crate::opt::{range_kind, range_size, Kernel};
use kiln_uop::{Arg, DType, Op, RangeKind, UOp};
use std::collections::HashMap;

/// The kernel with its grouped reduction (if any) combined through local memory.
pub(crate) fn group_reduce(k: &Kernel) -> Kernel {
    let Some(g) = k.axes.iter().find(|r| range_kind(r) == Some(RangeKind::GroupReduce)).cloned() else {
        return k.clone();
    };
    let Some(reduce) = k.reduces().into_iter().find(|u| u.src()[1..].contains(&g)) else {
        return k.clone();
    };
    let mut k = k.clone();
    let groups = range_size(&g);
    let locals: Vec<UOp> = k.axes.iter().filter(|r| range_kind(r) == Some(RangeKind::Local)).cloned().collect();
    let threads: usize = locals.iter().map(range_size).product();
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
    let buffer = UOp::new(Op::DefineLocal, reduce.dtype(), vec![], Arg::Buffer { id: 0, numel: groups * threads });
    let slot = kiln_rewrite::simplify(&g.mul(&UOp::index(threads as i64)).add(&local_linear));
    let store = UOp::new(Op::Store, DType::Void, vec![buffer.clone(), slot, partial], Arg::None);
    let barrier = UOp::new(Op::Barrier, DType::Void, vec![buffer, store], Arg::None);
    let j = k.new_range(groups, RangeKind::Reduce);
    let read_at = kiln_rewrite::simplify(&j.mul(&UOp::index(threads as i64)).add(&local_linear));
    let partials = UOp::new(Op::Load, reduce.dtype(), vec![barrier, read_at], Arg::None);
    let combined = UOp::new(Op::Reduce, reduce.dtype(), vec![partials, j.clone()], reduce.arg().clone());
    let first = g.eq(&UOp::index(0));
    let mut done: HashMap<UOp, UOp> = HashMap::new();
    for u in k.sink.toposort() {
        let new = if u == reduce {
            combined.clone()
        } else {
            let mut src: Vec<UOp> = u.src().iter().map(|s| done[s].clone()).collect();
            if u.op() == Op::Store && u.src()[0].op() == Op::DefineGlobal {
                src.push(first.clone());
            }
            if src.iter().zip(u.src()).all(|(a, b)| a == b) && src.len() == u.src().len() {
                u.clone()
            } else {
                u.with_src(src)
            }
        };
        done.insert(u, new);
    }
    k.sink = done[&k.sink].clone();
    k.axes.push(j);
    k.sort_axes();
    k
}
