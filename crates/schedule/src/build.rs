//! Cutting the graph at realization points into kernel ASTs.
//!
//! Each realized node becomes one `STORE` into a fresh buffer; inside a kernel, reads of buffers and of
//! other realized nodes become `LOAD(DEFINE_GLOBAL slot)` reshaped to the node's shape. Kernels are
//! emitted in dependency order (children first).

use crate::error::ScheduleError;
use crate::kernel::{BufferRef, BufferSpec, Kernel, Schedule};
use kiln_uop::{Arg, Op, UOp};
use rustc_hash::{FxHashMap, FxHashSet};

pub(crate) fn build_kernels(outputs: &[UOp], points: &FxHashSet<UOp>) -> Result<Schedule, ScheduleError> {
    let mut schedule = Schedule::default();
    let mut location: FxHashMap<UOp, BufferRef> = FxHashMap::default();
    let sink = UOp::new(Op::Sink, kiln_uop::DType::Void, outputs.to_vec(), Arg::None);
    for u in sink.toposort() {
        if u.op() == Op::Sink || !points.contains(&u) || location.contains_key(&u) {
            continue;
        }
        if let Some(existing) = existing_buffer(&u) {
            location.insert(u, existing);
            continue;
        }
        let shape = u.shape().ok_or(ScheduleError::NoShape { op: u.op() })?;
        let numel = shape.iter().product();
        let out = BufferRef::New(schedule.buffers.len());
        schedule.buffers.push(BufferSpec { dtype: u.dtype(), numel });
        let mut args = vec![out];
        let value = cut(&u, &location, &mut args)?;
        let target = global(0, u.dtype(), numel);
        let store = UOp::new(Op::Store, kiln_uop::DType::Void, vec![target, value], Arg::None);
        let ast = UOp::new(Op::Sink, kiln_uop::DType::Void, vec![store], Arg::None);
        schedule.kernels.push(Kernel { ast, args });
        location.insert(u, out);
    }
    schedule.outputs = outputs.iter().map(|o| location[o]).collect();
    Ok(schedule)
}

/// A node that already is a whole buffer in row-major order needs no kernel.
fn existing_buffer(u: &UOp) -> Option<BufferRef> {
    let mut u = u;
    loop {
        match (u.op(), u.arg()) {
            (Op::Buffer, Arg::Buffer { id, .. }) => return Some(BufferRef::Input(*id)),
            (Op::Reshape | Op::Contiguous, _) => u = &u.src()[0],
            _ => return None,
        }
    }
}

fn global(slot: usize, dtype: kiln_uop::DType, numel: usize) -> UOp {
    UOp::new(Op::DefineGlobal, dtype, vec![], Arg::Buffer { id: slot as u64, numel })
}

/// The parameter slot of `buffer` in this kernel, adding it on first use.
fn slot_of(args: &mut Vec<BufferRef>, buffer: BufferRef) -> usize {
    args.iter().position(|a| *a == buffer).unwrap_or_else(|| {
        args.push(buffer);
        args.len() - 1
    })
}

fn load(slot: usize, dtype: kiln_uop::DType, numel: usize, shape: &[usize]) -> UOp {
    let loaded = UOp::new(Op::Load, dtype, vec![global(slot, dtype, numel)], Arg::None);
    if shape == [numel] {
        loaded
    } else {
        UOp::new(Op::Reshape, dtype, vec![loaded], Arg::Shape(shape.to_vec()))
    }
}

/// The kernel body computing `root`: its graph with every buffer and every other realized node
/// replaced by a load of a parameter. Walks children before parents with an explicit stack.
fn cut(root: &UOp, location: &FxHashMap<UOp, BufferRef>, args: &mut Vec<BufferRef>) -> Result<UOp, ScheduleError> {
    let stops = |u: &UOp| u != root && (u.op() == Op::Buffer || location.contains_key(u));
    let mut memo: FxHashMap<UOp, UOp> = FxHashMap::default();
    let mut stack = vec![(root.clone(), false)];
    while let Some((u, expanded)) = stack.pop() {
        if memo.contains_key(&u) {
            continue;
        }
        if !expanded && !stops(&u) {
            stack.push((u.clone(), true));
            stack.extend(u.src().iter().rev().filter(|s| !memo.contains_key(*s)).map(|s| (s.clone(), false)));
            continue;
        }
        let result = if let (Op::Buffer, Arg::Buffer { id, numel }) = (u.op(), u.arg()) {
            let slot = slot_of(args, BufferRef::Input(*id));
            load(slot, u.dtype(), *numel, &[*numel])
        } else if let Some(buffer) = location.get(&u).filter(|_| u != *root) {
            let shape = u.shape().ok_or(ScheduleError::NoShape { op: u.op() })?;
            let slot = slot_of(args, *buffer);
            load(slot, u.dtype(), shape.iter().product(), shape)
        } else if u.op() == Op::Contiguous {
            memo[&u.src()[0]].clone()
        } else if u.op().is_alu()
            || u.op().is_movement()
            || matches!(u.op(), Op::Const | Op::Cast | Op::Bitcast | Op::ReduceAxis)
        {
            u.with_src(u.src().iter().map(|s| memo[s].clone()).collect())
        } else {
            return Err(ScheduleError::UnexpectedOp(u.op()));
        };
        memo.insert(u, result);
    }
    Ok(memo[root].clone())
}
