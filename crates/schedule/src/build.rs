//! Cutting the graph at realization points into kernel ASTs.
//!
//! Each realized node becomes one `STORE` into a fresh buffer; inside a kernel, reads of buffers and of
//! other realized nodes become `LOAD(DEFINE_GLOBAL slot)` reshaped to the node's shape. Kernels are
//! emitted in dependency order (children first).

use crate::error::ScheduleError;
use crate::kernel::{BufferRef, BufferSpec, Kernel, Schedule};
use kiln_uop::{Arg, Op, UOp};
use std::collections::{HashMap, HashSet};

pub(crate) fn build_kernels(outputs: &[UOp], points: &HashSet<UOp>) -> Result<Schedule, ScheduleError> {
    let mut schedule = Schedule::default();
    let mut location: HashMap<UOp, BufferRef> = HashMap::new();
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
        let mut memo = HashMap::new();
        let value = cut(&u, &u, &location, &mut args, &mut memo)?;
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
    match (u.op(), u.arg()) {
        (Op::Buffer, Arg::Buffer { id, .. }) => Some(BufferRef::Input(*id)),
        (Op::Reshape | Op::Contiguous, _) => existing_buffer(&u.src()[0]),
        _ => None,
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

fn cut(
    u: &UOp,
    root: &UOp,
    location: &HashMap<UOp, BufferRef>,
    args: &mut Vec<BufferRef>,
    memo: &mut HashMap<UOp, UOp>,
) -> Result<UOp, ScheduleError> {
    if let Some(done) = memo.get(u) {
        return Ok(done.clone());
    }
    let result = if let (Op::Buffer, Arg::Buffer { id, numel }) = (u.op(), u.arg()) {
        let slot = slot_of(args, BufferRef::Input(*id));
        load(slot, u.dtype(), *numel, &[*numel])
    } else if let Some(buffer) = location.get(u).filter(|_| u != root) {
        let shape = u.shape().ok_or(ScheduleError::NoShape { op: u.op() })?;
        let slot = slot_of(args, *buffer);
        load(slot, u.dtype(), shape.iter().product(), shape)
    } else if u.op() == Op::Contiguous {
        cut(&u.src()[0], root, location, args, memo)?
    } else if u.op().is_alu()
        || u.op().is_movement()
        || matches!(u.op(), Op::Const | Op::Cast | Op::Bitcast | Op::ReduceAxis)
    {
        let src = u.src().iter().map(|s| cut(s, root, location, args, memo)).collect::<Result<Vec<_>, _>>()?;
        u.with_src(src)
    } else {
        return Err(ScheduleError::UnexpectedOp(u.op()));
    };
    memo.insert(u.clone(), result.clone());
    Ok(result)
}
