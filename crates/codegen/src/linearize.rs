//! Linearization: the lowered kernel as instructions in execution order.
//!
//! Output ranges open first (C dialect) and close last. A `REDUCE` becomes `DEFINE_ACC`, its loops,
//! the body, `ASSIGN` and `END_RANGE` (long float sums carry a second, compensating accumulator);
//! everything in its body that does not depend on its ranges is
//! emitted before the loop (hoisted). The `REDUCE` node itself is emitted after the loop and stands for
//! the accumulator's final value.

use crate::error::CodegenError;
use crate::late::{decompose, Placed};
use crate::lower::reduce_identity;
use crate::opt::{range_kind, range_size};
use crate::program::{Param, Program};
use kiln_uop::{Arg, DType, Op, RangeKind, ReduceOp, UOp};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Float sums of at least this many elements into one accumulator (loop trips times the unrolled
/// copies summed per trip) accumulate with Kahan compensation: a serial f32 accumulator drifts (2^22
/// copies of 0.1 sum to 4% too little); a compensated one stays within a few ulp of the exact sum
/// whatever the length, at three extra adds per trip.
pub const COMPENSATED_MIN_ELEMENTS: i64 = 4096;

/// How many values a reduction body adds per trip: the leaves of its chain of float additions (the
/// copies an unroll summed; a body that is itself a sum counts its terms, erring towards compensation;
/// a leaf that is itself a reduction, a block of a blocked sum, counts the elements it adds).
/// A chain of products is a contraction (a dot product, as in matmul): counted as one per trip, so it
/// rounds as BLAS does unless its loop alone is long, and a tiled matmul keeps its speed.
pub(crate) fn summands(body: &UOp) -> i64 {
    let mut leaves = Vec::new();
    let mut stack = vec![body.clone()];
    while let Some(u) = stack.pop() {
        if u.op() == Op::Add && u.dtype().is_float() {
            stack.extend(u.src().iter().cloned());
        } else {
            leaves.push(u);
        }
    }
    if leaves.iter().all(|l| l.op() == Op::Mul) {
        return 1;
    }
    leaves.iter().map(|l| if l.op() == Op::Reduce { elements(l) } else { 1 }).fold(0i64, i64::saturating_add)
}

/// The elements one accumulator of `reduce` adds: its loop trips times the values its body adds per
/// trip.
fn elements(reduce: &UOp) -> i64 {
    let trips: i64 = reduce.src()[1..].iter().map(|r| r.vmax() + 1).product();
    trips.saturating_mul(summands(&reduce.src()[0]))
}

/// Whether `reduce` accumulates with Kahan compensation: a float sum of at least
/// [`COMPENSATED_MIN_ELEMENTS`] elements.
pub(crate) fn compensated(reduce: &UOp) -> bool {
    *reduce.arg() == Arg::Reduce(ReduceOp::Add)
        && reduce.dtype().is_float()
        && elements(reduce) >= COMPENSATED_MIN_ELEMENTS
}

/// Orders a placed kernel into a [`Program`], named `r_...` when `reduced` (the kernel reduced before
/// unrolls and groups may have dissolved its `REDUCE`s), else `E_...`.
pub(crate) fn linearize(placed: &Placed, reduced: bool) -> Result<Program, CodegenError> {
    let kernel = &placed.kernel;
    let nodes = kernel.sink.toposort();
    let reduces: Vec<UOp> = nodes.iter().filter(|u| u.op() == Op::Reduce).cloned().collect();
    let mut lin = Linearizer {
        out: Vec::new(),
        emitted: HashSet::new(),
        ranges: HashMap::new(),
        open: BTreeSet::new(),
        accs: 0,
        reduces,
        inner: HashMap::new(),
    };
    let mut params: Vec<Param> = Vec::new();
    for g in &kernel.globals {
        let Arg::Buffer { numel, .. } = g.arg() else { unreachable!("lowering checked every global") };
        let written = kernel.sink.src().iter().any(|s| s.src()[0] == *g);
        params.push(Param { dtype: g.dtype(), numel: *numel, written, streamed: false });
        lin.push(g.clone());
    }
    if let Some(guard) = &placed.guard {
        lin.emit(guard)?;
        lin.push(UOp::new(Op::If, DType::Void, vec![guard.clone()], Arg::None));
    }
    // Output loops, a thread axis (CPU) first: the outermost loop is the one cut across cores.
    let loops: Vec<UOp> = kernel
        .axes
        .iter()
        .filter(|r| matches!(range_kind(r), Some(RangeKind::Thread | RangeKind::Global)))
        .cloned()
        .collect();
    for r in &loops {
        let opened = lin.ranges_of(r);
        lin.open.extend(opened);
        lin.push(r.clone());
    }
    for store in kernel.sink.src() {
        lin.emit(store)?;
    }
    for r in loops.iter().rev() {
        lin.out.push(UOp::new(Op::EndRange, DType::Void, vec![r.clone()], Arg::None));
    }
    if let Some(guard) = &placed.guard {
        lin.out.push(UOp::new(Op::EndIf, DType::Void, vec![guard.clone()], Arg::None));
    }
    let global_size: usize = kernel.output_shape.iter().product();
    let index_fits_i32 = nodes.iter().filter(|u| u.dtype() == DType::Index).all(|u| {
        let (lo, hi) = u.bounds();
        lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX)
    }) && global_size < i32::MAX as usize;
    let dims: Vec<String> = kernel.output_shape.iter().map(ToString::to_string).collect();
    let name =
        format!("{}_{}", if reduced { "r" } else { "E" }, if dims.is_empty() { "1".into() } else { dims.join("_") });
    let launch = placed.launch;
    let threads = launch.global.iter().chain(&launch.local).map(|&d| d as usize).product();
    let flops = estimate_flops(&lin.out, threads);
    let parallel_extent = loops.first().map_or(1, range_size);
    Ok(Program {
        name,
        instructions: lin.out,
        params,
        global_size,
        launch,
        parallel_extent,
        index_fits_i32,
        flops,
        opts: Vec::new(),
    })
}

/// Float ALU ops, each multiplied by the trip counts of its enclosing loops (and by the thread count
/// `base` for GPU dialects).
fn estimate_flops(instructions: &[UOp], base: usize) -> usize {
    let mut trip = vec![base];
    let mut total = 0usize;
    for u in instructions {
        match u.op() {
            Op::Range => trip.push(trip.last().copied().unwrap_or(1) * usize::try_from(u.vmax() + 1).unwrap_or(1)),
            Op::EndRange => {
                trip.pop();
            }
            op if op.is_alu() && u.dtype().is_float() => total += trip.last().copied().unwrap_or(1),
            _ => {}
        }
    }
    total
}

struct Linearizer {
    out: Vec<UOp>,
    emitted: HashSet<UOp>,
    ranges: HashMap<UOp, BTreeSet<u32>>,
    /// Ranges whose loops are open at the current point.
    open: BTreeSet<u32>,
    accs: usize,
    /// Every `REDUCE` of the kernel: those over the same ranges share one loop.
    reduces: Vec<UOp>,
    /// The `REDUCE`s in each reduce's graph (itself included), found once per reduce: an upcast makes
    /// many copies, and each asks of every other whether one reads the other.
    inner: HashMap<UOp, HashSet<UOp>>,
}

impl Linearizer {
    /// A new accumulator starting at `src[0]`, emitted before the loop that updates it. A second
    /// source marks a compensating accumulator and names the one it corrects (a `REDUCE` reads only
    /// the latter).
    fn accumulator(&mut self, src: Vec<UOp>) -> UOp {
        let acc = UOp::new(Op::DefineAcc, src[0].dtype(), src, Arg::Slot(self.accs));
        self.accs += 1;
        self.push(acc.clone());
        acc
    }

    /// Whether the reduce `outer` reads the reduce `r` (or is it).
    fn reads(&mut self, outer: &UOp, r: &UOp) -> bool {
        self.inner
            .entry(outer.clone())
            .or_insert_with(|| outer.toposort().into_iter().filter(|n| n.op() == Op::Reduce).collect())
            .contains(r)
    }

    fn push(&mut self, u: UOp) {
        if self.emitted.insert(u.clone()) {
            self.out.push(u);
        }
    }

    /// Ids of the reduce ranges `u` depends on.
    fn ranges_of(&mut self, u: &UOp) -> BTreeSet<u32> {
        if let Some(r) = self.ranges.get(u) {
            return r.clone();
        }
        let mut set = BTreeSet::new();
        if let (Op::Range, Arg::Range { id, .. }) = (u.op(), u.arg()) {
            set.insert(*id);
        }
        if u.op() == Op::Reduce {
            // A reduce's value no longer depends on its own ranges, only on what its body reads.
            let own: BTreeSet<u32> = u.src()[1..].iter().flat_map(|r| self.ranges_of(r)).collect();
            set.extend(self.ranges_of(&u.src()[0]).difference(&own));
        } else {
            for s in u.src() {
                set.extend(self.ranges_of(s));
            }
        }
        self.ranges.insert(u.clone(), set.clone());
        set
    }

    fn emit(&mut self, u: &UOp) -> Result<(), CodegenError> {
        if self.emitted.contains(u) {
            return Ok(());
        }
        if u.op() == Op::Range {
            return Err(CodegenError::Malformed(format!("{u} is used outside its loop")));
        }
        if u.op() != Op::Reduce {
            for s in u.src() {
                self.emit(s)?;
            }
            self.push(u.clone());
            return Ok(());
        }
        // Reductions over the same ranges (copies made by an upcast) share one loop, each with its own
        // accumulator, so loads they share are read once per iteration.
        let candidates: Vec<UOp> = self
            .reduces
            .iter()
            .filter(|r| r.src()[1..] == u.src()[1..] && !self.emitted.contains(*r))
            .cloned()
            .collect();
        let mut siblings = Vec::with_capacity(candidates.len());
        for r in candidates {
            if r == *u || !(self.reads(&r, u) || self.reads(u, &r)) {
                siblings.push(r);
            }
        }
        let own: BTreeSet<u32> = u.src()[1..].iter().flat_map(|r| self.ranges_of(r)).collect();
        // Hoist what the loop does not change: everything whose ranges are open already.
        for m in &siblings {
            for node in m.src()[0].toposort() {
                if node.op() != Op::Range
                    && !self.emitted.contains(&node)
                    && self.ranges_of(&node).is_subset(&self.open)
                {
                    self.emit(&node)?;
                }
            }
        }
        let mut accs = Vec::new();
        for m in &siblings {
            let Arg::Reduce(op) = m.arg() else { return Err(CodegenError::Malformed("REDUCE without op".into())) };
            let acc = self.accumulator(vec![reduce_identity(*op, m.dtype())]);
            let compensation = compensated(m).then(|| {
                self.accumulator(vec![UOp::constant(m.dtype(), kiln_uop::ConstValue::Float(0.0)), acc.clone()])
            });
            accs.push((*op, acc, compensation));
        }
        for r in &u.src()[1..] {
            self.push(r.clone());
        }
        self.open.extend(own.iter().copied());
        for m in &siblings {
            self.emit(&m.src()[0])?;
        }
        for (m, (op, acc, compensation)) in siblings.iter().zip(&accs) {
            let body = &m.src()[0];
            if let Some(c) = compensation {
                // Kahan: y = x - c; t = acc + y; c = (t - acc) - y; acc = t. Each step is its own value,
                // computed before either assignment.
                let y = body.sub(c);
                let t = acc.add(&y);
                let lost = t.sub(acc).sub(&y);
                for node in [&y, &t, &lost] {
                    self.emit(node)?;
                }
                self.push(UOp::new(Op::Assign, m.dtype(), vec![c.clone(), lost], Arg::None));
                self.push(UOp::new(Op::Assign, m.dtype(), vec![acc.clone(), t], Arg::None));
            } else {
                let combined = decompose(&UOp::alu(op.alu(), vec![acc.clone(), body.clone()]))?;
                // What the update reads besides the accumulator and the body (a decomposed max's
                // comparisons) is computed in the loop, before it.
                for s in combined.src() {
                    if s != acc && s != body {
                        self.emit(s)?;
                    }
                }
                self.push(UOp::new(Op::Assign, m.dtype(), vec![acc.clone(), combined], Arg::None));
            }
        }
        for r in u.src()[1..].iter().rev() {
            self.out.push(UOp::new(Op::EndRange, DType::Void, vec![r.clone()], Arg::None));
        }
        for id in &own {
            self.open.remove(id);
        }
        // Nodes inside the loop that depend on its ranges are out of scope from here on.
        let emitted: Vec<UOp> = self.emitted.iter().cloned().collect();
        for n in emitted {
            if !self.ranges_of(&n).is_disjoint(&own) {
                self.emitted.remove(&n);
            }
        }
        // Renderers pair each REDUCE with the latest accumulator not yet taken: last defined, first read.
        for m in siblings.iter().rev() {
            self.push(m.clone());
        }
        Ok(())
    }
}
