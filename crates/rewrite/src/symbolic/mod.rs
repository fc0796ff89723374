//! The greedy symbolic rule set: pattern sets by topic, combined into `symbolic()`.
//!
//! Every rule here is local, cheap (microseconds) and preserves the value for every assignment of the
//! variables in range; rules that need search (e-graphs) belong to `crate::egraph`, not here.

mod common_factors;
mod comparisons;
mod const_fold;
mod div_mod;
mod identities;
mod min_max;
mod sum;

use crate::pattern::Rewriter;
use kiln_uop::{DType, UOp};
use std::sync::LazyLock;

pub(crate) use sum::structural_order;
pub use sum::Sum;

static SYMBOLIC: LazyLock<Rewriter> = LazyLock::new(|| {
    Rewriter::combine(&[
        &Rewriter::new(const_fold::patterns()),
        &Rewriter::new(identities::patterns()),
        &Rewriter::new(common_factors::patterns()),
        &Rewriter::new(div_mod::patterns()),
        &Rewriter::new(comparisons::patterns()),
        &Rewriter::new(min_max::patterns()),
    ])
});

/// The greedy symbolic rule set: constant folding, identities, div/mod by bounds, comparisons, min/max
/// and collection of like terms, with a canonical order of operands.
pub fn symbolic() -> &'static Rewriter {
    &SYMBOLIC
}

/// True for `Index` nodes, the exact integers of index arithmetic (the only dtype that reassociates).
fn is_index(u: &UOp) -> bool {
    u.dtype() == DType::Index
}

/// The constant divisor of an `Index` `Idiv`/`Mod` node, if it is a positive constant.
fn positive_divisor(u: &UOp) -> Option<i64> {
    (is_index(u)).then(|| u.src()[1].const_int()).flatten().filter(|c| *c > 0)
}

#[cfg(test)]
mod test_support {
    use crate::graph::graph_rewrite;
    use kiln_uop::UOp;

    /// Checks a table of `input -> expected` under the whole symbolic rule set.
    pub fn check(cases: &[(UOp, UOp)]) {
        for (input, expected) in cases {
            let got = graph_rewrite(input, super::symbolic());
            assert_eq!(got.as_ref(), Ok(expected), "simplifying {input}");
        }
    }
}
