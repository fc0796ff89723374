//! Reverse-mode accumulation over a UOp graph (tinygrad's `compute_gradient`): find the nodes on a path
//! from the root to a target, then visit them parents first, applying each node's rule and summing the
//! gradients that reach a node along several paths. Both walks are loops over a topological order, so
//! graph depth never touches the stack.

use super::rules::{backward, differentiable};
use crate::error::Result;
use kiln_uop::UOp;
use std::collections::{HashMap, HashSet};

/// The gradient of `root` (seeded with `seed`) with respect to every node of `targets` that it depends
/// on. Gradients do not flow into `stops` (detached values), unless one is itself a target.
pub(super) fn compute(
    root: &UOp,
    seed: UOp,
    targets: &HashSet<UOp>,
    stops: &HashSet<UOp>,
) -> Result<HashMap<UOp, UOp>> {
    let order = root.toposort();
    // A node is on a target path if a source is a target or on a path; gradients stop at `stops`.
    let mut on_path: HashSet<UOp> = HashSet::new();
    for u in &order {
        let reaches = u.src().iter().any(|s| targets.contains(s) || on_path.contains(s));
        if reaches && !stops.contains(u) && differentiable(u.dtype()) {
            on_path.insert(u.clone());
        }
    }
    let mut grads: HashMap<UOp, UOp> = HashMap::from([(root.clone(), seed)]);
    for u in order.iter().rev() {
        if !on_path.contains(u) {
            continue;
        }
        let Some(ctx) = grads.get(u).cloned() else { continue };
        for (s, g) in u.src().iter().zip(backward(u, &ctx)?) {
            let Some(g) = g else { continue };
            if !(targets.contains(s) || on_path.contains(s)) {
                continue;
            }
            let total = match grads.remove(s) {
                Some(prev) => prev.add(&g),
                None => g,
            };
            grads.insert(s.clone(), total);
        }
    }
    Ok(grads)
}
