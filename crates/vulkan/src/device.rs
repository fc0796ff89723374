//! The Vulkan device: buffers, kernels compiled once per SPIR-V module, and launches recorded into
//! recycled command buffers (a batch of launches is one command buffer with barriers only on hazards,
//! see `dispatch.rs`; the queue and its recycling are `queue.rs`). Launches run asynchronously; copies
//! and `synchronize` wait for them. A freed buffer is kept for reuse by the next allocation of its size
//! (`kiln_runtime::Recycler`); beyond that cache a free waits only in the background (the memory goes back once
//! the submissions queued before it finish). Captured launch lists become recorded command buffers
//! (`graph.rs`). The pipeline cache persists on disk (`pipeline_cache.rs`). Timed launches read two timestamps, and so does the call timer (`start_timer`,
//! `stop_timer`), whose marks are queued like launches.

use crate::context::{Context, Features};
use crate::dispatch::{record, resolve, write_set};
use crate::graph::{Buffers, VulkanGraph};
use crate::memory::Allocation;
use crate::pipeline::VulkanKernel;
use crate::pipeline_cache;
use crate::queue::{Queue, State};
use ash::vk;
use kiln_codegen::{Caps, Program, Source, Target};
use kiln_runtime::{
    check_copy, check_launch_args, content_hash, dependencies, memo_capacity, CompiledKernel, Device, DeviceGraph,
    Launch, LruMemo, RawBuffer, Recycler, RuntimeError, Timer,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// A Vulkan device (a GPU, or lavapipe on the CPU) driven through ash.
///
/// Locks: the queue's state lock is always taken before the buffer map's, never the other way round.
pub struct VulkanDevice {
    /// `VULKAN:i (<device name>)`.
    name: String,
    ctx: Arc<Context>,
    unified: bool,
    queue: Arc<Queue>,
    buffers: Buffers,
    /// Freed buffers kept for reuse.
    recycler: Recycler<Allocation>,
    /// Kernels by a hash of their SPIR-V, the least recently used forgotten past `memo_capacity()`.
    kernels: LruMemo<String, CompiledKernel>,
    pipeline_cache: vk::PipelineCache,
    next_buffer: std::sync::atomic::AtomicU64,
}

/// The start mark of a call timer: query 0 of the queue's call-timer pool, written on the queue.
struct QueuedStart;

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
        let queue = Arc::new(Queue::new(Arc::clone(&ctx), label.clone())?);
        let saved = pipeline_cache::load(&ctx).unwrap_or_default();
        let info = vk::PipelineCacheCreateInfo::default().initial_data(&saved);
        // SAFETY: a valid create info (the driver checks the saved data's header and ignores data that is
        // not its own); the cache is destroyed in `Drop`.
        let pipeline_cache = match unsafe { ctx.device.create_pipeline_cache(&info, None) } {
            Ok(c) => c,
            // SAFETY: as above, with no initial data.
            Err(_) => unsafe { ctx.device.create_pipeline_cache(&vk::PipelineCacheCreateInfo::default(), None) }
                .map_err(|e| queue.error("vkCreatePipelineCache", e))?,
        };
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
            name,
            unified,
            queue,
            buffers: Arc::new(Mutex::new(HashMap::new())),
            recycler: Recycler::default(),
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

    fn label(&self) -> &str {
        &self.queue.label
    }

    fn lock_buffers(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Allocation>> {
        self.buffers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unknown(&self, buffer: RawBuffer) -> RuntimeError {
        RuntimeError::Device {
            device: self.label().to_string(),
            what: "buffer access".into(),
            detail: format!("unknown buffer {:#x}", buffer.0),
        }
    }

    /// Copies through a staging buffer: `upload` fills it (copy in) or `download` reads it (copy out).
    /// The caller holds the queue lock (`st`), taken before the buffer map's, as everywhere.
    fn staged(
        &self,
        st: &mut State,
        buffer: vk::Buffer,
        len: usize,
        upload: Option<&[u8]>,
        download: Option<&mut [u8]>,
    ) -> Result<(), RuntimeError> {
        let staging = Allocation::new(&self.ctx, len, true, self.label())?;
        let copied = (|| {
            if let Some(src) = upload {
                staging.write(src);
            }
            let region = [vk::BufferCopy::default().size(len as u64)];
            let (from, to) = if upload.is_some() { (staging.buffer, buffer) } else { (buffer, staging.buffer) };
            self.queue.submit_recorded(st, Vec::new(), Vec::new(), |d, cmd| {
                // SAFETY: both buffers hold at least `len` bytes and live until the wait below.
                unsafe { d.cmd_copy_buffer(cmd, from, to, &region) }
            })?;
            self.queue.retire(st, true)
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
    fn mark(&self, st: &mut State, pool: vk::QueryPool, query: u32) -> Result<(), RuntimeError> {
        self.queue.submit_recorded(st, Vec::new(), Vec::new(), |d, cmd| {
            // SAFETY: recording into a fresh command buffer; the pool lives as long as the device.
            unsafe {
                if query == 0 {
                    d.cmd_reset_query_pool(cmd, pool, 0, 2);
                }
                d.cmd_write_timestamp(cmd, vk::PipelineStageFlags::BOTTOM_OF_PIPE, pool, query);
            }
        })?;
        Ok(())
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
        .map_err(|e| self.queue.error("vkGetQueryPoolResults", e))?;
        let bits = self.ctx.timestamp_bits;
        let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
        let elapsed = ticks[1].wrapping_sub(ticks[0]) & mask;
        Ok(elapsed as f64 * f64::from(self.ctx.limits().timestamp_period) * 1e-9)
    }

    /// Records `launches` into one command buffer (barriers only on hazards; two timestamps around
    /// them when `timestamps` is given) and submits it.
    fn submit_launches(
        &self,
        st: &mut State,
        launches: &[Launch],
        timestamps: Option<vk::QueryPool>,
    ) -> Result<(), RuntimeError> {
        let dispatches = {
            let buffers = self.lock_buffers();
            launches
                .iter()
                .map(|l| resolve(l, &buffers, self.ctx.limits(), self.label()))
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut pools = Vec::new();
        let mut sets = Vec::with_capacity(dispatches.len());
        for dispatch in &dispatches {
            match self.queue.descriptor_set(st, &mut pools, dispatch.set_layout) {
                Ok(set) => {
                    write_set(&self.ctx.device, set, dispatch);
                    sets.push(set);
                }
                Err(e) => {
                    self.queue.recycle_pools(st, pools);
                    return Err(e);
                }
            }
        }
        let deps = dependencies(launches);
        let kernels = launches.iter().map(|l| l.kernel.clone()).collect();
        self.queue.submit_recorded(st, pools, kernels, |d, cmd| {
            // SAFETY: recording into a fresh command buffer with live objects.
            unsafe {
                if let Some(q) = timestamps {
                    d.cmd_reset_query_pool(cmd, q, 0, 2);
                    d.cmd_write_timestamp(cmd, vk::PipelineStageFlags::TOP_OF_PIPE, q, 0);
                }
                record(d, cmd, &dispatches, &sets, &deps);
                if let Some(q) = timestamps {
                    d.cmd_write_timestamp(cmd, vk::PipelineStageFlags::BOTTOM_OF_PIPE, q, 1);
                }
            }
        })?;
        Ok(())
    }
}

impl Drop for VulkanDevice {
    fn drop(&mut self) {
        {
            let mut st = self.queue.lock();
            if let Err(e) = self.queue.retire(&mut st, true) {
                tracing::warn!("{}: waiting for work at close failed: {e}", self.label());
            }
        }
        for (_, a) in self.lock_buffers().drain() {
            a.destroy(&self.ctx);
        }
        for a in self.recycler.drain() {
            a.destroy(&self.ctx);
        }
        self.kernels.clear();
        pipeline_cache::save(&self.ctx, self.pipeline_cache);
        // SAFETY: all work is done; the cache belongs to this device and is destroyed once.
        unsafe { self.ctx.device.destroy_pipeline_cache(self.pipeline_cache, None) };
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
                subgroup: self.ctx.features.subgroup,
                preserve_nan: self.ctx.features.preserve_nan,
                ..Target::VULKAN.caps
            },
            ..Target::VULKAN
        }
    }

    fn alloc(&self, bytes: usize) -> Result<RawBuffer, RuntimeError> {
        let allocation = match self.recycler.take(Allocation::size_for(bytes)) {
            Some(mut a) => {
                a.bytes = bytes;
                a
            }
            None => Allocation::new(&self.ctx, bytes, self.unified, &self.name)?,
        };
        let handle = self.next_buffer.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock_buffers().insert(handle, allocation);
        Ok(RawBuffer(handle))
    }

    fn free(&self, buffer: RawBuffer, _bytes: usize) {
        let Some(allocation) = self.lock_buffers().remove(&buffer.0) else { return };
        let evicted = self.recycler.give(allocation.size, allocation);
        if !evicted.is_empty() {
            let mut st = self.queue.lock();
            for allocation in evicted {
                self.queue.free_after_queued(&mut st, allocation);
            }
        }
    }

    fn copy_in(&self, dst: RawBuffer, src: &[u8]) -> Result<(), RuntimeError> {
        let size = self.size_of(dst)?;
        if src.len() > size {
            return Err(RuntimeError::SizeMismatch { expected: size, given: src.len() });
        }
        if src.is_empty() {
            return Ok(());
        }
        let mut st = self.queue.lock();
        self.queue.retire(&mut st, true)?;
        let buffers = self.lock_buffers();
        let allocation = buffers.get(&dst.0).ok_or_else(|| self.unknown(dst))?;
        if allocation.write(src) {
            return Ok(());
        }
        self.staged(&mut st, allocation.buffer, src.len(), Some(src), None)
    }

    fn copy_out(&self, src: RawBuffer, dst: &mut [u8]) -> Result<(), RuntimeError> {
        let size = self.size_of(src)?;
        if dst.len() > size {
            return Err(RuntimeError::SizeMismatch { expected: size, given: dst.len() });
        }
        if dst.is_empty() {
            return Ok(());
        }
        let mut st = self.queue.lock();
        self.queue.retire(&mut st, true)?;
        let buffers = self.lock_buffers();
        let allocation = buffers.get(&src.0).ok_or_else(|| self.unknown(src))?;
        if allocation.read(dst) {
            return Ok(());
        }
        let len = dst.len();
        self.staged(&mut st, allocation.buffer, len, None, Some(dst))
    }

    fn compile(&self, program: &Program, source: &Source) -> Result<CompiledKernel, RuntimeError> {
        let words = source.spirv().ok_or_else(|| RuntimeError::Compile {
            name: program.name.clone(),
            log: format!("{} compiles SPIR-V, but was given {}", self.label(), source.kind()),
        })?;
        let key = content_hash(&[&source.bytes(), program.name.as_bytes()]);
        if let Some(k) = self.kernels.get(&key) {
            return Ok(k);
        }
        let kernel: CompiledKernel =
            Arc::new(VulkanKernel::new(&self.ctx, self.pipeline_cache, program, words, self.label())?);
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
        check_launch_args(program, args, |a| self.size_of(a))?;
        if program.global_size == 0 {
            return Ok(timed.then_some(0.0));
        }
        let launch = Launch { kernel: Arc::clone(kernel), program: Arc::new(program.clone()), args: args.to_vec() };
        let mut st = self.queue.lock();
        if !timed {
            self.submit_launches(&mut st, std::slice::from_ref(&launch), None)?;
            return Ok(None);
        }
        self.queue.retire(&mut st, true)?;
        let timestamps = st.timestamps;
        let started = std::time::Instant::now();
        self.submit_launches(&mut st, std::slice::from_ref(&launch), timestamps)?;
        self.queue.retire(&mut st, true)?;
        match timestamps {
            Some(q) => self.timestamp_seconds(q).map(Some),
            // No timestamps on this queue: the wall time of submit and wait.
            None => Ok(Some(started.elapsed().as_secs_f64())),
        }
    }

    fn launch_batch(&self, launches: &[Launch]) -> Result<(), RuntimeError> {
        let launches: Vec<Launch> = launches.iter().filter(|l| l.program.global_size > 0).cloned().collect();
        if launches.is_empty() {
            return Ok(());
        }
        let mut st = self.queue.lock();
        self.submit_launches(&mut st, &launches, None)
    }

    fn capture(&self, launches: &[Launch], deps: &[Vec<usize>]) -> Result<Option<Box<dyn DeviceGraph>>, RuntimeError> {
        Ok(Some(Box::new(VulkanGraph::new(&self.queue, &self.buffers, launches, deps)?)))
    }

    fn synchronize(&self) -> Result<(), RuntimeError> {
        self.queue.retire(&mut self.queue.lock(), true)
    }

    /// Waits for the queue (a process must not exit under a running dispatch) and saves the pipeline
    /// cache, which `Drop` would save but a device kept in a static is never dropped.
    fn close_at_exit(&self) {
        if let Err(e) = self.synchronize() {
            tracing::warn!("{}: waiting for work at exit failed: {e}", self.label());
        }
        pipeline_cache::save(&self.ctx, self.pipeline_cache);
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
        let mut st = self.queue.lock();
        self.queue.submit_recorded(&mut st, Vec::new(), Vec::new(), |d, cmd| {
            // SAFETY: both buffers hold at least `bytes` bytes (checked above); a free waits for the
            // submissions queued before it, this one included, before the memory goes back.
            unsafe { d.cmd_copy_buffer(cmd, from, to, &region) }
        })?;
        Ok(())
    }

    /// A timestamp queued after earlier work; without timestamps, the host clock after a wait.
    fn start_timer(&self) -> Result<Timer, RuntimeError> {
        let mut st = self.queue.lock();
        match st.call_timer {
            Some(pool) => {
                self.mark(&mut st, pool, 0)?;
                Ok(Timer::Device(Box::new(QueuedStart)))
            }
            None => {
                self.queue.retire(&mut st, true)?;
                Ok(Timer::Host(std::time::Instant::now()))
            }
        }
    }

    fn stop_timer(&self, timer: Timer) -> Result<f64, RuntimeError> {
        let mut st = self.queue.lock();
        match (timer, st.call_timer) {
            (Timer::Host(start), _) => {
                self.queue.retire(&mut st, true)?;
                Ok(start.elapsed().as_secs_f64())
            }
            (Timer::Device(start), Some(pool)) if start.is::<QueuedStart>() => {
                self.mark(&mut st, pool, 1)?;
                self.queue.retire(&mut st, true)?;
                self.timestamp_seconds(pool)
            }
            (Timer::Device(_), _) => Err(RuntimeError::Device {
                device: self.label().to_string(),
                what: "stop_timer".into(),
                detail: "the timer was not started by a Vulkan device".into(),
            }),
        }
    }
}
