//! The Vulkan device: buffers, kernels compiled once per SPIR-V module, and launches as one command
//! buffer and fence each (a barrier first orders them after earlier work). Launches run
//! asynchronously; copies, frees and `synchronize` wait for them. Timed launches read two timestamps,
//! and so does the call timer (`start_timer`, `stop_timer`), whose marks are queued like launches.

use crate::context::{Context, Features};
use crate::memory::Allocation;
use crate::pipeline::VulkanKernel;
use ash::vk;
use kiln_codegen::{Caps, Program, Source, Target};
use kiln_runtime::{
    check_copy, check_launch_args, content_hash, memo_capacity, CompiledKernel, Device, LruMemo, RawBuffer,
    RuntimeError, Timer,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Submissions kept before finished ones are recycled.
const MAX_IN_FLIGHT: usize = 64;

/// A Vulkan device (a GPU, or lavapipe on the CPU) driven through ash.
pub struct VulkanDevice {
    /// `VULKAN:i`.
    label: String,
    /// `VULKAN:i (<device name>)`.
    name: String,
    ctx: Arc<Context>,
    unified: bool,
    state: Mutex<State>,
    buffers: Mutex<HashMap<u64, Allocation>>,
    /// Kernels by a hash of their SPIR-V, the least recently used forgotten past `memo_capacity()`.
    kernels: LruMemo<String, CompiledKernel>,
    pipeline_cache: vk::PipelineCache,
    next_buffer: std::sync::atomic::AtomicU64,
}

/// Everything that needs the queue lock.
struct State {
    queue: vk::Queue,
    commands: vk::CommandPool,
    timestamps: Option<vk::QueryPool>,
    /// Two timestamps for the call timer (kept apart from the timed launches' pair).
    call_timer: Option<vk::QueryPool>,
    in_flight: Vec<Submission>,
}

/// The start mark of a call timer: query 0 of `State::call_timer`, written on the queue.
struct QueuedStart;

/// A submitted command buffer and what it holds until its fence signals.
struct Submission {
    fence: vk::Fence,
    command: vk::CommandBuffer,
    descriptors: Option<vk::DescriptorPool>,
    /// The kernel stays alive while it may run.
    _kernel: Option<CompiledKernel>,
}

/// Where the Vulkan loader is looked for: `KILN_VULKAN_LOADER` (a path to a loader library), else the
/// system's `libvulkan.so.1`.
fn loader_from_env() -> Option<PathBuf> {
    std::env::var_os("KILN_VULKAN_LOADER").filter(|v| !v.is_empty()).map(PathBuf::from)
}

impl VulkanDevice {
    /// Opens Vulkan device `index` (discrete GPUs first). No loader, no device or an index out of range
    /// is [`RuntimeError::Unavailable`]; it never panics. `KILN_VULKAN_LOADER` overrides the loader.
    pub fn new(index: usize) -> Result<VulkanDevice, RuntimeError> {
        VulkanDevice::with_loader(loader_from_env().as_deref(), index)
    }

    /// Opens device `index` through the loader library at `loader` (the system's when `None`).
    pub fn with_loader(loader: Option<&Path>, index: usize) -> Result<VulkanDevice, RuntimeError> {
        let label = format!("VULKAN:{index}");
        let ctx = Arc::new(Context::open(loader, index, &label)?);
        let error = |what: &str, e: vk::Result| RuntimeError::Device {
            device: label.clone(),
            what: what.into(),
            detail: e.to_string(),
        };
        // SAFETY: the device has the queue family it was created with, one queue.
        let queue = unsafe { ctx.device.get_device_queue(ctx.queue_family, 0) };
        let pool_info = vk::CommandPoolCreateInfo::default()
            .queue_family_index(ctx.queue_family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: valid create infos; the objects are destroyed in `Drop`.
        let commands =
            unsafe { ctx.device.create_command_pool(&pool_info, None) }.map_err(|e| error("vkCreateCommandPool", e))?;
        let timestamp_pair = || {
            if ctx.timestamp_bits == 0 {
                return None;
            }
            let info = vk::QueryPoolCreateInfo::default().query_type(vk::QueryType::TIMESTAMP).query_count(2);
            // SAFETY: as above.
            unsafe { ctx.device.create_query_pool(&info, None) }.ok()
        };
        let (timestamps, call_timer) = (timestamp_pair(), timestamp_pair());
        // SAFETY: as above.
        let pipeline_cache = unsafe { ctx.device.create_pipeline_cache(&vk::PipelineCacheCreateInfo::default(), None) }
            .map_err(|e| error("vkCreatePipelineCache", e))?;
        let unified = ctx.unified_memory();
        let name = format!("{label} ({})", ctx.gpu_name);
        tracing::debug!(
            "{name}: Vulkan {}.{}, {}, {:?}",
            vk::api_version_major(ctx.properties.api_version),
            vk::api_version_minor(ctx.properties.api_version),
            if unified { "unified memory" } else { "device-local memory with staging" },
            ctx.features
        );
        Ok(VulkanDevice {
            label,
            name,
            unified,
            state: Mutex::new(State { queue, commands, timestamps, call_timer, in_flight: Vec::new() }),
            buffers: Mutex::new(HashMap::new()),
            kernels: LruMemo::new(memo_capacity()),
            pipeline_cache,
            next_buffer: std::sync::atomic::AtomicU64::new(1),
            ctx,
        })
    }

    /// The optional features of the device (what kernels may use).
    pub fn features(&self) -> Features {
        self.ctx.features
    }

    /// True for a Vulkan implementation running on the CPU (lavapipe, SwiftShader).
    pub fn is_cpu_implementation(&self) -> bool {
        self.ctx.properties.device_type == vk::PhysicalDeviceType::CPU
    }

    /// `maxStorageBufferRange`: the most bytes one kernel parameter may span.
    pub fn max_storage_buffer_range(&self) -> u64 {
        u64::from(self.ctx.limits().max_storage_buffer_range)
    }

    fn error(&self, what: &str, e: vk::Result) -> RuntimeError {
        RuntimeError::Device { device: self.label.clone(), what: what.into(), detail: e.to_string() }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_buffers(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Allocation>> {
        self.buffers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unknown(&self, buffer: RawBuffer) -> RuntimeError {
        RuntimeError::Device {
            device: self.label.clone(),
            what: "buffer access".into(),
            detail: format!("unknown buffer {:#x}", buffer.0),
        }
    }

    /// Records a command buffer with `record` and submits it with a fence; it stays in flight.
    fn submit(
        &self,
        state: &mut State,
        descriptors: Option<vk::DescriptorPool>,
        kernel: Option<CompiledKernel>,
        record: impl FnOnce(&ash::Device, vk::CommandBuffer),
    ) -> Result<(), RuntimeError> {
        let d = &self.ctx.device;
        let info = vk::CommandBufferAllocateInfo::default()
            .command_pool(state.commands)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool is used under the state lock only.
        let command =
            unsafe { d.allocate_command_buffers(&info) }.map_err(|e| self.error("vkAllocateCommandBuffers", e))?[0];
        let begin = vk::CommandBufferBeginInfo::default().flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT);
        let recorded = (|| {
            // SAFETY: a fresh command buffer, recorded once and submitted below.
            unsafe {
                d.begin_command_buffer(command, &begin)?;
                // Earlier launches and copies complete their writes before this one reads or writes.
                let before = vk::MemoryBarrier::default()
                    .src_access_mask(vk::AccessFlags::SHADER_WRITE | vk::AccessFlags::TRANSFER_WRITE)
                    .dst_access_mask(
                        vk::AccessFlags::SHADER_READ
                            | vk::AccessFlags::SHADER_WRITE
                            | vk::AccessFlags::TRANSFER_READ
                            | vk::AccessFlags::TRANSFER_WRITE,
                    );
                let stages = vk::PipelineStageFlags::COMPUTE_SHADER | vk::PipelineStageFlags::TRANSFER;
                d.cmd_pipeline_barrier(command, stages, stages, vk::DependencyFlags::empty(), &[before], &[], &[]);
                record(d, command);
                // Writes become visible to the host (mapped reads) once the fence signals.
                let after = vk::MemoryBarrier::default()
                    .src_access_mask(vk::AccessFlags::SHADER_WRITE | vk::AccessFlags::TRANSFER_WRITE)
                    .dst_access_mask(vk::AccessFlags::HOST_READ);
                d.cmd_pipeline_barrier(
                    command,
                    stages,
                    vk::PipelineStageFlags::HOST,
                    vk::DependencyFlags::empty(),
                    &[after],
                    &[],
                    &[],
                );
                d.end_command_buffer(command)?;
                let fence = d.create_fence(&vk::FenceCreateInfo::default(), None)?;
                let commands = [command];
                let submit = [vk::SubmitInfo::default().command_buffers(&commands)];
                if let Err(e) = d.queue_submit(state.queue, &submit, fence) {
                    d.destroy_fence(fence, None);
                    return Err(e);
                }
                Ok(fence)
            }
        })();
        match recorded {
            Ok(fence) => {
                state.in_flight.push(Submission { fence, command, descriptors, _kernel: kernel });
                Ok(())
            }
            Err(e) => {
                // SAFETY: never submitted, so nothing uses them.
                unsafe {
                    d.free_command_buffers(state.commands, &[command]);
                    if let Some(pool) = descriptors {
                        d.destroy_descriptor_pool(pool, None);
                    }
                }
                Err(self.error("command submission", e))
            }
        }
    }

    /// Waits for submissions (all, or only the finished ones when `all` is false) and recycles them.
    fn retire(&self, state: &mut State, all: bool) -> Result<(), RuntimeError> {
        let d = &self.ctx.device;
        let mut result = Ok(());
        let mut kept = Vec::new();
        for s in state.in_flight.drain(..) {
            // SAFETY: the fence belongs to this device and is waited for or polled under the lock.
            let done = unsafe {
                if all {
                    d.wait_for_fences(&[s.fence], true, u64::MAX).map(|()| true)
                } else {
                    d.get_fence_status(s.fence)
                }
            };
            match done {
                Ok(false) => kept.push(s),
                Ok(true) | Err(_) => {
                    if let Err(e) = done {
                        result = Err(self.error("vkWaitForFences", e));
                    }
                    // SAFETY: the work finished (or the device is lost), so nothing uses these anymore.
                    unsafe {
                        d.destroy_fence(s.fence, None);
                        d.free_command_buffers(state.commands, &[s.command]);
                        if let Some(pool) = s.descriptors {
                            d.destroy_descriptor_pool(pool, None);
                        }
                    }
                }
            }
        }
        state.in_flight = kept;
        result
    }

    /// Copies through a staging buffer: `upload` fills it (copy in) or `download` reads it (copy out).
    fn staged(
        &self,
        buffer: vk::Buffer,
        len: usize,
        upload: Option<&[u8]>,
        download: Option<&mut [u8]>,
    ) -> Result<(), RuntimeError> {
        let staging = Allocation::new(&self.ctx, len, true, &self.label)?;
        let copied = (|| {
            if let Some(src) = upload {
                staging.write(src);
            }
            let region = [vk::BufferCopy::default().size(len as u64)];
            let (from, to) = if upload.is_some() { (staging.buffer, buffer) } else { (buffer, staging.buffer) };
            let mut state = self.lock_state();
            self.submit(&mut state, None, None, |d, cmd| {
                // SAFETY: both buffers hold at least `len` bytes and live until the wait below.
                unsafe { d.cmd_copy_buffer(cmd, from, to, &region) }
            })?;
            self.retire(&mut state, true)
        })();
        if copied.is_ok() {
            if let Some(dst) = download {
                staging.read(dst);
            }
        }
        staging.destroy(&self.ctx);
        copied
    }

    fn size_of(&self, buffer: RawBuffer) -> Result<usize, RuntimeError> {
        self.lock_buffers().get(&buffer.0).map(|a| a.bytes).ok_or_else(|| self.unknown(buffer))
    }

    /// Queues a write of call-timer query `query` once all earlier work has finished (BOTTOM_OF_PIPE);
    /// the start mark (query 0) resets the pair first.
    fn mark(&self, state: &mut State, pool: vk::QueryPool, query: u32) -> Result<(), RuntimeError> {
        if state.in_flight.len() >= MAX_IN_FLIGHT {
            self.retire(state, false)?;
        }
        self.submit(state, None, None, |d, cmd| {
            // SAFETY: recording into a fresh command buffer; the pool lives as long as the device.
            unsafe {
                if query == 0 {
                    d.cmd_reset_query_pool(cmd, pool, 0, 2);
                }
                d.cmd_write_timestamp(cmd, vk::PipelineStageFlags::BOTTOM_OF_PIPE, pool, query);
            }
        })
    }

    /// Seconds between the two written timestamps of `pool`.
    fn timestamp_seconds(&self, pool: vk::QueryPool) -> Result<f64, RuntimeError> {
        let mut ticks = [0u64; 2];
        // SAFETY: both queries were written by finished submissions.
        unsafe {
            self.ctx.device.get_query_pool_results(
                pool,
                0,
                &mut ticks,
                vk::QueryResultFlags::TYPE_64 | vk::QueryResultFlags::WAIT,
            )
        }
        .map_err(|e| self.error("vkGetQueryPoolResults", e))?;
        let bits = self.ctx.timestamp_bits;
        let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
        let elapsed = ticks[1].wrapping_sub(ticks[0]) & mask;
        Ok(elapsed as f64 * f64::from(self.ctx.limits().timestamp_period) * 1e-9)
    }
}

impl Drop for VulkanDevice {
    fn drop(&mut self) {
        let mut state = self.lock_state();
        if let Err(e) = self.retire(&mut state, true) {
            tracing::warn!("{}: waiting for work at close failed: {e}", self.label);
        }
        for (_, a) in self.lock_buffers().drain() {
            a.destroy(&self.ctx);
        }
        self.kernels.clear();
        // SAFETY: all work is done; these objects belong to this device and are destroyed once.
        unsafe {
            let d = &self.ctx.device;
            for q in [state.timestamps, state.call_timer].into_iter().flatten() {
                d.destroy_query_pool(q, None);
            }
            d.destroy_command_pool(state.commands, None);
            d.destroy_pipeline_cache(self.pipeline_cache, None);
        }
    }
}

impl Device for VulkanDevice {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn target(&self) -> Target {
        let limits = self.ctx.limits();
        let total = limits.max_compute_work_group_invocations;
        Target {
            caps: Caps {
                has_local: true,
                max_local: limits.max_compute_work_group_size,
                max_local_total: total,
                max_groups: limits.max_compute_work_group_count,
                shared_bytes: limits.max_compute_shared_memory_size,
                flat_local: Target::VULKAN.caps.flat_local.min(total),
            },
            ..Target::VULKAN
        }
    }

    fn alloc(&self, bytes: usize) -> Result<RawBuffer, RuntimeError> {
        let allocation = Allocation::new(&self.ctx, bytes, self.unified, &self.name)?;
        let handle = self.next_buffer.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock_buffers().insert(handle, allocation);
        Ok(RawBuffer(handle))
    }

    fn free(&self, buffer: RawBuffer, _bytes: usize) {
        let Some(allocation) = self.lock_buffers().remove(&buffer.0) else { return };
        if let Err(e) = self.retire(&mut self.lock_state(), true) {
            tracing::warn!("{}: waiting before a free failed: {e}", self.label);
        }
        allocation.destroy(&self.ctx);
    }

    fn copy_in(&self, dst: RawBuffer, src: &[u8]) -> Result<(), RuntimeError> {
        let size = self.size_of(dst)?;
        if src.len() > size {
            return Err(RuntimeError::SizeMismatch { expected: size, given: src.len() });
        }
        if src.is_empty() {
            return Ok(());
        }
        self.retire(&mut self.lock_state(), true)?;
        let buffers = self.lock_buffers();
        let allocation = buffers.get(&dst.0).ok_or_else(|| self.unknown(dst))?;
        if allocation.write(src) {
            return Ok(());
        }
        self.staged(allocation.buffer, src.len(), Some(src), None)
    }

    fn copy_out(&self, src: RawBuffer, dst: &mut [u8]) -> Result<(), RuntimeError> {
        let size = self.size_of(src)?;
        if dst.len() > size {
            return Err(RuntimeError::SizeMismatch { expected: size, given: dst.len() });
        }
        if dst.is_empty() {
            return Ok(());
        }
        self.retire(&mut self.lock_state(), true)?;
        let buffers = self.lock_buffers();
        let allocation = buffers.get(&src.0).ok_or_else(|| self.unknown(src))?;
        if allocation.read(dst) {
            return Ok(());
        }
        let len = dst.len();
        self.staged(allocation.buffer, len, None, Some(dst))
    }

    fn compile(&self, program: &Program, source: &Source) -> Result<CompiledKernel, RuntimeError> {
        let words = source.spirv().ok_or_else(|| RuntimeError::Compile {
            name: program.name.clone(),
            log: format!("{} compiles SPIR-V, but was given {}", self.label, source.kind()),
        })?;
        let key = content_hash(&[&source.bytes(), program.name.as_bytes()]);
        if let Some(k) = self.kernels.get(&key) {
            return Ok(k);
        }
        let kernel: CompiledKernel =
            Arc::new(VulkanKernel::new(&self.ctx, self.pipeline_cache, program, words, &self.label)?);
        self.kernels.insert(key, Arc::clone(&kernel));
        Ok(kernel)
    }

    fn launch(
        &self,
        kernel: &CompiledKernel,
        program: &Program,
        args: &[RawBuffer],
        timed: bool,
    ) -> Result<Option<f64>, RuntimeError> {
        let launch_error = |detail: String| RuntimeError::Device {
            device: self.label.clone(),
            what: format!("launch of {}", program.name),
            detail,
        };
        let compiled = kernel
            .downcast_ref::<VulkanKernel>()
            .ok_or_else(|| launch_error("kernel was not compiled by a Vulkan device".into()))?;
        check_launch_args(program, args, |a| self.size_of(a))?;
        if program.global_size == 0 {
            return Ok(timed.then_some(0.0));
        }
        let limits = *self.ctx.limits();
        let max_range = u64::from(limits.max_storage_buffer_range);
        let mut infos = Vec::with_capacity(args.len());
        {
            let buffers = self.lock_buffers();
            for (slot, (arg, param)) in args.iter().zip(&program.params).enumerate() {
                let allocation = buffers.get(&arg.0).ok_or_else(|| self.unknown(*arg))?;
                let need = (param.numel * param.dtype.size()) as u64;
                if need > max_range {
                    return Err(launch_error(format!(
                        "parameter {slot} spans {need} bytes, more than this device's maxStorageBufferRange of \
                         {max_range} bytes"
                    )));
                }
                let range = need.max(4).min(allocation.size);
                infos.push(vk::DescriptorBufferInfo::default().buffer(allocation.buffer).offset(0).range(range));
            }
        }
        let groups = program.launch.global;
        if groups.iter().zip(&limits.max_compute_work_group_count).any(|(g, max)| g > max) {
            return Err(launch_error(format!(
                "{groups:?} workgroups exceed maxComputeWorkGroupCount {:?}",
                limits.max_compute_work_group_count
            )));
        }
        let d = &self.ctx.device;
        let mut state = self.lock_state();
        if timed {
            self.retire(&mut state, true)?;
        } else if state.in_flight.len() >= MAX_IN_FLIGHT {
            self.retire(&mut state, false)?;
        }
        let sizes = [vk::DescriptorPoolSize::default()
            .ty(vk::DescriptorType::STORAGE_BUFFER)
            .descriptor_count(u32::try_from(infos.len().max(1)).unwrap_or(u32::MAX))];
        let pool_info = vk::DescriptorPoolCreateInfo::default().max_sets(1).pool_sizes(&sizes);
        // SAFETY: a valid create info; the pool is destroyed when the launch retires (or fails).
        let pool = unsafe { d.create_descriptor_pool(&pool_info, None) }
            .map_err(|e| self.error("vkCreateDescriptorPool", e))?;
        let layouts = [compiled.set_layout];
        // SAFETY: the pool has room for exactly this set.
        let set = match unsafe {
            d.allocate_descriptor_sets(
                &vk::DescriptorSetAllocateInfo::default().descriptor_pool(pool).set_layouts(&layouts),
            )
        } {
            Ok(sets) => sets[0],
            Err(e) => {
                // SAFETY: the pool is unused.
                unsafe { d.destroy_descriptor_pool(pool, None) };
                return Err(self.error("vkAllocateDescriptorSets", e));
            }
        };
        let writes: Vec<vk::WriteDescriptorSet> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                vk::WriteDescriptorSet::default()
                    .dst_set(set)
                    .dst_binding(i as u32)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .buffer_info(std::slice::from_ref(info))
            })
            .collect();
        // SAFETY: the set and buffers are live; the set is not in use yet.
        unsafe { d.update_descriptor_sets(&writes, &[]) };
        let timestamps = state.timestamps.filter(|_| timed);
        let started = std::time::Instant::now();
        self.submit(&mut state, Some(pool), Some(Arc::clone(kernel)), |d, cmd| {
            // SAFETY: recording into a fresh command buffer with live objects.
            unsafe {
                if let Some(q) = timestamps {
                    d.cmd_reset_query_pool(cmd, q, 0, 2);
                    d.cmd_write_timestamp(cmd, vk::PipelineStageFlags::TOP_OF_PIPE, q, 0);
                }
                d.cmd_bind_pipeline(cmd, vk::PipelineBindPoint::COMPUTE, compiled.pipeline);
                d.cmd_bind_descriptor_sets(cmd, vk::PipelineBindPoint::COMPUTE, compiled.layout, 0, &[set], &[]);
                d.cmd_dispatch(cmd, groups[0], groups[1], groups[2]);
                if let Some(q) = timestamps {
                    d.cmd_write_timestamp(cmd, vk::PipelineStageFlags::BOTTOM_OF_PIPE, q, 1);
                }
            }
        })?;
        if !timed {
            return Ok(None);
        }
        self.retire(&mut state, true)?;
        let Some(q) = timestamps else {
            // No timestamps on this queue: the wall time of submit and wait.
            return Ok(Some(started.elapsed().as_secs_f64()));
        };
        self.timestamp_seconds(q).map(Some)
    }

    fn synchronize(&self) -> Result<(), RuntimeError> {
        self.retire(&mut self.lock_state(), true)
    }

    fn copy_buffer(&self, dst: RawBuffer, src: RawBuffer, bytes: usize) -> Result<(), RuntimeError> {
        check_copy(dst, src, bytes, |b| self.size_of(b))?;
        if bytes == 0 {
            return Ok(());
        }
        let (to, from) = {
            let buffers = self.lock_buffers();
            let buffer = |b: RawBuffer| buffers.get(&b.0).map(|a| a.buffer).ok_or_else(|| self.unknown(b));
            (buffer(dst)?, buffer(src)?)
        };
        let region = [vk::BufferCopy::default().size(bytes as u64)];
        let mut state = self.lock_state();
        if state.in_flight.len() >= MAX_IN_FLIGHT {
            self.retire(&mut state, false)?;
        }
        self.submit(&mut state, None, None, |d, cmd| {
            // SAFETY: both buffers hold at least `bytes` bytes (checked above); a free waits for all
            // submissions, this one included, before destroying a buffer.
            unsafe { d.cmd_copy_buffer(cmd, from, to, &region) }
        })
    }

    /// A timestamp queued after earlier work; without timestamps, the host clock after a wait.
    fn start_timer(&self) -> Result<Timer, RuntimeError> {
        let mut state = self.lock_state();
        match state.call_timer {
            Some(pool) => {
                self.mark(&mut state, pool, 0)?;
                Ok(Timer::Device(Box::new(QueuedStart)))
            }
            None => {
                self.retire(&mut state, true)?;
                Ok(Timer::Host(std::time::Instant::now()))
            }
        }
    }

    fn stop_timer(&self, timer: Timer) -> Result<f64, RuntimeError> {
        let mut state = self.lock_state();
        match (timer, state.call_timer) {
            (Timer::Host(start), _) => {
                self.retire(&mut state, true)?;
                Ok(start.elapsed().as_secs_f64())
            }
            (Timer::Device(start), Some(pool)) if start.is::<QueuedStart>() => {
                self.mark(&mut state, pool, 1)?;
                self.retire(&mut state, true)?;
                self.timestamp_seconds(pool)
            }
            (Timer::Device(_), _) => Err(RuntimeError::Device {
                device: self.label.clone(),
                what: "stop_timer".into(),
                detail: "the timer was not started by a Vulkan device".into(),
            }),
        }
    }
}
