//! `simplify`: index and gate simplification. Greedy rules to a fixed point first; the e-graph only
//! when div/mod or compound comparisons remain; results memoised by structure in a bounded LRU memo. It
//! never fails and never returns a larger expression than it was given.

use crate::egraph::{simplify_with_egg, EggLimits};
use crate::graph::graph_rewrite;
use crate::symbolic::symbolic;
use kiln_uop::{Op, UOp};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

/// Memo entries kept; the least recently used goes first (keys hold their UOps alive, so the memo
/// must stay bounded).
const MEMO_CAPACITY: NonZeroUsize = NonZeroUsize::new(4_096).unwrap();

/// Results by expression, at most [`MEMO_CAPACITY`] of them.
type Memo = LruCache<UOp, UOp>;
/// Expressions with more nodes than this skip the e-graph (its cost grows with size).
const MAX_EGG_NODES: usize = 256;

/// A simplifier with its own memo and e-graph limits. `simplify` uses a shared global one.
#[derive(Debug)]
pub struct Simplifier {
    memo: Memo,
    limits: EggLimits,
}

impl Default for Simplifier {
    fn default() -> Simplifier {
        Simplifier::new(EggLimits::default())
    }
}

impl Simplifier {
    /// A simplifier with an empty memo and the given e-graph limits.
    pub fn new(limits: EggLimits) -> Simplifier {
        Simplifier { memo: Memo::new(MEMO_CAPACITY), limits }
    }

    /// `expr` simplified, from the memo if seen before.
    pub fn simplify(&mut self, expr: &UOp) -> UOp {
        if let Some(hit) = self.memo.get(expr) {
            return hit.clone();
        }
        let result = simplify_uncached(expr, self.limits);
        self.memo.put(expr.clone(), result.clone());
        result
    }

    /// Empties the memo.
    pub fn clear_memo(&mut self) {
        self.memo.clear();
    }
}

// Keys are UOps, not ids: a key holds its node alive, so its id cannot be reused for another
// expression while the entry exists.
static GLOBAL_MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(|| Mutex::new(Memo::new(MEMO_CAPACITY)));

fn global_memo() -> MutexGuard<'static, Memo> {
    // Every update is one call on the memo, so a poisoned lock leaves a consistent memo.
    GLOBAL_MEMO.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Simplifies an index or gate expression (see the module doc); memoised across calls and threads.
/// The lock is not held while simplifying, so threads simplify in parallel.
pub fn simplify(expr: &UOp) -> UOp {
    if let Some(hit) = global_memo().get(expr) {
        return hit.clone();
    }
    let result = simplify_uncached(expr, EggLimits::default());
    global_memo().put(expr.clone(), result.clone());
    result
}

/// Empties the memo of `simplify` (for cold measurements).
pub fn clear_memo() {
    global_memo().clear();
}

/// The greedy rules alone, to a fixed point; the input itself if they loop or grow it.
pub fn simplify_greedy(expr: &UOp) -> UOp {
    match graph_rewrite(expr, symbolic()) {
        Ok(result) if size(&result) <= size(expr) => result,
        Ok(_) => expr.clone(),
        Err(error) => {
            tracing::debug!(%error, "greedy simplification gave up");
            expr.clone()
        }
    }
}

fn simplify_uncached(expr: &UOp, limits: EggLimits) -> UOp {
    let greedy = simplify_greedy(expr);
    if !needs_egg(&greedy) {
        return greedy;
    }
    let Some(from_egg) = simplify_with_egg(&greedy, limits) else {
        return greedy;
    };
    let polished = match graph_rewrite(&from_egg, symbolic()) {
        Ok(p) if size(&p) <= size(&from_egg) => p,
        _ => from_egg,
    };
    if cost(&polished) < cost(&greedy) && size(&polished) <= size(&greedy) {
        tracing::debug!(from = %greedy, to = %polished, "egg improved");
        polished
    } else {
        greedy
    }
}

/// Distinct nodes of the expression.
pub fn size(expr: &UOp) -> usize {
    expr.toposort().len()
}

/// Number of `Idiv`/`Mod` nodes in the expression.
pub fn count_div_mod(expr: &UOp) -> usize {
    expr.toposort().iter().filter(|u| matches!(u.op(), Op::Idiv | Op::Mod)).count()
}

fn cost(expr: &UOp) -> (usize, usize) {
    (count_div_mod(expr), size(expr))
}

/// True when the greedy result still holds div/mod or a comparison of a compound expression, and is
/// small enough for the e-graph.
fn needs_egg(expr: &UOp) -> bool {
    let nodes = expr.toposort();
    let is_leaf = |u: &UOp| u.src().is_empty() || matches!(u.op(), Op::Range | Op::Special);
    nodes.len() <= MAX_EGG_NODES
        && nodes
            .iter()
            .any(|u| matches!(u.op(), Op::Idiv | Op::Mod) || (u.op().is_comparison() && !u.src().iter().all(is_leaf)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_uop::RangeKind;

    #[test]
    fn lowering_expressions_reach_minimal_forms() {
        let (a, b) = (6i64, 4i64);
        let r0 = UOp::range(a, 0, RangeKind::Global);
        let r1 = UOp::range(b, 1, RangeKind::Global);
        let i = UOp::index;
        let flat = r0.mul(&i(b)).add(&r1);
        assert_eq!(simplify(&flat.idiv(&i(b)).modulo(&i(a))), r0);
        assert_eq!(simplify(&flat.modulo(&i(b))), r1);
        let flipped = i(b - 1).add(&r1.mul(&i(-1)));
        assert_eq!(simplify(&i(b - 1).add(&flipped.mul(&i(-1)))), r1);
        // Memoised: the same answer again.
        assert_eq!(simplify(&flat.modulo(&i(b))), r1);
    }

    #[test]
    fn never_grows_the_input() {
        let x = UOp::var("x", 0, 9);
        let y = UOp::var("y", 0, 9);
        let e = x.add(&y).mul(&UOp::index(3));
        assert!(size(&simplify(&e)) <= size(&e));
        let mut own = Simplifier::new(EggLimits::default());
        assert_eq!(own.simplify(&e), simplify(&e));
        own.clear_memo();
    }

    #[test]
    fn the_memo_stays_bounded_and_keeps_recently_used_entries() {
        let mut own = Simplifier::default();
        let x = UOp::var("x", 0, 1 << 20);
        let first = x.add(&UOp::index(0));
        own.simplify(&first);
        let count = MEMO_CAPACITY.get() + 100;
        for k in 1..count {
            own.simplify(&x.add(&UOp::index(k as i64)));
            // Used again after every insert, so `first` is never the least recently used.
            own.simplify(&first);
        }
        assert_eq!(own.memo.len(), MEMO_CAPACITY.get());
        assert!(own.memo.contains(&first), "a recently used entry survives");
        assert!(own.memo.contains(&x.add(&UOp::index(count as i64 - 1))));
        assert!(!own.memo.contains(&x.add(&UOp::index(1))), "the least recently used goes first");
    }
}
