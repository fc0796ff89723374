//! A log of kernel launches with device times, for per-kernel tables (quickstart, benchmarks).
//! Off by default; while on, every launch is timed (and so synchronised).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// One launched kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchRecord {
    /// Device name.
    pub device: String,
    /// Kernel name.
    pub name: String,
    /// Output elements.
    pub global_size: usize,
    /// Device time in seconds.
    pub seconds: f64,
}

static LOG: Mutex<Vec<LaunchRecord>> = Mutex::new(Vec::new());
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns launch recording on or off.
pub fn set_profiling(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub(crate) fn record(r: LaunchRecord) {
    if enabled() {
        LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(r);
    }
}

/// Takes (and clears) the launches recorded so far.
pub fn take_launches() -> Vec<LaunchRecord> {
    std::mem::take(&mut *LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}
