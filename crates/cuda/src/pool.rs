//! The stream-ordered memory pool behind `cuMemAllocAsync`. The driver's default pool hands freed
//! memory back at every synchronisation, so the next allocation maps fresh pages on the GPU's
//! timeline before its kernel can run (3 to 10 us for W1's 256 MiB output on the H200). kiln keeps
//! freed memory in the pool, as PyTorch's caching allocator does, and hands it back only when an
//! allocation would otherwise fail.

use cudarc::driver::{sys, CudaContext, DriverError};

/// The device's default memory pool, set to keep what is freed.
pub(crate) struct MemPool(sys::CUmemoryPool);

// SAFETY: a pool handle names a driver object that any thread may use while the context is current.
unsafe impl Send for MemPool {}
// SAFETY: as above; the driver synchronises its own use of the pool.
unsafe impl Sync for MemPool {}

impl MemPool {
    /// The default pool of `ctx`'s device, with no release threshold. `ctx` must be current.
    pub(crate) fn keeping(ctx: &CudaContext) -> Result<MemPool, DriverError> {
        let mut pool = std::ptr::null_mut();
        // SAFETY: writes the device's default pool handle into `pool`.
        unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) }.result()?;
        let mut keep = u64::MAX;
        let threshold = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
        // SAFETY: the release threshold is a `cuuint64_t`, read from `keep` during the call.
        unsafe { sys::cuMemPoolSetAttribute(pool, threshold, (&raw mut keep).cast()) }.result()?;
        Ok(MemPool(pool))
    }

    /// Hands every byte the pool holds beyond live allocations back to the driver. Frees still
    /// queued on a stream are not yet in the pool: drain the stream first.
    pub(crate) fn trim(&self) -> Result<(), DriverError> {
        // SAFETY: `self.0` is the device's default pool, alive as long as the context.
        unsafe { sys::cuMemPoolTrimTo(self.0, 0) }.result()
    }
}
