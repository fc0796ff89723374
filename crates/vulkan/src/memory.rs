//! Buffers: one `VkBuffer` per allocation, bound to a range of a large memory block that the device's
//! [`Pool`] (gpu-allocator) sub-allocates. Drivers cap the number of live `vkAllocateMemory` blocks
//! (`maxMemoryAllocationCount`, 4096 on many), so one block per buffer would fail long before memory
//! runs out. With unified memory (integrated GPUs, lavapipe) the memory is host-visible and its block
//! stays mapped, so copies are memcpy; otherwise it is device-local and copies go through a
//! host-visible staging buffer.

use crate::context::Context;
use ash::vk;
use gpu_allocator::vulkan::{AllocationCreateDesc, AllocationScheme, Allocator, AllocatorCreateDesc};
use gpu_allocator::{AllocationSizes, AllocatorDebugSettings, MemoryLocation};
use kiln_runtime::RuntimeError;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The memory blocks of one logical device and the sub-allocator that hands out ranges of them. It
/// must be dropped before the device is destroyed (it frees its blocks).
pub(crate) struct Pool(Mutex<Allocator>);

impl Pool {
    /// A pool for `device`, created from `physical` of `instance`.
    pub(crate) fn new(
        instance: &ash::Instance,
        device: &ash::Device,
        physical: vk::PhysicalDevice,
    ) -> Result<Pool, String> {
        let desc = AllocatorCreateDesc {
            instance: instance.clone(),
            device: device.clone(),
            physical_device: physical,
            debug_settings: AllocatorDebugSettings::default(),
            buffer_device_address: false,
            allocation_sizes: AllocationSizes::default(),
        };
        Allocator::new(&desc).map(|a| Pool(Mutex::new(a))).map_err(|e| format!("gpu-allocator: {e}"))
    }

    fn lock(&self) -> MutexGuard<'_, Allocator> {
        // Every update is one call on the allocator, so a poisoned lock still guards consistent state.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Memory blocks (`vkAllocateMemory` calls) held now.
    #[cfg(test)]
    pub(crate) fn blocks(&self) -> usize {
        self.lock().generate_report().blocks.len()
    }
}

/// One buffer and its range of a pool block.
pub(crate) struct Allocation {
    pub buffer: vk::Buffer,
    memory: gpu_allocator::vulkan::Allocation,
    /// Bytes asked for (what launches and copies may touch).
    pub bytes: usize,
    /// Bytes of the `VkBuffer` (at least 4, a multiple of 4).
    pub size: u64,
}

impl Allocation {
    /// The size of the buffer that holds `bytes` (at least 4, a multiple of 4, as storage buffers need).
    pub(crate) fn size_for(bytes: usize) -> u64 {
        (bytes.max(4).next_multiple_of(4)) as u64
    }

    /// Allocates a buffer of `bytes`: host-visible and mapped when `host` is set, else device-local.
    pub(crate) fn new(ctx: &Context, bytes: usize, host: bool, label: &str) -> Result<Allocation, RuntimeError> {
        let oom = |detail: String| RuntimeError::OutOfMemory { device: label.to_string(), bytes, detail };
        let size = Allocation::size_for(bytes);
        if size > ctx.max_allocation {
            return Err(oom(format!("above this device's maxMemoryAllocationSize of {} bytes", ctx.max_allocation)));
        }
        let usage = vk::BufferUsageFlags::STORAGE_BUFFER
            | vk::BufferUsageFlags::TRANSFER_SRC
            | vk::BufferUsageFlags::TRANSFER_DST;
        let info = vk::BufferCreateInfo::default().size(size).usage(usage).sharing_mode(vk::SharingMode::EXCLUSIVE);
        // SAFETY: a valid create info on a live device; the buffer is destroyed on every failure below.
        let buffer =
            unsafe { ctx.device.create_buffer(&info, None) }.map_err(|e| oom(format!("vkCreateBuffer: {e}")))?;
        let destroy = || {
            // SAFETY: the buffer is live and unused.
            unsafe { ctx.device.destroy_buffer(buffer, None) }
        };
        // SAFETY: `buffer` is live.
        let requirements = unsafe { ctx.device.get_buffer_memory_requirements(buffer) };
        // CpuToGpu prefers host-visible, coherent, device-local memory, then host-visible and coherent
        // memory; GpuOnly is device-local.
        let location = if host { MemoryLocation::CpuToGpu } else { MemoryLocation::GpuOnly };
        let desc = AllocationCreateDesc {
            name: "kiln buffer",
            requirements,
            location,
            linear: true,
            allocation_scheme: AllocationScheme::GpuAllocatorManaged,
        };
        let memory = match ctx.pool.lock().allocate(&desc) {
            Ok(m) => m,
            Err(e) => {
                destroy();
                return Err(oom(format!("gpu-allocator: {e}")));
            }
        };
        let allocation = Allocation { buffer, memory, bytes, size };
        let mapped = !host || allocation.memory.mapped_ptr().is_some();
        // SAFETY: a fresh buffer and a range of at least its required size and alignment.
        let bound =
            unsafe { ctx.device.bind_buffer_memory(buffer, allocation.memory.memory(), allocation.memory.offset()) };
        match bound {
            Ok(()) if mapped => Ok(allocation),
            Ok(()) => {
                allocation.destroy(ctx);
                Err(oom("host-visible memory that is not mapped".into()))
            }
            Err(e) => {
                allocation.destroy(ctx);
                Err(oom(format!("vkBindBufferMemory: {e}")))
            }
        }
    }

    /// The address of the mapping, for host-visible memory.
    fn mapped(&self) -> Option<*mut u8> {
        self.memory.mapped_ptr().map(|p| p.as_ptr().cast())
    }

    /// Writes `src` at the start of a mapped allocation (no GPU work may be using it).
    pub(crate) fn write(&self, src: &[u8]) -> bool {
        let Some(ptr) = self.mapped().filter(|_| src.len() <= self.bytes) else { return false };
        // SAFETY: the mapping covers the allocation's `size >= bytes >= src.len()` bytes and nothing else
        // aliases it now.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr, src.len()) };
        true
    }

    /// Reads the start of a mapped allocation into `dst` (no GPU work may be writing it).
    pub(crate) fn read(&self, dst: &mut [u8]) -> bool {
        let Some(ptr) = self.mapped().filter(|_| dst.len() <= self.bytes) else { return false };
        // SAFETY: as in `write`, with the roles swapped.
        unsafe { std::ptr::copy_nonoverlapping(ptr.cast_const(), dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Destroys the buffer and returns its range to the pool (no GPU work may be using it).
    pub(crate) fn destroy(self, ctx: &Context) {
        // SAFETY: the caller waited for the GPU work using the buffer; each allocation is destroyed once.
        unsafe { ctx.device.destroy_buffer(self.buffer, None) };
        if let Err(e) = ctx.pool.lock().free(self.memory) {
            tracing::warn!("freeing a Vulkan buffer's memory failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vulkan device 0's context, or `None` after a loud skip notice. Lavapipe is installed in CI
    /// (`CI` set) and wherever `KILN_TEST_DEVICES` names vulkan; there a missing device fails.
    fn context() -> Option<Context> {
        match Context::open(None, 0, "VULKAN:0") {
            Ok(ctx) => Some(ctx),
            Err(e) => {
                let required = std::env::var("CI").is_ok_and(|v| v == "true")
                    || std::env::var("KILN_TEST_DEVICES").is_ok_and(|v| v.split(',').any(|d| d.trim() == "vulkan"));
                assert!(!required, "a Vulkan device is required here but VULKAN:0 is unavailable: {e}");
                eprintln!("\n=== SKIPPED: no Vulkan device ({e}) ===\n");
                None
            }
        }
    }

    #[test]
    fn a_hundred_thousand_small_buffers_share_a_few_memory_blocks() {
        let Some(ctx) = context() else { return };
        let host = ctx.unified_memory();
        let count = 100_000;
        let buffers: Vec<Allocation> = (0..count)
            .map(|i| Allocation::new(&ctx, 16, host, "VULKAN:0").unwrap_or_else(|e| panic!("buffer {i}: {e}")))
            .collect();
        let (blocks, limit) = (ctx.pool.blocks(), ctx.limits().max_memory_allocation_count);
        eprintln!("{count} live buffers of 16 bytes in {blocks} memory block(s); maxMemoryAllocationCount {limit}");
        // One block per buffer would exceed the 4096 blocks many drivers allow.
        assert!(blocks <= 16, "{blocks} memory blocks: buffers are not sub-allocated");
        if host {
            // Each buffer's range is its own: writing every one and reading back a few finds no overlap.
            for (i, b) in buffers.iter().enumerate() {
                assert!(b.write(&(i as u128).to_le_bytes()));
            }
            for i in [0, 1, 4_095, 4_096, 50_000, count - 1] {
                let mut out = [0u8; 16];
                assert!(buffers[i].read(&mut out));
                assert_eq!(u128::from_le_bytes(out), i as u128);
            }
        }
        for b in buffers {
            b.destroy(&ctx);
        }
        assert!(ctx.pool.blocks() <= 1, "freed blocks are returned");
    }
}
