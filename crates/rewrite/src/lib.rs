//! kiln-rewrite: the pattern rewriter, symbolic rules and the egg-based index simplifier.
