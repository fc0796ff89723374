//! The queue: submissions with their fences, recycled command buffers, fences and descriptor pools, and
//! frees deferred until the last submission that may use the buffer has finished. Everything here is
//! used under the one state lock, which also serialises access to the command pool.

use crate::context::Context;
use crate::memory::Allocation;
use ash::vk;
use kiln_runtime::{CompiledKernel, RuntimeError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Submissions kept before finished ones are recycled.
const MAX_IN_FLIGHT: usize = 64;
/// Descriptor sets per pool, and storage-buffer descriptors per pool.
const SETS_PER_POOL: u32 = 256;
const DESCRIPTORS_PER_POOL: u32 = 2048;

/// The device's queue and what its submissions hold.
pub(crate) struct Queue {
    pub ctx: Arc<Context>,
    pub label: String,
    state: Mutex<State>,
}

/// Everything that needs the queue lock.
pub(crate) struct State {
    pub queue: vk::Queue,
    commands: vk::CommandPool,
    /// Two timestamps for timed launches.
    pub timestamps: Option<vk::QueryPool>,
    /// Two timestamps for the call timer (kept apart from the timed launches' pair).
    pub call_timer: Option<vk::QueryPool>,
    in_flight: VecDeque<Submission>,
    spare_commands: Vec<vk::CommandBuffer>,
    spare_fences: Vec<vk::Fence>,
    spare_pools: Vec<vk::DescriptorPool>,
    /// Allocations freed by the program, each with the last submission that may still use it.
    deferred: Vec<(u64, Allocation)>,
    next_serial: u64,
}

/// A submitted command buffer and what it holds until its fence signals.
struct Submission {
    serial: u64,
    fence: vk::Fence,
    /// `None` when a graph owns the command buffer.
    command: Option<vk::CommandBuffer>,
    pools: Vec<vk::DescriptorPool>,
    /// Kernels stay alive while they may run.
    _kernels: Vec<CompiledKernel>,
}

impl Queue {
    pub(crate) fn new(ctx: Arc<Context>, label: String) -> Result<Queue, RuntimeError> {
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
        let state = State {
            queue,
            commands,
            timestamps,
            call_timer,
            in_flight: VecDeque::new(),
            spare_commands: Vec::new(),
            spare_fences: Vec::new(),
            spare_pools: Vec::new(),
            deferred: Vec::new(),
            next_serial: 1,
        };
        Ok(Queue { ctx, label, state: Mutex::new(state) })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn error(&self, what: &str, e: vk::Result) -> RuntimeError {
        RuntimeError::Device { device: self.label.clone(), what: what.into(), detail: e.to_string() }
    }

    /// A command buffer ready to record (recycled when one is spare).
    pub(crate) fn command_buffer(&self, st: &mut State) -> Result<vk::CommandBuffer, RuntimeError> {
        if let Some(c) = st.spare_commands.pop() {
            return Ok(c);
        }
        let info = vk::CommandBufferAllocateInfo::default()
            .command_pool(st.commands)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool is used under the state lock only.
        let buffers = unsafe { self.ctx.device.allocate_command_buffers(&info) }
            .map_err(|e| self.error("vkAllocateCommandBuffers", e))?;
        Ok(buffers[0])
    }

    /// Gives back a command buffer that was never submitted or whose submission has finished.
    pub(crate) fn recycle_command_buffer(&self, st: &mut State, command: vk::CommandBuffer) {
        // SAFETY: not pending (the caller guarantees it); the pool allows resetting single buffers.
        match unsafe { self.ctx.device.reset_command_buffer(command, vk::CommandBufferResetFlags::empty()) } {
            Ok(()) => st.spare_commands.push(command),
            // SAFETY: as above; a buffer that cannot be reset is freed instead.
            Err(_) => unsafe { self.ctx.device.free_command_buffers(st.commands, &[command]) },
        }
    }

    /// An empty descriptor pool (recycled when one is spare).
    pub(crate) fn descriptor_pool(&self, st: &mut State) -> Result<vk::DescriptorPool, RuntimeError> {
        if let Some(p) = st.spare_pools.pop() {
            return Ok(p);
        }
        let sizes = [vk::DescriptorPoolSize::default()
            .ty(vk::DescriptorType::STORAGE_BUFFER)
            .descriptor_count(DESCRIPTORS_PER_POOL)];
        let info = vk::DescriptorPoolCreateInfo::default().max_sets(SETS_PER_POOL).pool_sizes(&sizes);
        // SAFETY: a valid create info; the pool is destroyed in `Drop` (or when reset fails).
        unsafe { self.ctx.device.create_descriptor_pool(&info, None) }
            .map_err(|e| self.error("vkCreateDescriptorPool", e))
    }

    /// Resets pools whose sets are no longer in use and keeps them for reuse.
    pub(crate) fn recycle_pools(&self, st: &mut State, pools: Vec<vk::DescriptorPool>) {
        for p in pools {
            // SAFETY: no pending command buffer uses the pool's sets (the caller guarantees it).
            match unsafe { self.ctx.device.reset_descriptor_pool(p, vk::DescriptorPoolResetFlags::empty()) } {
                Ok(()) => st.spare_pools.push(p),
                // SAFETY: as above.
                Err(_) => unsafe { self.ctx.device.destroy_descriptor_pool(p, None) },
            }
        }
    }

    /// Allocates a descriptor set of `layout` from the last of `pools`, adding a pool when it is full.
    pub(crate) fn descriptor_set(
        &self,
        st: &mut State,
        pools: &mut Vec<vk::DescriptorPool>,
        layout: vk::DescriptorSetLayout,
    ) -> Result<vk::DescriptorSet, RuntimeError> {
        let layouts = [layout];
        for attempt in 0..2 {
            if attempt == 1 || pools.is_empty() {
                pools.push(self.descriptor_pool(st)?);
            }
            let pool = pools[pools.len() - 1];
            let info = vk::DescriptorSetAllocateInfo::default().descriptor_pool(pool).set_layouts(&layouts);
            // SAFETY: the pool is used under the state lock only.
            match unsafe { self.ctx.device.allocate_descriptor_sets(&info) } {
                Ok(sets) => return Ok(sets[0]),
                Err(vk::Result::ERROR_OUT_OF_POOL_MEMORY | vk::Result::ERROR_FRAGMENTED_POOL) if attempt == 0 => {}
                Err(e) => return Err(self.error("vkAllocateDescriptorSets", e)),
            }
        }
        Err(self.error("vkAllocateDescriptorSets", vk::Result::ERROR_OUT_OF_POOL_MEMORY))
    }

    /// Submits a recorded command buffer with a fence. `owned` buffers return to the spare list when the
    /// submission finishes; a graph's are left to it. Returns the submission's serial.
    pub(crate) fn submit(
        &self,
        st: &mut State,
        command: vk::CommandBuffer,
        owned: bool,
        pools: Vec<vk::DescriptorPool>,
        kernels: Vec<CompiledKernel>,
    ) -> Result<u64, RuntimeError> {
        if st.in_flight.len() >= MAX_IN_FLIGHT {
            self.retire(st, false)?;
        }
        let d = &self.ctx.device;
        let fence = match st.spare_fences.pop() {
            Some(f) => f,
            // SAFETY: a valid create info; fences are destroyed in `Drop`.
            None => unsafe { d.create_fence(&vk::FenceCreateInfo::default(), None) }
                .map_err(|e| self.error("vkCreateFence", e))?,
        };
        let commands = [command];
        let submit = [vk::SubmitInfo::default().command_buffers(&commands)];
        // SAFETY: a fully recorded command buffer and an unsignaled fence, under the queue lock.
        if let Err(e) = unsafe { d.queue_submit(st.queue, &submit, fence) } {
            st.spare_fences.push(fence);
            if owned {
                self.recycle_command_buffer(st, command);
            }
            self.recycle_pools(st, pools);
            return Err(self.error("vkQueueSubmit", e));
        }
        let serial = st.next_serial;
        st.next_serial += 1;
        st.in_flight.push_back(Submission {
            serial,
            fence,
            command: owned.then_some(command),
            pools,
            _kernels: kernels,
        });
        Ok(serial)
    }

    /// Records a command buffer with `record` between a barrier after all earlier work and a barrier
    /// that makes its writes visible to the host, and submits it.
    pub(crate) fn submit_recorded(
        &self,
        st: &mut State,
        pools: Vec<vk::DescriptorPool>,
        kernels: Vec<CompiledKernel>,
        record: impl FnOnce(&ash::Device, vk::CommandBuffer),
    ) -> Result<u64, RuntimeError> {
        let command = self.command_buffer(st)?;
        if let Err(e) = record_whole(&self.ctx.device, command, record) {
            self.recycle_command_buffer(st, command);
            self.recycle_pools(st, pools);
            return Err(self.error("command recording", e));
        }
        self.submit(st, command, true, pools, kernels)
    }

    /// Waits for submissions (all, or only the finished ones when `all` is false), recycles what they
    /// held and destroys the deferred allocations no submission in flight may use.
    pub(crate) fn retire(&self, st: &mut State, all: bool) -> Result<(), RuntimeError> {
        let d = &self.ctx.device;
        let mut result = Ok(());
        let mut kept = VecDeque::new();
        while let Some(s) = st.in_flight.pop_front() {
            // SAFETY: the fence belongs to this device and is waited for or polled under the lock.
            let done = unsafe {
                if all {
                    d.wait_for_fences(&[s.fence], true, u64::MAX).map(|()| true)
                } else {
                    d.get_fence_status(s.fence)
                }
            };
            match done {
                Ok(false) => kept.push_back(s),
                Ok(true) | Err(_) => {
                    if let Err(e) = done {
                        result = Err(self.error("vkWaitForFences", e));
                    }
                    self.finish(st, s);
                }
            }
        }
        st.in_flight = kept;
        self.release_deferred(st);
        result
    }

    /// Waits until submission `serial` (and every one before it) has finished.
    pub(crate) fn wait_for(&self, st: &mut State, serial: u64) -> Result<(), RuntimeError> {
        let d = &self.ctx.device;
        while st.in_flight.front().is_some_and(|s| s.serial <= serial) {
            let Some(s) = st.in_flight.pop_front() else { break };
            // SAFETY: as in `retire`.
            let waited = unsafe { d.wait_for_fences(&[s.fence], true, u64::MAX) };
            self.finish(st, s);
            waited.map_err(|e| self.error("vkWaitForFences", e))?;
        }
        self.release_deferred(st);
        Ok(())
    }

    /// Recycles what a finished submission held.
    fn finish(&self, st: &mut State, s: Submission) {
        // SAFETY: the submission finished (or the device is lost), so nothing uses these any more.
        match unsafe { self.ctx.device.reset_fences(&[s.fence]) } {
            Ok(()) => st.spare_fences.push(s.fence),
            // SAFETY: as above.
            Err(_) => unsafe { self.ctx.device.destroy_fence(s.fence, None) },
        }
        if let Some(c) = s.command {
            self.recycle_command_buffer(st, c);
        }
        self.recycle_pools(st, s.pools);
    }

    /// Frees `allocation` once the submissions queued so far have finished (at once if none is queued).
    pub(crate) fn free_after_queued(&self, st: &mut State, allocation: Allocation) {
        match st.in_flight.back() {
            None => allocation.destroy(&self.ctx),
            Some(last) => st.deferred.push((last.serial, allocation)),
        }
    }

    fn release_deferred(&self, st: &mut State) {
        let oldest = st.in_flight.front().map_or(u64::MAX, |s| s.serial);
        let (done, waiting): (Vec<_>, Vec<_>) = st.deferred.drain(..).partition(|(serial, _)| *serial < oldest);
        st.deferred = waiting;
        for (_, a) in done {
            a.destroy(&self.ctx);
        }
    }
}

/// Records `record` into `command` between a barrier ordering it after earlier submissions and one
/// making its writes visible to the host.
pub(crate) fn record_whole(
    d: &ash::Device,
    command: vk::CommandBuffer,
    record: impl FnOnce(&ash::Device, vk::CommandBuffer),
) -> Result<(), vk::Result> {
    let begin = vk::CommandBufferBeginInfo::default();
    let stages = vk::PipelineStageFlags::COMPUTE_SHADER | vk::PipelineStageFlags::TRANSFER;
    // SAFETY: `command` is not pending; recording happens under the queue lock.
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
        d.end_command_buffer(command)
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut st = std::mem::replace(
            st,
            State {
                queue: st.queue,
                commands: st.commands,
                timestamps: None,
                call_timer: None,
                in_flight: VecDeque::new(),
                spare_commands: Vec::new(),
                spare_fences: Vec::new(),
                spare_pools: Vec::new(),
                deferred: Vec::new(),
                next_serial: 0,
            },
        );
        if let Err(e) = self.retire(&mut st, true) {
            tracing::warn!("{}: waiting for work at close failed: {e}", self.label);
        }
        for (_, a) in st.deferred.drain(..) {
            a.destroy(&self.ctx);
        }
        // SAFETY: all work is done; these objects belong to this device and are destroyed once.
        unsafe {
            let d = &self.ctx.device;
            for f in st.spare_fences {
                d.destroy_fence(f, None);
            }
            for p in st.spare_pools {
                d.destroy_descriptor_pool(p, None);
            }
            for q in [st.timestamps, st.call_timer].into_iter().flatten() {
                d.destroy_query_pool(q, None);
            }
            d.destroy_command_pool(st.commands, None);
        }
    }
}
