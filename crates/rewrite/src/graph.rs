//! `graph_rewrite`: applies a `Rewriter` to a whole graph, bottom-up, to a fixed point.
//!
//! Owns the walk (iterative, so 100k-deep chains cannot overflow the stack), the memo and the bound on
//! total rewrites; it must not know any rule.

use crate::error::RewriteError;
use crate::pattern::Rewriter;
use kiln_uop::UOp;
use std::collections::HashMap;

/// Rewrites allowed per call before the rule set is declared looping, on top of a per-node allowance.
const BASE_REWRITE_LIMIT: usize = 100_000;
/// Extra rewrites allowed per node of the input graph, so large graphs are not cut short.
const REWRITES_PER_NODE: usize = 16;

enum Frame {
    /// Make sure the sources are done, then build the node.
    Visit(UOp),
    /// All sources are done: rebuild the node on their results and try the rules.
    Build(UOp),
    /// `from` was rewritten to `to`, whose result is now known: `from` gets the same result.
    Alias { from: UOp, to: UOp },
}

/// Rewrites `root` bottom-up (sources first) until no rule of `rw` applies anywhere.
///
/// Every node is rewritten repeatedly until no rule fires; the sources of a node a rule builds are
/// rewritten too. Results are memoised per node. A rule set that keeps firing (a loop such as
/// `a+b -> b+a`) returns [`RewriteError::NoFixedPoint`] naming the rules involved.
pub fn graph_rewrite(root: &UOp, rw: &Rewriter) -> Result<UOp, RewriteError> {
    let mut done: HashMap<UOp, UOp> = HashMap::new();
    let mut fired: HashMap<&'static str, usize> = HashMap::new();
    let mut rewrites = 0usize;
    let mut limit = None;
    let mut stack = vec![Frame::Visit(root.clone())];
    while let Some(frame) = stack.pop() {
        match frame {
            Frame::Visit(node) => {
                if done.contains_key(&node) {
                    continue;
                }
                let pending: Vec<Frame> =
                    node.src().iter().filter(|s| !done.contains_key(*s)).cloned().map(Frame::Visit).collect();
                stack.push(Frame::Build(node));
                stack.extend(pending);
            }
            Frame::Build(node) => {
                if done.contains_key(&node) {
                    continue;
                }
                let src: Vec<UOp> = node.src().iter().map(|s| done.get(s).unwrap_or(s).clone()).collect();
                let current = if src.as_slice() == node.src() { node.clone() } else { node.with_src(src) };
                match rw.apply(&current) {
                    Some((next, rule)) => {
                        tracing::trace!(rule, "rewrite");
                        rewrites += 1;
                        *fired.entry(rule).or_default() += 1;
                        let bound = *limit
                            .get_or_insert_with(|| BASE_REWRITE_LIMIT + REWRITES_PER_NODE * root.toposort().len());
                        if rewrites > bound {
                            return Err(no_fixed_point(fired, rewrites));
                        }
                        stack.push(Frame::Alias { from: node, to: next.clone() });
                        stack.push(Frame::Visit(next));
                    }
                    None => {
                        done.insert(current.clone(), current.clone());
                        done.insert(node, current);
                    }
                }
            }
            Frame::Alias { from, to } => {
                let result = done.get(&to).cloned().unwrap_or(to);
                done.insert(from, result);
            }
        }
    }
    Ok(done.get(root).cloned().unwrap_or_else(|| root.clone()))
}

/// The error for a rule set that kept firing: the rules that fired at least a tenth as often as the
/// most frequent one, most frequent first.
fn no_fixed_point(fired: HashMap<&'static str, usize>, rewrites: usize) -> RewriteError {
    let mut counts: Vec<(&'static str, usize)> = fired.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top = counts.first().map_or(0, |c| c.1);
    let rules = counts.into_iter().filter(|c| c.1 * 10 >= top).map(|c| c.0.to_string()).collect();
    RewriteError::NoFixedPoint { rules, rewrites }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;
    use kiln_uop::Op;

    #[test]
    fn commuting_forever_is_an_error_naming_the_rule() {
        let rw = Rewriter::new(vec![
            Pattern::new("swap-add", &[Op::Add], |u| Some(u.src()[1].add(&u.src()[0]))),
            Pattern::new("never", &[Op::Mul], |_| None),
        ]);
        let x = UOp::var("x", 0, 9);
        let y = UOp::var("y", 0, 9);
        match graph_rewrite(&x.add(&y), &rw) {
            Err(RewriteError::NoFixedPoint { rules, rewrites }) => {
                assert_eq!(rules, vec!["swap-add".to_string()]);
                assert!(rewrites > BASE_REWRITE_LIMIT);
            }
            other => panic!("expected NoFixedPoint, got {other:?}"),
        }
    }

    #[test]
    fn rewrites_children_first_and_rewrites_new_nodes() {
        // x*2 -> x+x, and x+x for the same x -> x: the built node is rewritten again.
        let rw = Rewriter::new(vec![
            Pattern::new("mul2-to-add", &[Op::Mul], |u| {
                (u.src()[1].const_int() == Some(2)).then(|| u.src()[0].add(&u.src()[0]))
            }),
            Pattern::new("add-self", &[Op::Add], |u| (u.src()[0] == u.src()[1]).then(|| u.src()[0].clone())),
        ]);
        let x = UOp::var("x", 0, 9);
        let e = x.mul(&UOp::index(2)).mul(&UOp::index(2));
        assert_eq!(graph_rewrite(&e, &rw), Ok(x));
    }

    #[test]
    fn deep_chains_do_not_overflow_the_stack() {
        let rw = Rewriter::new(vec![Pattern::new("drop-add-zero", &[Op::Add], |u| {
            (u.src()[1].const_int() == Some(0)).then(|| u.src()[0].clone())
        })]);
        let x = UOp::var("x", 0, 9);
        let mut e = x.clone();
        for i in 0..100_000 {
            e = e.add(&UOp::index(i % 2));
        }
        let out = graph_rewrite(&e, &rw).map(|u| u.toposort().len());
        // x, the constant 1 and 50,000 additions of it remain.
        assert_eq!(out, Ok(50_002));
    }
}
