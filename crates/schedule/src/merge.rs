//! Multi-output kernels: independent elementwise kernels over one shape become one kernel.
//!
//! Two kernels merge when both are elementwise (no reduction), store values of the same shape and read
//! only buffers that exist before the schedule runs (so no ordering constraint can break). Their loads of
//! a shared input then read it once: the seed case `a+b+c`, `a+b+d` is one kernel reading four inputs.

use crate::kernel::{BufferRef, Kernel, Schedule};
use kiln_uop::{Arg, DType, Op, UOp};
use rustc_hash::FxHashMap;

fn is_independent_elementwise(k: &Kernel) -> bool {
    let reads_only_inputs = k.args[k.output_count()..].iter().all(|a| matches!(a, BufferRef::Input(_)));
    reads_only_inputs && !k.ast.toposort().iter().any(|u| u.op() == Op::ReduceAxis)
}

fn output_shape(k: &Kernel) -> Option<Vec<usize>> {
    k.ast.src().first().and_then(|store| store.src()[1].shape()).map(<[usize]>::to_vec)
}

pub(crate) fn merge_elementwise(schedule: Schedule) -> Schedule {
    let mut groups: FxHashMap<Vec<usize>, usize> = FxHashMap::default();
    let mut kernels: Vec<Kernel> = Vec::new();
    for k in schedule.kernels {
        let shape = output_shape(&k).filter(|_| is_independent_elementwise(&k));
        match shape.as_ref().and_then(|s| groups.get(s)) {
            Some(&g) => kernels[g] = join(&kernels[g], &k),
            None => {
                if let Some(s) = shape {
                    groups.insert(s, kernels.len());
                }
                kernels.push(k);
            }
        }
    }
    Schedule { kernels, ..schedule }
}

/// One kernel doing the work of `a` and `b`: outputs of both first, then their inputs, renumbered.
fn join(a: &Kernel, b: &Kernel) -> Kernel {
    let outputs: Vec<BufferRef> =
        a.args[..a.output_count()].iter().chain(&b.args[..b.output_count()]).copied().collect();
    let mut args = outputs;
    for arg in a.args[a.output_count()..].iter().chain(&b.args[b.output_count()..]) {
        if !args.contains(arg) {
            args.push(*arg);
        }
    }
    let renumber = |k: &Kernel, store: &UOp| -> UOp {
        let mut memo: FxHashMap<UOp, UOp> = FxHashMap::default();
        for u in store.toposort() {
            let new = if let (Op::DefineGlobal, Arg::Buffer { id, numel }) = (u.op(), u.arg()) {
                let buffer = k.args[usize::try_from(*id).unwrap_or(usize::MAX)];
                // Every argument of `k` was copied into `args` above.
                let slot = args.iter().position(|x| *x == buffer).expect("argument present");
                UOp::new(Op::DefineGlobal, u.dtype(), vec![], Arg::Buffer { id: slot as u64, numel: *numel })
            } else {
                u.with_src(u.src().iter().map(|s| memo[s].clone()).collect())
            };
            memo.insert(u, new);
        }
        memo[store].clone()
    };
    let stores: Vec<UOp> =
        a.ast.src().iter().map(|s| renumber(a, s)).chain(b.ast.src().iter().map(|s| renumber(b, s))).collect();
    Kernel { ast: UOp::new(Op::Sink, DType::Void, stores, Arg::None), args }
}
