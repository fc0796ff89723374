//! The e-class analysis: an interval `[lo, hi]` per e-class (a constant when `lo == hi`), from leaf
//! bounds and interval arithmetic; `modify` adds the constant node when an interval is one point.
//! It owns no rewrite rule; rules read these facts through `rules.rs` conditions.

use super::language::IndexLang;
use egg::{Analysis, DidMerge, EGraph, Id, Symbol};
use std::collections::HashMap;

/// What is known about an e-class: its values lie in `[lo, hi]`; booleans are `0..=1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Smallest value.
    pub lo: i64,
    /// Largest value.
    pub hi: i64,
    /// True when the class is boolean.
    pub is_bool: bool,
}

const FULL: Facts = Facts { lo: i64::MIN, hi: i64::MAX, is_bool: false };

impl Facts {
    /// The single value of the class, if the interval is one exact point (saturated ends are not exact).
    pub fn constant(&self) -> Option<i64> {
        (self.lo == self.hi && self.lo != i64::MIN && self.lo != i64::MAX).then_some(self.lo)
    }
    fn int(lo: i64, hi: i64) -> Facts {
        Facts { lo, hi, is_bool: false }
    }
    fn boolean(lo: i64, hi: i64) -> Facts {
        Facts { lo, hi, is_bool: true }
    }
}

/// Interval analysis; holds the facts of the leaf symbols.
#[derive(Debug, Default)]
pub struct IntervalAnalysis {
    /// Bounds of each leaf symbol, from the UOp it stands for.
    pub leaves: HashMap<Symbol, Facts>,
}

/// The e-graph type used by the simplifier.
pub type IndexGraph = EGraph<IndexLang, IntervalAnalysis>;

/// Interval of `a * b`.
pub fn mul_interval(a: Facts, b: Facts) -> (i64, i64) {
    let c =
        [a.lo.saturating_mul(b.lo), a.lo.saturating_mul(b.hi), a.hi.saturating_mul(b.lo), a.hi.saturating_mul(b.hi)];
    (c.iter().copied().min().unwrap_or(i64::MIN), c.iter().copied().max().unwrap_or(i64::MAX))
}

fn compare(lt: bool, a: Facts, b: Facts) -> Facts {
    if lt {
        return if a.hi < b.lo {
            Facts::boolean(1, 1)
        } else if a.lo >= b.hi {
            Facts::boolean(0, 0)
        } else {
            Facts::boolean(0, 1)
        };
    }
    // Not-equal.
    if a.hi < b.lo || b.hi < a.lo {
        Facts::boolean(1, 1)
    } else if a.constant().is_some() && a.constant() == b.constant() {
        Facts::boolean(0, 0)
    } else {
        Facts::boolean(0, 1)
    }
}

fn facts_of(egraph: &IndexGraph, enode: &IndexLang) -> Facts {
    let f = |id: &Id| egraph[*id].data;
    match enode {
        IndexLang::Num(n) => Facts::int(*n, *n),
        IndexLang::Bool(b) => Facts::boolean(i64::from(*b), i64::from(*b)),
        IndexLang::Symbol(s) => egraph.analysis.leaves.get(s).copied().unwrap_or(FULL),
        IndexLang::Add([a, b]) => Facts::int(f(a).lo.saturating_add(f(b).lo), f(a).hi.saturating_add(f(b).hi)),
        IndexLang::Mul([a, b]) => {
            let (lo, hi) = mul_interval(f(a), f(b));
            Facts::int(lo, hi)
        }
        IndexLang::Neg([a]) => Facts::int(f(a).hi.saturating_neg(), f(a).lo.saturating_neg()),
        IndexLang::Div([a, b]) => match f(b).constant() {
            // Truncating division by a positive constant is monotone in the dividend.
            Some(d) if d > 0 => Facts::int(f(a).lo / d, f(a).hi / d),
            _ => FULL,
        },
        IndexLang::Mod([a, b]) => match f(b).constant() {
            Some(d) if d > 0 => {
                let (lo, hi) = (f(a).lo, f(a).hi);
                if lo >= 0 && hi < d {
                    Facts::int(lo, hi)
                } else if lo >= 0 && lo / d == hi / d {
                    Facts::int(lo % d, hi % d)
                } else if lo >= 0 {
                    Facts::int(0, d - 1)
                } else if hi <= 0 {
                    Facts::int(-(d - 1), 0)
                } else {
                    Facts::int(-(d - 1), d - 1)
                }
            }
            _ => FULL,
        },
        IndexLang::Max([a, b]) => Facts::int(f(a).lo.max(f(b).lo), f(a).hi.max(f(b).hi)),
        IndexLang::Lt([a, b]) => compare(true, f(a), f(b)),
        IndexLang::Ne([a, b]) => compare(false, f(a), f(b)),
        IndexLang::Eq([a, b]) => {
            let ne = compare(false, f(a), f(b));
            Facts::boolean(1 - ne.hi, 1 - ne.lo)
        }
        IndexLang::And([a, b]) => Facts::boolean(f(a).lo.min(f(b).lo), f(a).hi.min(f(b).hi)),
        IndexLang::Or([a, b]) => Facts::boolean(f(a).lo.max(f(b).lo), f(a).hi.max(f(b).hi)),
        IndexLang::Not([a]) => Facts::boolean(1 - f(a).hi, 1 - f(a).lo),
        IndexLang::Where([c, a, b]) => {
            let is_bool = f(a).is_bool;
            match f(c).constant() {
                Some(1) => f(a),
                Some(0) => f(b),
                _ => Facts { lo: f(a).lo.min(f(b).lo), hi: f(a).hi.max(f(b).hi), is_bool },
            }
        }
    }
}

impl Analysis<IndexLang> for IntervalAnalysis {
    type Data = Facts;

    fn make(egraph: &mut IndexGraph, enode: &IndexLang) -> Facts {
        let mut facts = facts_of(egraph, enode);
        facts.is_bool |= enode.is_bool();
        facts
    }

    /// Both intervals hold for the merged class, so keep their intersection.
    fn merge(&mut self, to: &mut Facts, from: Facts) -> DidMerge {
        let merged = Facts { lo: to.lo.max(from.lo), hi: to.hi.min(from.hi), is_bool: to.is_bool || from.is_bool };
        if merged.lo > merged.hi {
            // Only possible for unreachable code (e.g. a guarded division); keep what we had.
            return DidMerge(false, true);
        }
        let changed_to = merged != *to;
        let changed_from = merged != from;
        *to = merged;
        DidMerge(changed_to, changed_from)
    }

    fn modify(egraph: &mut IndexGraph, id: Id) {
        let facts = egraph[id].data;
        if let Some(value) = facts.constant() {
            let node = if facts.is_bool { IndexLang::Bool(value != 0) } else { IndexLang::Num(value) };
            let added = egraph.add(node);
            egraph.union(id, added);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egg::RecExpr;

    fn facts_of_expr(expr: &str, leaves: &[(&str, i64, i64)]) -> Facts {
        let mut analysis = IntervalAnalysis::default();
        for (name, lo, hi) in leaves {
            analysis.leaves.insert(Symbol::from(*name), Facts::int(*lo, *hi));
        }
        let mut egraph = IndexGraph::new(analysis);
        let parsed: RecExpr<IndexLang> = expr.parse().expect("test expressions parse");
        let id = egraph.add_expr(&parsed);
        egraph.rebuild();
        egraph[id].data
    }

    #[test]
    fn intervals_follow_c_semantics() {
        let leaves = [("x", 0, 15), ("y", -3, 5)];
        assert_eq!(facts_of_expr("(+ (* x 4) 3)", &leaves), Facts::int(3, 63));
        assert_eq!(facts_of_expr("(/ (+ (* x 4) 3) 4)", &leaves), Facts::int(0, 15));
        assert_eq!(facts_of_expr("(% x 4)", &leaves), Facts::int(0, 3));
        assert_eq!(facts_of_expr("(% y 4)", &leaves), Facts::int(-3, 3));
        assert_eq!(facts_of_expr("(* y y)", &leaves), Facts::int(-15, 25));
        assert_eq!(facts_of_expr("(max y 0)", &leaves), Facts::int(0, 5));
        assert_eq!(facts_of_expr("(/ x 0)", &leaves), FULL);
    }

    #[test]
    fn decided_comparisons_become_constants() {
        let leaves = [("x", 0, 15)];
        assert_eq!(facts_of_expr("(< x 16)", &leaves).constant(), Some(1));
        assert_eq!(facts_of_expr("(< x 0)", &leaves).constant(), Some(0));
        assert_eq!(facts_of_expr("(< x 8)", &leaves), Facts::boolean(0, 1));
        assert_eq!(facts_of_expr("(not (< x 16))", &leaves).constant(), Some(0));
        assert_eq!(facts_of_expr("(/ x 16)", &leaves).constant(), Some(0));
    }
}
