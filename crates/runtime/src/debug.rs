//! `KILN_DEBUG`: 1 = one line per kernel launched, 2 = also phase timings, 3 = also kernel source,
//! 4 = also UOp graphs. Read once per process.

use std::sync::OnceLock;

/// The `KILN_DEBUG` level (0 when unset or unparsable).
pub fn debug_level() -> u8 {
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| std::env::var("KILN_DEBUG").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0))
}
