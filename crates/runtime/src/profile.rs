//! A log of kernel launches with device times, for per-kernel tables (quickstart, benchmarks).
//! Off by default; while on, every launch is timed (and so synchronised). Also the phase times of
//! every realization (always recorded).

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

/// Wall time of each phase, summed over the realizations made since the last [`take_phases`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseTotals {
    /// Scheduling (measured by the frontend).
    pub schedule: std::time::Duration,
    /// Lowering, linearizing, rendering.
    pub codegen: std::time::Duration,
    /// Device compilation, disk cache included.
    pub compile: std::time::Duration,
    /// Launching (and, when timed, running) kernels.
    pub launch: std::time::Duration,
    /// Kernels launched.
    pub kernels: usize,
    /// Kernels generated and compiled (in-process memo misses).
    pub compiled: usize,
}

static PHASES: Mutex<PhaseTotals> = Mutex::new(PhaseTotals {
    schedule: std::time::Duration::ZERO,
    codegen: std::time::Duration::ZERO,
    compile: std::time::Duration::ZERO,
    launch: std::time::Duration::ZERO,
    kernels: 0,
    compiled: 0,
});

/// Adds one realization's phase times. Always on (one uncontended lock per realization), so that the
/// phases of untimed, unsynchronised launches can be read too.
pub fn record_phases(schedule: std::time::Duration, times: &crate::compile::PhaseTimes) {
    let mut p = PHASES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    p.schedule += schedule;
    p.codegen += times.codegen;
    p.compile += times.compile;
    p.launch += times.launch;
    p.kernels += times.kernels;
    p.compiled += times.compiled;
}

/// Takes (and clears) the phase totals recorded so far.
pub fn take_phases() -> PhaseTotals {
    std::mem::take(&mut *PHASES.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}
