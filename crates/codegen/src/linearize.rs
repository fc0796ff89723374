//! Linearization: the lowered kernel as instructions in execution order.
//!
//! Output ranges open first (C dialect) and close last. A `REDUCE` becomes `DEFINE_ACC`, its loops,
//! the body, `ASSIGN` and `END_RANGE` (long float sums carry a second, compensating accumulator);
//! everything in its body that does not depend on its ranges is
//! emitted before the loop (hoisted). The `REDUCE` node itself is emitted after the loop and stands for
//! the accumulator's final value.

use crate::error::CodegenError;
use crate::lower::{reduce_identity, Lowered};
use crate::program::{Param, Program};
use crate::target::Target;
use kiln_uop::{Arg, DType, Op, ReduceOp, UOp};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Float sums over at least this many elements accumulate with Kahan compensation: a serial f32
/// accumulator drifts (2^22 copies of 0.1 sum to 4% too little); a compensated one stays within a few
/// ulp of the exact sum whatever the length, at three extra adds per element.
pub const COMPENSATED_MIN_TRIPS: i64 = 4096;

/// Orders the lowered kernel into a [`Program`].
pub fn linearize(lowered: &Lowered, target: &Target) -> Result<Program, CodegenError> {
    let mut lin =
        Linearizer { out: Vec::new(), emitted: HashSet::new(), ranges: HashMap::new(), open: BTreeSet::new(), accs: 0 };
    let mut params: Vec<Param> = Vec::new();
    let nodes = lowered.sink.toposort();
    for g in &lowered.globals {
        let Arg::Buffer { numel, .. } = g.arg() else { unreachable!("lowering checked every global") };
        let written = lowered.sink.src().iter().any(|s| s.src()[0] == *g);
        params.push(Param { dtype: g.dtype(), numel: *numel, written });
        lin.push(g.clone());
    }
    let loops: Vec<UOp> = lowered.global_indices.iter().filter(|u| u.op() == Op::Range).cloned().collect();
    for g in &lowered.global_indices {
        let opened = lin.ranges_of(g);
        lin.open.extend(opened);
        lin.push(g.clone());
    }
    for store in lowered.sink.src() {
        lin.emit(store)?;
    }
    for r in loops.iter().rev() {
        lin.out.push(UOp::new(Op::EndRange, DType::Void, vec![r.clone()], Arg::None));
    }
    let global_size: usize = lowered.output_shape.iter().product();
    let index_fits_i32 = nodes.iter().filter(|u| u.dtype() == DType::Index).all(|u| {
        let (lo, hi) = u.bounds();
        lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX)
    }) && global_size < i32::MAX as usize;
    let has_reduce = nodes.iter().any(|u| u.op() == Op::Reduce);
    let dims: Vec<String> = lowered.output_shape.iter().map(ToString::to_string).collect();
    let name =
        format!("{}_{}", if has_reduce { "r" } else { "E" }, if dims.is_empty() { "1".into() } else { dims.join("_") });
    let flops = estimate_flops(&lin.out, if target.flattens_output() { global_size } else { 1 });
    let parallel_extent = match (target.flattens_output(), loops.first()) {
        (false, Some(r)) => usize::try_from(r.vmax() + 1).unwrap_or(1),
        _ => 1,
    };
    Ok(Program {
        name,
        instructions: lin.out,
        params,
        global_size,
        local_size: if target.flattens_output() { target.local_size } else { 1 },
        parallel_extent,
        index_fits_i32,
        flops,
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
        let Arg::Reduce(op) = u.arg() else { return Err(CodegenError::Malformed("REDUCE without op".into())) };
        let body = &u.src()[0];
        let own: BTreeSet<u32> = u.src()[1..].iter().flat_map(|r| self.ranges_of(r)).collect();
        // Hoist what the loop does not change: everything whose ranges are open already.
        for node in body.toposort() {
            if node.op() != Op::Range && !self.emitted.contains(&node) && self.ranges_of(&node).is_subset(&self.open) {
                self.emit(&node)?;
            }
        }
        let acc = self.accumulator(vec![reduce_identity(*op, u.dtype())]);
        let trips: i64 = u.src()[1..].iter().map(|r| r.vmax() + 1).product();
        let compensation = (*op == ReduceOp::Add && u.dtype().is_float() && trips >= COMPENSATED_MIN_TRIPS)
            .then(|| self.accumulator(vec![UOp::constant(u.dtype(), kiln_uop::ConstValue::Float(0.0)), acc.clone()]));
        for r in &u.src()[1..] {
            self.push(r.clone());
        }
        self.open.extend(own.iter().copied());
        self.emit(body)?;
        if let Some(c) = compensation {
            // Kahan: y = x - c; t = acc + y; c = (t - acc) - y; acc = t. Each step is its own value,
            // computed before either assignment.
            let y = body.sub(&c);
            let t = acc.add(&y);
            let lost = t.sub(&acc).sub(&y);
            for node in [&y, &t, &lost] {
                self.emit(node)?;
            }
            self.push(UOp::new(Op::Assign, u.dtype(), vec![c.clone(), lost], Arg::None));
            self.push(UOp::new(Op::Assign, u.dtype(), vec![acc.clone(), t], Arg::None));
        } else {
            let combined = match op {
                ReduceOp::Add => acc.add(body),
                ReduceOp::Mul => acc.mul(body),
                ReduceOp::Max => acc.max(body),
            };
            self.push(UOp::new(Op::Assign, u.dtype(), vec![acc.clone(), combined], Arg::None));
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
        self.push(u.clone());
        Ok(())
    }
}
