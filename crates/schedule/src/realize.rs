//! Realization points: which tensor nodes get their own buffer.
//!
//! A node is realized when it is a requested output, the source of a `CONTIGUOUS`, a reduction whose
//! result is read in a larger iteration space (through an `EXPAND`, which would recompute it per
//! broadcast element) or by more than one kernel, or elementwise work that more than one kernel would
//! otherwise recompute and that costs more than [`RECOMPUTE_LIMIT`] ops. Kernels are also capped: a
//! fused chain deeper than [`MAX_FUSED_DEPTH`] or larger than [`MAX_FUSED_OPS`] is cut by realizing a
//! node inside it, so no kernel grows without bound. Everything else is fused into its consumers.
//!
//! Every walk here visits the graph in topological order with explicit loops: graph depth is never
//! bounded by the stack.

use crate::error::ScheduleError;
use kiln_uop::{Arg, DType, Op, UOp};
use rustc_hash::{FxHashMap, FxHashSet};

/// Elementwise work shared by several kernels is recomputed in each only while it costs at most this
/// many ops; above, it is stored once (the residual stream of a deep network, say).
pub const RECOMPUTE_LIMIT: u64 = 16;
/// The longest chain of ops fused into one kernel.
pub const MAX_FUSED_DEPTH: u32 = 256;
/// The most ops fused into one kernel (counted as a tree, so shared nodes count once per use).
pub const MAX_FUSED_OPS: u64 = 4096;

/// Which kernels read a node, as seen from its consumers.
#[derive(Clone, Default)]
struct Readers {
    /// The kernel root that fuses this node, when exactly one does.
    root: Option<UOp>,
    /// More than one kernel reads (and would recompute) this node.
    shared: bool,
    /// Some kernel reaches this node through an `EXPAND` (without a reduction in between).
    through_expand: bool,
}

/// The set of nodes that get a buffer.
pub(crate) fn realize_points(outputs: &[UOp]) -> Result<FxHashSet<UOp>, ScheduleError> {
    let mut points: FxHashSet<UOp> = FxHashSet::default();
    for out in outputs {
        if out.shape().is_none() {
            return Err(ScheduleError::NoShape { op: out.op() });
        }
        points.insert(out.clone());
    }
    let sink = UOp::new(Op::Sink, DType::Void, outputs.to_vec(), Arg::None);
    let order = sink.toposort();
    let mut parents: FxHashMap<UOp, Vec<UOp>> = FxHashMap::default();
    for u in &order {
        if u.op() == Op::Contiguous {
            points.insert(u.src()[0].clone());
        }
        for s in u.src() {
            parents.entry(s.clone()).or_default().push(u.clone());
        }
    }
    // Each pass only adds points; stop when one adds none.
    loop {
        let before = points.len();
        let cost = fused_cost(&order, &points);
        mark_shared_work(&order, &parents, &cost, &mut points);
        cap_kernels(&order, &mut points);
        if points.len() == before {
            return Ok(points);
        }
    }
}

fn is_leaf(u: &UOp) -> bool {
    matches!(u.op(), Op::Buffer | Op::Const | Op::Sink)
}

/// Ops each node would bring into a kernel that fuses it (movement ops are free; points and leaves
/// cost nothing, being loads).
fn fused_cost(order: &[UOp], points: &FxHashSet<UOp>) -> FxHashMap<UOp, u64> {
    let mut cost: FxHashMap<UOp, u64> = FxHashMap::default();
    for u in order {
        let own = u64::from(!(is_leaf(u) || u.op().is_movement() || u.op() == Op::Contiguous));
        let below = u.src().iter().filter(|s| !points.contains(*s)).map(|s| cost.get(s).copied().unwrap_or(0));
        cost.insert(u.clone(), below.fold(own, u64::saturating_add));
    }
    cost
}

/// Walks from the outputs down (consumers before what they read) and realizes reductions read across an
/// expand or by two kernels, and costly elementwise work read by two kernels.
fn mark_shared_work(
    order: &[UOp],
    parents: &FxHashMap<UOp, Vec<UOp>>,
    cost: &FxHashMap<UOp, u64>,
    points: &mut FxHashSet<UOp>,
) {
    let mut readers: FxHashMap<UOp, Readers> = FxHashMap::default();
    for u in order.iter().rev() {
        if is_leaf(u) {
            continue;
        }
        let mut mine = Readers::default();
        for p in parents.get(u).into_iter().flatten().filter(|p| p.op() != Op::Sink) {
            let (root, shared, through) = if points.contains(p) {
                (p.clone(), false, false)
            } else {
                let r = &readers[p];
                match &r.root {
                    Some(root) => (root.clone(), r.shared, r.through_expand),
                    None => continue,
                }
            };
            match &mine.root {
                Some(existing) if *existing != root => mine.shared = true,
                Some(_) => {}
                None => mine.root = Some(root),
            }
            mine.shared |= shared;
            mine.through_expand |= p.op() != Op::ReduceAxis && (through || p.op() == Op::Expand);
        }
        if !points.contains(u) {
            let reduce_read_wide = u.op() == Op::ReduceAxis && (mine.through_expand || mine.shared);
            let costly_shared = mine.shared && cost.get(u).copied().unwrap_or(0) > RECOMPUTE_LIMIT;
            if reduce_read_wide || costly_shared {
                points.insert(u.clone());
            }
        }
        readers.insert(u.clone(), mine);
    }
}

/// Walks from the inputs up and realizes a node wherever the chain fused above the last point grows
/// past the depth or op cap.
fn cap_kernels(order: &[UOp], points: &mut FxHashSet<UOp>) {
    let mut size: FxHashMap<UOp, (u32, u64)> = FxHashMap::default();
    for u in order {
        if is_leaf(u) {
            size.insert(u.clone(), (0, 0));
            continue;
        }
        let (mut depth, mut ops) = (0u32, 1u64);
        for s in u.src().iter().filter(|s| !points.contains(*s)) {
            let (d, n) = size.get(s).copied().unwrap_or((0, 0));
            depth = depth.max(d);
            ops = ops.saturating_add(n);
        }
        depth += 1;
        if points.contains(u) || depth >= MAX_FUSED_DEPTH || ops >= MAX_FUSED_OPS {
            points.insert(u.clone());
            size.insert(u.clone(), (0, 0));
        } else {
            size.insert(u.clone(), (depth, ops));
        }
    }
}
