//! Realization points: which tensor nodes get their own buffer.
//!
//! A node is realized when it is a requested output, a `CONTIGUOUS`, or a reduction whose result is read
//! in a larger iteration space (reached through an `EXPAND`, which would recompute it per broadcast
//! element) or by more than one kernel. Everything
//! else is fused into the kernels that read it (elementwise work is recomputed rather than stored).

use crate::error::ScheduleError;
use kiln_uop::{Op, UOp};
use std::collections::{HashMap, HashSet};

/// The set of nodes that get a buffer, as a set of UOps.
pub(crate) fn realize_points(outputs: &[UOp]) -> Result<HashSet<UOp>, ScheduleError> {
    let mut points: HashSet<UOp> = HashSet::new();
    for out in outputs {
        if out.shape().is_none() {
            return Err(ScheduleError::NoShape { op: out.op() });
        }
        points.insert(out.clone());
    }
    for out in outputs {
        for u in out.toposort() {
            if u.op() == Op::Contiguous {
                points.insert(u.src()[0].clone());
            }
        }
    }
    // Grow the set until no fused reduce is read across an expand or by two kernels.
    loop {
        let mut claimed: HashMap<UOp, UOp> = HashMap::new();
        let mut new_points = Vec::new();
        for root in points.iter() {
            let mut stack = vec![(root.clone(), false, true)];
            let mut seen = HashSet::new();
            while let Some((u, through_expand, is_root)) = stack.pop() {
                if !is_root && (points.contains(&u) || u.op() == Op::Buffer) {
                    continue;
                }
                if !seen.insert((u.clone(), through_expand)) {
                    continue;
                }
                if !is_root && u.op() == Op::ReduceAxis {
                    let other_root = claimed.insert(u.clone(), root.clone()).is_some_and(|r| r != *root);
                    if through_expand || other_root {
                        new_points.push(u.clone());
                        continue;
                    }
                }
                let moved = through_expand || u.op() == Op::Expand;
                // A reduce starts a new iteration space for what it reads.
                let below = if u.op() == Op::ReduceAxis { false } else { moved };
                for s in u.src() {
                    stack.push((s.clone(), below, false));
                }
            }
        }
        if new_points.is_empty() {
            return Ok(points);
        }
        points.extend(new_points);
    }
}
