//! Hand-coded heuristics: small named rules that choose a kernel's opts, after tinygrad's
//! `heuristic.py`. Each rule tries its opts and keeps those the kernel and device accept.
//! `KILN_OPT=0` turns them off (see `compile_kernel`).

use super::kernel::{range_size, Kernel};
use super::OptOp;
use crate::late::vector_lanes;
use crate::target::Caps;
use kiln_uop::RangeKind;

/// Outputs below this many leave threads idle unless a long reduction is split across a block.
const FEW_OUTPUTS: usize = 1 << 14;
/// Outputs below this many group even a short reduction.
const VERY_FEW_OUTPUTS: usize = 2048;
/// Threads a grouped reduction tries per block, largest first.
const GROUP_SIZES: [usize; 6] = [512, 256, 128, 64, 32, 16];
/// Groups wider than this many threads only where each thread still loads at least
/// [`MIN_VECTORS_PER_THREAD`] vectors. Measured on the H200: 4096x16384 f32 row sums 3790 -> 3817 GB/s
/// with 512 threads of eight vectors each instead of 256 of sixteen.
const WIDE_GROUP: usize = 256;
/// See [`WIDE_GROUP`].
const MIN_VECTORS_PER_THREAD: usize = 4;

/// Applies `opt` if the kernel accepts it; returns whether it did.
fn try_opt(k: &mut Kernel, opts: &mut Vec<OptOp>, opt: OptOp, caps: &Caps) -> bool {
    match k.apply_opt(opt, caps) {
        Ok(next) => {
            *k = next;
            opts.push(opt);
            true
        }
        Err(_) => false,
    }
}

/// The position of the axis of `kind` that is `nth` from the end.
fn last_of(k: &Kernel, kind: RangeKind, nth: usize) -> Option<usize> {
    k.axes_of(kind).iter().rev().nth(nth).copied()
}

/// Grouped reduction: few outputs with a reduction to share among threads (row sums, softmax and
/// layernorm statistics, matrix-vector products). Consecutive threads read consecutive elements.
fn group_long_reduce(k: &mut Kernel, opts: &mut Vec<OptOp>, caps: &Caps) -> bool {
    let outputs: usize = k.axes_of(RangeKind::Global).iter().map(|&a| range_size(&k.axes[a])).product();
    if !caps.has_local {
        return false;
    }
    // The last reduce axis that a group accepts (those of a nested reduction are refused).
    let grouped = k.axes_of(RangeKind::Reduce).into_iter().rev().any(|axis| {
        let length = range_size(&k.axes[axis]);
        let worth = (outputs <= FEW_OUTPUTS && length >= 256) || (outputs <= VERY_FEW_OUTPUTS && length >= 64);
        if !worth {
            return false;
        }
        // Where loads become vectors, each thread first takes one 16-byte vector of consecutive
        // elements and the group splits what remains; undone if no group then fits.
        let (before, applied) = (k.clone(), opts.len());
        let mut vectors = None;
        if let Some(width) = vector_width(k, caps) {
            if length.is_multiple_of(width)
                && length / width >= 64
                && try_opt(k, opts, OptOp::Unroll { axis, amt: width }, caps)
            {
                vectors = Some(length / width);
            }
        }
        let enough_each =
            |amt: &&usize| **amt <= WIDE_GROUP || vectors.is_some_and(|v| v / **amt >= MIN_VECTORS_PER_THREAD);
        if GROUP_SIZES.iter().filter(enough_each).any(|&amt| try_opt(k, opts, OptOp::Group { axis, amt }, caps)) {
            return true;
        }
        *k = before;
        opts.truncate(applied);
        false
    });
    if !grouped {
        return false;
    }
    // Four elements per iteration of what each thread still loops over: more loads in flight, and a
    // quarter of the trips (drivers that bound loop trips, like llvmpipe, see fewer).
    if let Some(rest) = last_of(k, RangeKind::Reduce, 0) {
        if range_size(&k.axes[rest]) >= 16 {
            try_opt(k, opts, OptOp::Unroll { axis: rest, amt: 4 }, caps);
        }
    }
    true
}

/// Enough outputs that a quarter of them still fills a large GPU with threads.
const MANY_OUTPUTS: usize = 1 << 18;

/// Elements of one 16-byte vector of the kernel's narrowest buffer type (4 for f32, 8 for f16 and
/// bf16 where the device vectorises them), or `None` unless every buffer of the kernel has vectors on
/// this device (a kernel whose main buffer stays scalar keeps the pattern that coalesces scalar loads).
fn vector_width(k: &Kernel, caps: &Caps) -> Option<usize> {
    let lanes: Option<Vec<i64>> = k.globals.iter().map(|g| vector_lanes(g.dtype(), caps)).collect();
    lanes?.into_iter().max().map(|n| n as usize)
}

/// Vector accesses for elementwise work: each thread computes one vector's worth of consecutive
/// outputs of the last axis, so its loads and its store of contiguous buffers become vector accesses.
fn upcast_contiguous(k: &mut Kernel, opts: &mut Vec<OptOp>, caps: &Caps) {
    let outputs: usize = k.axes_of(RangeKind::Global).iter().map(|&a| range_size(&k.axes[a])).product();
    if !k.axes_of(RangeKind::Reduce).is_empty() || outputs < MANY_OUTPUTS {
        return;
    }
    let Some(width) = vector_width(k, caps) else { return };
    if let Some(axis) = last_of(k, RangeKind::Global, 0) {
        if range_size(&k.axes[axis]).is_multiple_of(width) {
            try_opt(k, opts, OptOp::Upcast { axis, amt: width }, caps);
        }
    }
}

/// Register tiling of a contraction: each thread computes a 4x4 tile of outputs, so every load feeds
/// four multiply-adds; the reduction is unrolled by 4.
fn tile_contraction(k: &mut Kernel, opts: &mut Vec<OptOp>, caps: &Caps) {
    if k.axes_of(RangeKind::Reduce).is_empty() || k.axes_of(RangeKind::Global).len() < 2 {
        return;
    }
    // The CPU has no blocks to share loads: an 8x16 register tile (16 lanes along the contiguous axis,
    // two AVX vectors, times 8 rows) gives each load more reuse and 16 independent accumulator chains.
    // Measured on the 2-core AVX-512 dev VM, one thread, 1024^3 f32: 4x8 with a 4-way reduce unroll
    // 15.5 GFLOP/s, 8x16 without unroll 42.7 (an unroll sums its products in a chain the C compiler
    // does not vectorise).
    let widths = if caps.has_local { [4, 4] } else { [16, 8] };
    for (nth, amt) in widths.into_iter().enumerate() {
        if let Some(axis) = last_of(k, RangeKind::Global, nth) {
            if range_size(&k.axes[axis]) >= 16 {
                try_opt(k, opts, OptOp::Upcast { axis, amt }, caps);
            }
        }
    }
    if caps.has_local {
        // 16x16 threads per block over the two innermost output axes (8x8 where blocks are small).
        let side = if caps.max_local_total >= 256 { 16 } else { 8 };
        // The two innermost output ranges, found again by identity after each split.
        let targets: Vec<_> =
            (0..2).filter_map(|nth| last_of(k, RangeKind::Global, nth)).map(|a| k.axes[a].clone()).collect();
        for r in targets {
            if let Some(axis) = k.axes.iter().position(|a| *a == r) {
                try_opt(k, opts, OptOp::Local { axis, amt: side }, caps);
            }
        }
    }
    if caps.has_local {
        if let Some(axis) = last_of(k, RangeKind::Reduce, 0) {
            try_opt(k, opts, OptOp::Unroll { axis, amt: 4 }, caps);
        }
    }
}

/// Unrolled reduction on the CPU: eight elements per iteration, summed before they meet the
/// accumulator, which the C compiler turns into vector loads and adds.
fn unroll_reduce(k: &mut Kernel, opts: &mut Vec<OptOp>, caps: &Caps) {
    if let Some(axis) = last_of(k, RangeKind::Reduce, 0) {
        for amt in [8, 4, 2] {
            if try_opt(k, opts, OptOp::Unroll { axis, amt }, caps) {
                return;
            }
        }
    }
}

/// CPU threads for a kernel whose outermost loop is too short to give every core work (fewer
/// iterations than threads): the longest output axis is cut into one contiguous chunk per thread.
fn thread_outputs(k: &mut Kernel, opts: &mut Vec<OptOp>, caps: &Caps) {
    let threads = caps.threads as usize;
    let globals = k.axes_of(RangeKind::Global);
    let Some(&first) = globals.first() else { return };
    if caps.has_local || threads < 2 || range_size(&k.axes[first]) >= threads {
        return;
    }
    let Some(&axis) = globals.iter().max_by_key(|&&a| range_size(&k.axes[a])) else { return };
    let size = range_size(&k.axes[axis]);
    if let Some(amt) = (2..=threads).rev().find(|&t| size.is_multiple_of(t) && size / t >= 2) {
        if amt > range_size(&k.axes[first]) {
            try_opt(k, opts, OptOp::Thread { axis, amt }, caps);
        }
    }
}

/// The kernel with the opts the rules chose, and those opts in order.
pub fn hand_coded_optimizations(kernel: &Kernel, caps: &Caps) -> (Kernel, Vec<OptOp>) {
    let mut k = kernel.clone();
    let mut opts = Vec::new();
    if group_long_reduce(&mut k, &mut opts, caps) {
        return (k, opts);
    }
    let contraction = k.axes_of(RangeKind::Global).len() >= 2 && !k.axes_of(RangeKind::Reduce).is_empty();
    if contraction {
        tile_contraction(&mut k, &mut opts, caps);
    } else if caps.has_local {
        upcast_contiguous(&mut k, &mut opts, caps);
    } else {
        unroll_reduce(&mut k, &mut opts, caps);
    }
    thread_outputs(&mut k, &mut opts, caps);
    (k, opts)
}
