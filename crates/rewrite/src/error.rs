//! The error type of kiln-rewrite.
//!
//! Owns every way a rewrite can fail; it must not carry graph handles, only names and counts.

/// Why a rewrite did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// The rule set kept rewriting past the bound on total rewrites: some rules form a loop.
    #[error("no fixed point after {rewrites} rewrites; rules that kept firing: {}", rules.join(", "))]
    NoFixedPoint {
        /// Names of the rules that fired most often, most frequent first.
        rules: Vec<String>,
        /// How many rewrites were applied before giving up.
        rewrites: usize,
    },
}
