//! Mapping axes to the hardware (`gpudims`). On a device with blocks of threads, a kernel with local
//! axes gets one block dimension per local axis (the last becomes `x`) and one grid dimension per
//! output axis (the last becomes `x`; more than three are folded into `z`). A kernel without local axes
//! numbers its outputs flat across blocks of the device's `flat_local` threads (one thread after
//! `NoLocals`); threads past the end
//! are masked by a guard (never an early return, so barriers stay legal). The CPU keeps its loops.

use crate::error::CodegenError;
use crate::opt::{range_kind, range_size, rewrite_ranges, Kernel, Resimplify};
use crate::program::LaunchDims;
use crate::target::Caps;
use kiln_uop::{Arg, DType, Op, RangeKind, SpecialKind, UOp};
use std::collections::HashMap;

/// A kernel whose axes are placed on the hardware, with its launch and the guard (if any) that masks
/// threads past the end.
pub(crate) struct Placed {
    pub(crate) kernel: Kernel,
    pub(crate) launch: LaunchDims,
    pub(crate) guard: Option<UOp>,
}

fn special(kind: SpecialKind, size: u32) -> UOp {
    UOp::new(Op::Special, DType::Index, vec![UOp::index(i64::from(size))], Arg::Special(kind))
}

fn as_u32(n: usize, what: &str) -> Result<u32, CodegenError> {
    u32::try_from(n).map_err(|_| CodegenError::Malformed(format!("{what} of {n} does not fit the launch")))
}

/// Places the kernel's axes for a device with `caps`.
pub(crate) fn gpudims(k: &Kernel, caps: &Caps) -> Result<Placed, CodegenError> {
    // With local axes, each axis becomes a hardware index with its own bounds (past three output axes,
    // `z / stride % size` of one of them), which the greedy rules handle (see `Resimplify::Greedy`); a
    // flat numbering splits one index over every output axis, new structure for the e-graph.
    let locals = k.axes.iter().any(|r| matches!(range_kind(r), Some(RangeKind::Local | RangeKind::GroupReduce)));
    place(k, caps, if locals { Resimplify::Greedy } else { Resimplify::Full })
}

/// [`gpudims`], with the changed indices simplified again as `how` says.
fn place(k: &Kernel, caps: &Caps, how: Resimplify) -> Result<Placed, CodegenError> {
    if !caps.has_local {
        return Ok(Placed { kernel: k.clone(), launch: LaunchDims::SINGLE, guard: None });
    }
    let of = |kinds: &[RangeKind]| -> Vec<UOp> {
        k.axes.iter().filter(|r| range_kind(r).is_some_and(|kind| kinds.contains(&kind))).cloned().collect()
    };
    let globals = of(&[RangeKind::Global]);
    let locals = of(&[RangeKind::Local, RangeKind::GroupReduce]);
    let mut map: HashMap<UOp, (UOp, Vec<UOp>)> = HashMap::new();
    let mut launch = LaunchDims::SINGLE;
    let mut guard = None;
    if locals.is_empty() {
        let total: usize = globals.iter().map(range_size).product();
        let threads = if k.no_locals { 1 } else { caps.flat_local.max(1) };
        let blocks = total.div_ceil(threads as usize).max(1);
        let gx = blocks.min(caps.max_groups[0] as usize);
        let gy = blocks.div_ceil(gx);
        if gy > caps.max_groups[1] as usize {
            return Err(CodegenError::Malformed(format!("{total} outputs need more blocks than the device allows")));
        }
        let (gx, gy) = (as_u32(gx, "grid x")?, as_u32(gy, "grid y")?);
        let block = if gy > 1 {
            special(SpecialKind::GroupIdx(1), gy)
                .mul(&UOp::index(i64::from(gx)))
                .add(&special(SpecialKind::GroupIdx(0), gx))
        } else {
            special(SpecialKind::GroupIdx(0), gx)
        };
        let linear = block.mul(&UOp::index(i64::from(threads))).add(&special(SpecialKind::LocalIdx(0), threads));
        if total != gx as usize * gy as usize * threads as usize {
            guard = Some(kiln_rewrite::simplify(&linear.lt(&UOp::index(total as i64))));
        }
        let mut stride = 1usize;
        for (i, r) in globals.iter().enumerate().rev() {
            let size = range_size(r);
            let q = if stride == 1 { linear.clone() } else { linear.idiv(&UOp::index(stride as i64)) };
            let value = if i == 0 { q } else { q.modulo(&UOp::index(size as i64)) };
            map.insert(r.clone(), (value, vec![]));
            stride *= size;
        }
        launch.global = [gx, gy, 1];
        launch.local = [threads, 1, 1];
    } else {
        if locals.len() > 3 {
            return Err(CodegenError::Malformed(format!("{} local axes; a block has at most 3", locals.len())));
        }
        for (d, r) in locals.iter().rev().enumerate() {
            let size = as_u32(range_size(r), "block size")?;
            launch.local[d] = size;
            map.insert(r.clone(), (special(SpecialKind::LocalIdx(d as u8), size), vec![]));
        }
        // The last output axes become x and y; the rest fold into z.
        let split = globals.len().saturating_sub(2);
        for (d, r) in globals[split..].iter().rev().enumerate() {
            let size = as_u32(range_size(r), "grid size")?;
            launch.global[d] = size;
            map.insert(r.clone(), (special(SpecialKind::GroupIdx(d as u8), size), vec![]));
        }
        if split > 0 {
            let folded: usize = globals[..split].iter().map(range_size).product();
            let z = special(SpecialKind::GroupIdx(2), as_u32(folded, "grid size")?);
            launch.global[2] = as_u32(folded, "grid size")?;
            let mut stride = 1usize;
            for (i, r) in globals[..split].iter().enumerate().rev() {
                let size = range_size(r);
                let q = if stride == 1 { z.clone() } else { z.idiv(&UOp::index(stride as i64)) };
                let value = if i == 0 { q } else { q.modulo(&UOp::index(size as i64)) };
                map.insert(r.clone(), (value, vec![]));
                stride *= size;
            }
        }
        for d in 0..3 {
            if launch.global[d] > caps.max_groups[d] || launch.local[d] > caps.max_local[d] {
                return Err(CodegenError::Malformed(format!("launch {launch:?} exceeds the device's limits")));
            }
        }
    }
    launch.shared_bytes = k
        .sink
        .toposort()
        .iter()
        .filter(|u| u.op() == Op::DefineLocal)
        .map(|u| match u.arg() {
            Arg::Buffer { numel, .. } => numel * u.dtype().size(),
            _ => 0,
        })
        .sum::<usize>()
        .try_into()
        .map_err(|_| CodegenError::Malformed("local memory does not fit the launch".into()))?;
    let axes = k.axes.iter().filter(|r| !map.contains_key(*r)).cloned().collect();
    let kernel = Kernel { sink: rewrite_ranges(&k.sink, &map, how), axes, ..k.clone() };
    Ok(Placed { kernel, launch, guard })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::late::{expand, group_reduce, vectorize};
    use crate::opt::hand_coded_optimizations;
    use crate::target::Target;

    use crate::test_programs as common;

    /// Renaming ranges to hardware indices needs no e-graph: a matmul, and a batched matmul whose two
    /// batch axes fold into `z` (attention's shape), come out the same placed with the greedy rules as
    /// with the full simplifier.
    #[test]
    fn placing_local_axes_greedily_changes_no_index() {
        let caps = Target::CUDA.caps;
        let programs = [
            common::matmul(&[], 64, 64, 64),
            common::matmul(&[2, 3], 32, 16, 32),
            common::matmul(&[4, 12], 64, 64, 64),
        ];
        for program in programs {
            let schedule = kiln_schedule::schedule(&[program]).expect("schedules");
            for kernel in &schedule.kernels {
                let lowered = crate::lower(&kernel.ast).expect("lowers");
                let (optimised, _) = hand_coded_optimizations(&lowered, &caps);
                let ready = vectorize(&group_reduce(&expand(&optimised), &caps), &caps);
                let greedy = place(&ready, &caps, Resimplify::Greedy).expect("places");
                let full = place(&ready, &caps, Resimplify::Full).expect("places");
                assert!(greedy.launch.local.iter().product::<u32>() > 1, "the kernel has local axes");
                assert_eq!(greedy.kernel.sink, full.kernel.sink);
            }
        }
    }
}
