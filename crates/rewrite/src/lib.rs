//! kiln-rewrite: the pattern rewriter, symbolic rules and the egg-based index simplifier.
//!
//! It owns rewriting UOp graphs (`Pattern`, `Rewriter`, `graph_rewrite`), the greedy symbolic rule set
//! (`symbolic`), the linear view of an index (`Sum`, which codegen also uses to compare indices) and
//! index simplification (`simplify`). It must not know about kernels or devices.

// `UOp` caches its bounds in a `OnceLock`, but hashes and compares by node id only, so it is a sound
// hash-map key.
#![allow(clippy::mutable_key_type)]

mod egraph;
mod error;
mod graph;
mod pattern;
mod simplify;
mod symbolic;

pub use egraph::{simplify_with_egg, EggLimits};
pub use error::RewriteError;
pub use graph::graph_rewrite;
pub use pattern::{Pattern, RewriteFn, Rewriter};
pub use simplify::{clear_memo, count_div_mod, simplify, simplify_greedy, size, Simplifier};
pub use symbolic::{symbolic, Sum};
