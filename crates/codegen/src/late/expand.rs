//! Expansion of `Upcast` and `Unroll` axes into copies. A store over an upcast axis of size `n` becomes
//! `n` stores, one per value of the axis; the reductions inside them become `n` reductions over the same
//! ranges, which the linearizer runs in one loop with `n` accumulators (loads they share are read once).
//! A reduction over an unroll axis of size `n` combines `n` copies of its value per iteration.

use crate::opt::Kernel;
use crate::opt::{range_kind, range_size, rewrite_ranges, Resimplify};
use kiln_uop::{Arg, DType, Op, RangeKind, ReduceOp, UOp};
use std::collections::HashMap;

/// Every assignment of values to `ranges` (row-major), as range -> constant maps.
fn assignments(ranges: &[UOp]) -> Vec<HashMap<UOp, (UOp, Vec<UOp>)>> {
    let mut out = vec![HashMap::new()];
    for r in ranges {
        let size = range_size(r) as i64;
        out = out
            .into_iter()
            .flat_map(|m| {
                (0..size).map(move |c| {
                    let mut m = m.clone();
                    m.insert(r.clone(), (UOp::index(c), vec![]));
                    m
                })
            })
            .collect();
    }
    out
}

fn combine(op: ReduceOp, values: Vec<UOp>) -> UOp {
    let mut it = values.into_iter();
    let first = it.next().expect("an expanded axis has at least one value");
    it.fold(first, |acc, v| UOp::alu(op.alu(), vec![acc, v]))
}

/// The kernel with its upcast and unroll axes expanded into copies.
pub(crate) fn expand(k: &Kernel) -> Kernel {
    let unrolls: Vec<UOp> = k.axes.iter().filter(|r| range_kind(r) == Some(RangeKind::Unroll)).cloned().collect();
    let upcasts: Vec<UOp> = k.axes.iter().filter(|r| range_kind(r) == Some(RangeKind::Upcast)).cloned().collect();
    if unrolls.is_empty() && upcasts.is_empty() {
        return k.clone();
    }
    // Unroll: each reduction over unroll axes combines one copy of its value per assignment.
    let mut done: HashMap<UOp, UOp> = HashMap::new();
    for u in k.sink.toposort() {
        let src: Vec<UOp> = u.src().iter().map(|s| done[s].clone()).collect();
        let new = match (u.op(), u.arg()) {
            (Op::Reduce, Arg::Reduce(op)) if u.src()[1..].iter().any(|r| unrolls.contains(r)) => {
                let (mine, rest): (Vec<UOp>, Vec<UOp>) =
                    u.src()[1..].iter().cloned().partition(|r| unrolls.contains(r));
                let copies = assignments(&mine).iter().map(|m| rewrite_ranges(&src[0], m, Resimplify::Full)).collect();
                let value = combine(*op, copies);
                if rest.is_empty() {
                    value
                } else {
                    UOp::new(Op::Reduce, u.dtype(), std::iter::once(value).chain(rest).collect(), u.arg().clone())
                }
            }
            _ if src.iter().zip(u.src()).all(|(a, b)| a == b) => u.clone(),
            _ => u.with_src(src),
        };
        done.insert(u, new);
    }
    let sink = done[&k.sink].clone();
    // Upcast: one store per assignment of the upcast axes it depends on.
    let mut stores = Vec::new();
    for store in sink.src() {
        let used: Vec<UOp> = upcasts.iter().filter(|r| store.toposort().contains(r)).cloned().collect();
        for m in assignments(&used) {
            stores.push(rewrite_ranges(store, &m, Resimplify::Full));
        }
    }
    let axes = k.axes.iter().filter(|r| !unrolls.contains(r) && !upcasts.contains(r)).cloned().collect();
    Kernel { sink: UOp::new(Op::Sink, DType::Void, stores, Arg::None), axes, ..k.clone() }
}
