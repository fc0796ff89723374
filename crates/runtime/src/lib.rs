//! kiln-runtime: the `Device` interface, the CPU device, the on-disk kernel cache and the executor that
//! runs a schedule (codegen, compile, launch, `KILN_DEBUG` reporting).
//!
//! Unsafe code is allowed here, and only here below the device crates, for two reasons: CPU buffers are
//! raw allocations handed to generated C, and compiled kernels are called through loaded shared objects.
#![allow(unsafe_code)]

mod cache;
mod cpu;
mod debug;
mod device;
mod error;
mod execute;
mod memo;
mod profile;
mod timer;

pub use cache::{cache_dir, content_hash, DiskCache};
pub use cpu::CpuDevice;
pub use debug::debug_level;
pub use device::{check_copy, check_launch_args, live_buffers, source_text, Buffer, CompiledKernel, Device, RawBuffer};
pub use error::RuntimeError;
pub use execute::{run_schedule, PhaseTimes};
pub use memo::{memo_capacity, LruMemo};
pub use profile::{record_phases, set_profiling, take_launches, take_phases, LaunchRecord, PhaseTotals};
pub use timer::Timer;
