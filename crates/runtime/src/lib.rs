//! kiln-runtime: the `Device` interface, the CPU device, the on-disk kernel cache, the execution
//! plan that runs a schedule (codegen, parallel compile, buffers by lifetime, batched launches,
//! `KILN_DEBUG` reporting) and captured graphs of launches that replay as one unit.
//!
//! Unsafe code is allowed here, and only here below the device crates, for two reasons: CPU buffers are
//! raw allocations handed to generated C, and compiled kernels are called through loaded shared objects.
#![allow(unsafe_code)]

mod cache;
mod compile;
mod cpu;
mod debug;
mod device;
mod error;
mod exit;
mod graph;
mod lifetime;
mod memo;
mod plan;
mod profile;
mod recycle;
mod timer;

pub use cache::{cache_dir, content_hash, DiskCache};
pub use compile::PhaseTimes;
pub use cpu::CpuDevice;
pub use debug::debug_level;
pub use device::{check_copy, check_launch_args, live_buffers, source_text, Buffer, CompiledKernel, Device, RawBuffer};
pub use error::RuntimeError;
pub use exit::close_at_exit;
pub use graph::{apply_patches, capture, dependencies, reduced, DeviceGraph, Launch, Patch};
pub use memo::{memo_capacity, LruMemo};
pub use plan::{prepare, run_schedule, ExecPlan};
pub use profile::{record_phases, set_profiling, take_launches, take_phases, LaunchRecord, PhaseTotals};
pub use recycle::Recycler;
pub use timer::Timer;
