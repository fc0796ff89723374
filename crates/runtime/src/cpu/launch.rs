//! Running a compiled C kernel: the outer loop `[0, parallel_extent)` is cut into one chunk per core
//! when the kernel is big enough to pay for it, and the chunks run on rayon's persistent thread pool
//! (the calling thread takes the first), so a launch wakes parked workers instead of spawning threads.

use super::compiler::CKernel;
use crate::device::RawBuffer;
use kiln_codegen::Program;
use std::ffi::c_void;

/// Below this many (output elements + float ops) a kernel runs on the calling thread.
const PARALLEL_THRESHOLD: usize = 1 << 16;

/// Kernel arguments shared by the worker threads.
struct Args(Vec<*mut c_void>);
// SAFETY: the pointers are device buffers that outlive the launch; chunks of the outer loop write
// disjoint output elements, so sharing the pointer array across threads is race-free.
unsafe impl Sync for Args {}

impl Args {
    fn as_ptr(&self) -> *const *mut c_void {
        self.0.as_ptr()
    }
}

pub(crate) fn run(kernel: &CKernel, program: &Program, args: &[RawBuffer]) {
    let ptrs = Args(args.iter().map(|a| a.0 as *mut c_void).collect());
    let extent = program.parallel_extent.max(1);
    let work = program.global_size + program.flops;
    let threads = if work < PARALLEL_THRESHOLD { 1 } else { rayon::current_num_threads().min(extent) };
    let ptrs = &ptrs;
    let call = |lo: usize, hi: usize| {
        // SAFETY: the kernel was compiled from a program with `args.len()` parameters, each checked to
        // be large enough by the device before this call, and `lo..hi` lies within the outer loop.
        unsafe { (kernel.entry)(ptrs.as_ptr(), lo as i64, hi as i64) };
    };
    if threads <= 1 {
        call(0, extent);
        return;
    }
    let chunk = extent.div_ceil(threads);
    rayon::scope(|scope| {
        for t in 1..threads {
            let (lo, hi) = (t * chunk, ((t + 1) * chunk).min(extent));
            if lo < hi {
                scope.spawn(move |_| call(lo, hi));
            }
        }
        call(0, chunk.min(extent));
    });
}
