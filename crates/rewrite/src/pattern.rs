//! Patterns (one named rewrite rule each) and `Rewriter`, a rule set indexed by `Op`.
//!
//! A pattern only proposes a replacement for one node; walking the graph belongs to `graph.rs`.
//! Rules must return `None` (not the same node) when they do not apply.

use kiln_uop::{Op, UOp};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The rewrite function of a pattern: a replacement for the node, or `None`.
pub type RewriteFn = Box<dyn Fn(&UOp) -> Option<UOp> + Send + Sync>;

/// One named rule: the ops it can match and the function that rewrites a matching node.
pub struct Pattern {
    /// Rule name, as reported in traces and errors.
    pub name: &'static str,
    /// Ops of the nodes this rule can match; empty means every op.
    pub ops: Vec<Op>,
    /// The rewrite itself.
    pub rewrite: RewriteFn,
}

impl Pattern {
    /// A rule named `name` that is tried on nodes whose op is in `ops` (every node if `ops` is empty).
    pub fn new(
        name: &'static str,
        ops: &[Op],
        rewrite: impl Fn(&UOp) -> Option<UOp> + Send + Sync + 'static,
    ) -> Pattern {
        Pattern { name, ops: ops.to_vec(), rewrite: Box::new(rewrite) }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pattern").field("name", &self.name).field("ops", &self.ops).finish()
    }
}

/// A rule set. Rules are indexed by op, so a node is only tried against rules that can match it;
/// within one op, rules are tried in the order they were added.
#[derive(Default, Clone)]
pub struct Rewriter {
    patterns: Vec<Arc<Pattern>>,
    by_op: HashMap<Op, Vec<usize>>,
    any_op: Vec<usize>,
}

impl Rewriter {
    /// A rule set of `patterns`.
    pub fn new(patterns: Vec<Pattern>) -> Rewriter {
        let mut rewriter = Rewriter::default();
        rewriter.extend(patterns);
        rewriter
    }

    /// Adds `patterns` after the existing ones.
    pub fn extend(&mut self, patterns: Vec<Pattern>) {
        for pattern in patterns {
            self.push(Arc::new(pattern));
        }
    }

    /// A rule set holding the rules of every set in `sets`, in order (rules are shared, not copied).
    pub fn combine(sets: &[&Rewriter]) -> Rewriter {
        let mut rewriter = Rewriter::default();
        for pattern in sets.iter().flat_map(|s| s.patterns.iter()) {
            rewriter.push(Arc::clone(pattern));
        }
        rewriter
    }

    fn push(&mut self, pattern: Arc<Pattern>) {
        let index = self.patterns.len();
        if pattern.ops.is_empty() {
            self.any_op.push(index);
            for list in self.by_op.values_mut() {
                list.push(index);
            }
        } else {
            for op in &pattern.ops {
                let any = &self.any_op;
                self.by_op.entry(*op).or_insert_with(|| any.clone()).push(index);
            }
        }
        self.patterns.push(pattern);
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// True when the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Names of all rules, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.patterns.iter().map(|p| p.name)
    }

    /// The first rule that rewrites `node` into a different node, with its result.
    pub fn apply(&self, node: &UOp) -> Option<(UOp, &'static str)> {
        let candidates = self.by_op.get(&node.op()).unwrap_or(&self.any_op);
        candidates.iter().find_map(|&i| {
            let pattern = &self.patterns[i];
            (pattern.rewrite)(node).filter(|new| new != node).map(|new| (new, pattern.name))
        })
    }
}

impl fmt::Debug for Rewriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_tried_only_on_their_ops() {
        let rewriter = Rewriter::new(vec![
            Pattern::new("add-to-zero", &[Op::Add], |_| Some(UOp::index(0))),
            Pattern::new("any-to-one", &[], |_| Some(UOp::index(1))),
        ]);
        let x = UOp::var("x", 0, 3);
        assert_eq!(rewriter.apply(&x.add(&x)).map(|(_, n)| n), Some("add-to-zero"));
        assert_eq!(rewriter.apply(&x.mul(&x)).map(|(_, n)| n), Some("any-to-one"));
        // A rule that returns the node itself does not fire.
        assert_eq!(rewriter.apply(&UOp::index(1)), None);
    }

    #[test]
    fn combined_sets_keep_order() {
        let a = Rewriter::new(vec![Pattern::new("a", &[Op::Mul], |_| None)]);
        let b = Rewriter::new(vec![Pattern::new("b", &[Op::Add], |_| None)]);
        let both = Rewriter::combine(&[&a, &b]);
        assert_eq!(both.names().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(both.len(), 2);
    }
}
