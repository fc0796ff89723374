//! Which inputs a kernel reads with the evict-first cache hint. A reducing kernel that reads each
//! element of an input exactly once (the input's size is the kernel's whole iteration space: no axis
//! broadcasts it, as a matmul's operands are broadcast) gains nothing from keeping it cached, and
//! an input larger than the device's L2 cannot stay cached for the next kernel either; its lines
//! should not push out what can. Measured on the H200 (CUDA C++ of kiln's shapes, flushed as the bench
//! flushes): row means of 8192 x 4096 f32 40.0-41.7 us with plain loads, 37.1 with `__ldcs`; row sums
//! of 4096 x 16384 f32 70.4 against 69.9. Elementwise kernels keep plain loads: there the hint
//! measured slower (`a*b+c` over 2^26 f32: 4066 GB/s with it, 4380 without).

use crate::opt::{range_size, Kernel};
use crate::{Caps, Program};

/// Marks the parameters of `program` (compiled from `kernel`) that its loads should stream.
pub(crate) fn mark_streamed(program: &mut Program, kernel: &Kernel, caps: &Caps) {
    if caps.l2_bytes == 0 || kernel.reduces().is_empty() {
        return;
    }
    let space = kernel.axes.iter().map(range_size).try_fold(1usize, |n, s| n.checked_mul(s));
    for p in &mut program.params {
        let bytes = p.numel.saturating_mul(p.dtype.size());
        p.streamed = !p.written && Some(p.numel) == space && bytes > caps.l2_bytes as usize;
    }
}
