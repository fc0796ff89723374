//! Recorded command buffers as graphs: a captured list of launches becomes one command buffer (barriers
//! only on hazards) with a descriptor set per launch, submitted with one fence per replay. A replay
//! takes the next of two frames (command buffer and sets), waits only for that frame's previous
//! submission, rewrites the descriptor sets whose launches' arguments changed and records the command
//! buffer again if any did (a set updated after recording invalidates it).

use crate::dispatch::{record, resolve, write_set, Dispatch};
use crate::memory::Allocation;
use crate::queue::{record_whole, Queue};
use ash::vk;
use kiln_runtime::{apply_patches, DeviceGraph, Launch, Patch, RuntimeError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The device's live allocations, shared with its graphs.
pub(crate) type Buffers = Arc<Mutex<HashMap<u64, Allocation>>>;

/// Command buffers per graph, used in turn, so a replay rarely waits for the one before it.
const FRAMES: usize = 2;

/// One recording of the graph: a command buffer, a descriptor set per launch, and the arguments they
/// were written with.
struct Frame {
    command: vk::CommandBuffer,
    sets: Vec<vk::DescriptorSet>,
    pools: Vec<vk::DescriptorPool>,
    /// The arguments of each launch when the sets were last written (empty before the first).
    written: Vec<Vec<kiln_runtime::RawBuffer>>,
    /// The last submission of this frame.
    last: Option<u64>,
}

/// A captured launch list on one Vulkan queue.
pub(crate) struct VulkanGraph {
    queue: Arc<Queue>,
    buffers: Buffers,
    launches: Vec<Launch>,
    deps: Vec<Vec<usize>>,
    frames: Vec<Frame>,
    next: usize,
}

impl VulkanGraph {
    pub(crate) fn new(
        queue: &Arc<Queue>,
        buffers: &Buffers,
        launches: &[Launch],
        deps: &[Vec<usize>],
    ) -> Result<VulkanGraph, RuntimeError> {
        let layouts: Vec<vk::DescriptorSetLayout> = {
            let b = buffers.lock().unwrap_or_else(PoisonError::into_inner);
            launches
                .iter()
                .map(|l| resolve(l, &b, queue.ctx.limits(), &queue.label).map(|d| d.set_layout))
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut graph = VulkanGraph {
            queue: Arc::clone(queue),
            buffers: Arc::clone(buffers),
            launches: launches.to_vec(),
            deps: deps.to_vec(),
            frames: Vec::with_capacity(FRAMES),
            next: 0,
        };
        let mut st = queue.lock();
        for _ in 0..FRAMES {
            let command = queue.command_buffer(&mut st)?;
            let mut frame = Frame { command, sets: Vec::new(), pools: Vec::new(), written: Vec::new(), last: None };
            for layout in &layouts {
                match queue.descriptor_set(&mut st, &mut frame.pools, *layout) {
                    Ok(set) => frame.sets.push(set),
                    Err(e) => {
                        queue.recycle_command_buffer(&mut st, frame.command);
                        queue.recycle_pools(&mut st, frame.pools);
                        drop(st);
                        return Err(e);
                    }
                }
            }
            graph.frames.push(frame);
        }
        drop(st);
        Ok(graph)
    }
}

impl DeviceGraph for VulkanGraph {
    fn replay(&mut self, patches: &[Patch]) -> Result<(), RuntimeError> {
        apply_patches(&mut self.launches, patches)?;
        let queue = Arc::clone(&self.queue);
        let frame = &mut self.frames[self.next];
        self.next = (self.next + 1) % FRAMES;
        let changed: Vec<usize> = (0..self.launches.len())
            .filter(|&i| frame.written.get(i).is_none_or(|w| *w != self.launches[i].args))
            .collect();
        let mut st = queue.lock();
        // The frame's command buffer and sets must not be pending while they change or resubmit.
        if let Some(serial) = frame.last {
            queue.wait_for(&mut st, serial)?;
        }
        if !changed.is_empty() {
            let dispatches = {
                let b = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
                self.launches
                    .iter()
                    .map(|l| resolve(l, &b, queue.ctx.limits(), &queue.label))
                    .collect::<Result<Vec<Dispatch>, _>>()?
            };
            for &i in &changed {
                write_set(&queue.ctx.device, frame.sets[i], &dispatches[i]);
            }
            frame.written = self.launches.iter().map(|l| l.args.clone()).collect();
            let d = &queue.ctx.device;
            // SAFETY: the command buffer is not pending (waited for above).
            unsafe { d.reset_command_buffer(frame.command, vk::CommandBufferResetFlags::empty()) }
                .map_err(|e| queue.error("vkResetCommandBuffer", e))?;
            let sets = &frame.sets;
            record_whole(d, frame.command, |d, cmd| record(d, cmd, &dispatches, sets, &self.deps)).map_err(|e| {
                frame.written.clear();
                queue.error("command recording", e)
            })?;
        }
        let kernels = self.launches.iter().map(|l| l.kernel.clone()).collect();
        frame.last = Some(queue.submit(&mut st, frame.command, false, Vec::new(), kernels)?);
        Ok(())
    }
}

impl Drop for VulkanGraph {
    fn drop(&mut self) {
        let queue = Arc::clone(&self.queue);
        let mut st = queue.lock();
        for frame in self.frames.drain(..) {
            if let Some(serial) = frame.last {
                if let Err(e) = queue.wait_for(&mut st, serial) {
                    tracing::warn!("{}: waiting for a graph at drop failed: {e}", queue.label);
                }
            }
            queue.recycle_command_buffer(&mut st, frame.command);
            queue.recycle_pools(&mut st, frame.pools);
        }
    }
}
