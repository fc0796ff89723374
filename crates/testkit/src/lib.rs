//! Test support shared by kiln's crates: a check that cannot run here is a *skip*, printed loudly and
//! recorded in the file `KILN_SKIP_LOG` names, so CI's closing line counts it as skipped, never as
//! passed. Under `CI=true`, a missing tool that CI installs (NVRTC, spirv-val, lavapipe) is a failure.
//! Also the resident memory of the process, for tests that prove memory stays flat, and a closeness
//! check for f32 results.

use std::io::Write;

/// Records that `what` was not checked, and why.
/// The log line starts with the test's name (libtest names each test's thread after it), so a test
/// that skips several checks is counted once.
pub fn skip(what: &str, reason: &str) {
    let line = format!("SKIPPED {what}: {reason}");
    eprintln!("\n=== {line} ===\n");
    if let Some(path) = std::env::var_os("KILN_SKIP_LOG") {
        let test = std::thread::current().name().unwrap_or("main").to_string();
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
        if let Err(e) = file.and_then(|mut f| writeln!(f, "{test}\t{line}")) {
            panic!("cannot record a skipped check in KILN_SKIP_LOG: {e}");
        }
    }
}

/// True when running under CI (`CI=true`), where every tool CI installs must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `what` cannot be checked because `tool`, which CI installs, is missing: a failure in CI, a
/// recorded skip elsewhere.
pub fn missing_ci_tool(what: &str, tool: &str, reason: &str) {
    assert!(!in_ci(), "{what}: {tool} is missing under CI=true, where CI installs it ({reason})");
    skip(what, &format!("{tool} not found ({reason})"));
}

/// Bytes of this process resident in memory (Linux `/proc/self/statm`; 0 where it cannot be read).
pub fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Asserts that `got` matches `want` element by element within `tol * (1 + |want|)`.
pub fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{got:?} vs {want:?}");
    }
}
