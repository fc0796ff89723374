//! The egg-based index simplifier: runs the conditional rules of `rules.rs` over an e-graph with the
//! interval analysis, under node, iteration and time limits, and extracts the cheapest form.
//! It must not be called on the hot path without the greedy rules first (see `crate::simplify`).

mod analysis;
mod convert;
mod cost;
mod language;
mod rules;

use analysis::IntervalAnalysis;
use egg::{Extractor, Runner};
use kiln_uop::UOp;
use std::time::Duration;

/// Bounds on one e-graph run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EggLimits {
    /// Most e-nodes in the graph.
    pub nodes: usize,
    /// Most rule-application rounds.
    pub iterations: usize,
    /// Wall-clock limit.
    pub time: Duration,
}

impl Default for EggLimits {
    /// Small limits for the hot path: a typical index expression saturates or stops in about a
    /// millisecond.
    fn default() -> EggLimits {
        EggLimits { nodes: 1_500, iterations: 8, time: Duration::from_millis(50) }
    }
}

/// The cheapest equivalent of `expr` the e-graph finds within `limits`, or `None` when `expr` is not an
/// index or boolean expression or the result cannot be typed back.
pub fn simplify_with_egg(expr: &UOp, limits: EggLimits) -> Option<UOp> {
    let converted = convert::to_expr(expr)?;
    let leaves = converted.leaves.iter().map(|(s, (_, facts))| (*s, *facts)).collect();
    let analysis = IntervalAnalysis { leaves };
    let runner = Runner::<_, _, ()>::new(analysis)
        .with_node_limit(limits.nodes)
        .with_iter_limit(limits.iterations)
        .with_time_limit(limits.time)
        .with_expr(&converted.expr)
        .run(rules::rules());
    tracing::debug!(stop = ?runner.stop_reason, nodes = runner.egraph.total_number_of_nodes(), "egg run");
    let root = *runner.roots.first()?;
    let (_, best) = Extractor::new(&runner.egraph, cost::DivModCost).find_best(root);
    convert::from_expr(&best, &converted.leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_uop::RangeKind;

    #[test]
    fn egg_removes_div_mod_of_reshapes() {
        let r0 = UOp::range(6, 0, RangeKind::Global);
        let r1 = UOp::range(4, 1, RangeKind::Global);
        let flat = r0.mul(&UOp::index(4)).add(&r1);
        let limits = EggLimits::default();
        assert_eq!(simplify_with_egg(&flat.idiv(&UOp::index(4)).modulo(&UOp::index(6)), limits), Some(r0));
        assert_eq!(simplify_with_egg(&flat.modulo(&UOp::index(4)), limits), Some(r1.clone()));
        let gate = r1.lt(&UOp::index(1)).ne(&UOp::boolean(true));
        assert_eq!(simplify_with_egg(&gate, limits), Some(UOp::index(0).lt(&r1)));
    }
}
