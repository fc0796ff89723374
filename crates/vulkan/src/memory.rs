//! Buffers: one `VkBuffer` with its own memory per allocation. With unified memory (integrated GPUs,
//! lavapipe) the memory is host-visible and stays mapped, so copies are memcpy; otherwise it is
//! device-local and copies go through a host-visible staging buffer.

use crate::context::Context;
use ash::vk;
use kiln_runtime::RuntimeError;

/// One buffer and its memory.
pub(crate) struct Allocation {
    pub buffer: vk::Buffer,
    memory: vk::DeviceMemory,
    /// Bytes asked for (what launches and copies may touch).
    pub bytes: usize,
    /// Bytes of the `VkBuffer` (at least 4, a multiple of 4).
    pub size: u64,
    /// Address of the persistent mapping, for host-visible memory.
    mapped: Option<usize>,
}

impl Allocation {
    /// Allocates a buffer of `bytes`: host-visible and mapped when `host` is set, else device-local.
    pub(crate) fn new(ctx: &Context, bytes: usize, host: bool, label: &str) -> Result<Allocation, RuntimeError> {
        let oom = |detail: String| RuntimeError::OutOfMemory { device: label.to_string(), bytes, detail };
        let size = u64::try_from(bytes.max(4).next_multiple_of(4)).map_err(|e| oom(e.to_string()))?;
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
        // SAFETY: `buffer` is live.
        let req = unsafe { ctx.device.get_buffer_memory_requirements(buffer) };
        let host_flags = vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
        let memory_type = if host {
            ctx.memory_type(req.memory_type_bits, host_flags | vk::MemoryPropertyFlags::DEVICE_LOCAL)
                .or_else(|| ctx.memory_type(req.memory_type_bits, host_flags))
        } else {
            ctx.memory_type(req.memory_type_bits, vk::MemoryPropertyFlags::DEVICE_LOCAL)
        };
        let destroy = || {
            // SAFETY: the buffer is live and unused.
            unsafe { ctx.device.destroy_buffer(buffer, None) }
        };
        let Some(memory_type) = memory_type else {
            destroy();
            return Err(oom("no suitable memory type".into()));
        };
        let alloc = vk::MemoryAllocateInfo::default().allocation_size(req.size).memory_type_index(memory_type);
        // SAFETY: a valid allocate info; the memory is freed on every failure below.
        let memory = match unsafe { ctx.device.allocate_memory(&alloc, None) } {
            Ok(m) => m,
            Err(e) => {
                destroy();
                return Err(oom(format!("vkAllocateMemory: {e}")));
            }
        };
        let free = || {
            destroy();
            // SAFETY: the memory is live and bound to nothing in use.
            unsafe { ctx.device.free_memory(memory, None) }
        };
        // SAFETY: fresh buffer and memory of the size the buffer requires.
        if let Err(e) = unsafe { ctx.device.bind_buffer_memory(buffer, memory, 0) } {
            free();
            return Err(oom(format!("vkBindBufferMemory: {e}")));
        }
        let mapped = if host {
            // SAFETY: host-visible memory, mapped once for the allocation's life.
            match unsafe { ctx.device.map_memory(memory, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty()) } {
                Ok(p) => Some(p as usize),
                Err(e) => {
                    free();
                    return Err(oom(format!("vkMapMemory: {e}")));
                }
            }
        } else {
            None
        };
        Ok(Allocation { buffer, memory, bytes, size, mapped })
    }

    /// Writes `src` at the start of a mapped allocation (no GPU work may be using it).
    pub(crate) fn write(&self, src: &[u8]) -> bool {
        let Some(ptr) = self.mapped.filter(|_| src.len() <= self.bytes) else { return false };
        // SAFETY: the mapping covers `size >= bytes >= src.len()` bytes and nothing else aliases it now.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr as *mut u8, src.len()) };
        true
    }

    /// Reads the start of a mapped allocation into `dst` (no GPU work may be writing it).
    pub(crate) fn read(&self, dst: &mut [u8]) -> bool {
        let Some(ptr) = self.mapped.filter(|_| dst.len() <= self.bytes) else { return false };
        // SAFETY: as in `write`, with the roles swapped.
        unsafe { std::ptr::copy_nonoverlapping(ptr as *const u8, dst.as_mut_ptr(), dst.len()) };
        true
    }

    /// Destroys the buffer and frees its memory (no GPU work may be using it).
    pub(crate) fn destroy(self, ctx: &Context) {
        // SAFETY: the caller waited for the GPU work using the buffer; each allocation is destroyed once.
        unsafe {
            ctx.device.destroy_buffer(self.buffer, None);
            ctx.device.free_memory(self.memory, None);
        }
    }
}
