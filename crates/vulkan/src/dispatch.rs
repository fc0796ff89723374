//! Dispatches: a launch resolved against the device's buffers and limits (its pipeline, one
//! descriptor per parameter, its workgroup count), and the recording of a list of them into one command
//! buffer with a barrier only before a dispatch that depends on one since the last barrier.

use crate::memory::Allocation;
use crate::pipeline::VulkanKernel;
use ash::vk;
use kiln_runtime::{check_launch_args, Launch, RawBuffer, RuntimeError};
use std::collections::HashMap;

/// A launch ready to record.
pub(crate) struct Dispatch {
    pub pipeline: vk::Pipeline,
    pub layout: vk::PipelineLayout,
    pub set_layout: vk::DescriptorSetLayout,
    pub infos: Vec<vk::DescriptorBufferInfo>,
    pub groups: [u32; 3],
}

/// Resolves `launch` on a device with `buffers` and `limits` (named `label` in errors).
pub(crate) fn resolve(
    launch: &Launch,
    buffers: &HashMap<u64, Allocation>,
    limits: &vk::PhysicalDeviceLimits,
    label: &str,
) -> Result<Dispatch, RuntimeError> {
    let program = &launch.program;
    let launch_error = |detail: String| RuntimeError::Device {
        device: label.to_string(),
        what: format!("launch of {}", program.name),
        detail,
    };
    let unknown = |b: RawBuffer| RuntimeError::Device {
        device: label.to_string(),
        what: "buffer access".into(),
        detail: format!("unknown buffer {:#x}", b.0),
    };
    let kernel = launch
        .kernel
        .downcast_ref::<VulkanKernel>()
        .ok_or_else(|| launch_error("kernel was not compiled by a Vulkan device".into()))?;
    check_launch_args(program, &launch.args, |a| buffers.get(&a.0).map(|x| x.bytes).ok_or_else(|| unknown(a)))?;
    let max_range = u64::from(limits.max_storage_buffer_range);
    let mut infos = Vec::with_capacity(launch.args.len());
    for (slot, (arg, param)) in launch.args.iter().zip(&program.params).enumerate() {
        let allocation = buffers.get(&arg.0).ok_or_else(|| unknown(*arg))?;
        let need = (param.numel * param.dtype.size()) as u64;
        if need > max_range {
            return Err(launch_error(format!(
                "parameter {slot} spans {need} bytes, more than this device's maxStorageBufferRange of {max_range} bytes"
            )));
        }
        let range = need.max(4).min(allocation.size);
        infos.push(vk::DescriptorBufferInfo::default().buffer(allocation.buffer).offset(0).range(range));
    }
    let groups = program.launch.global;
    if groups.iter().zip(&limits.max_compute_work_group_count).any(|(g, max)| g > max) {
        return Err(launch_error(format!(
            "{groups:?} workgroups exceed maxComputeWorkGroupCount {:?}",
            limits.max_compute_work_group_count
        )));
    }
    Ok(Dispatch { pipeline: kernel.pipeline, layout: kernel.layout, set_layout: kernel.set_layout, infos, groups })
}

/// Points descriptor set `set` at the buffers of `dispatch`.
pub(crate) fn write_set(d: &ash::Device, set: vk::DescriptorSet, dispatch: &Dispatch) {
    let writes: Vec<vk::WriteDescriptorSet> = dispatch
        .infos
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
    // SAFETY: the set and the buffers are live, and no pending command buffer uses the set.
    unsafe { d.update_descriptor_sets(&writes, &[]) };
}

/// Records `dispatches` (with descriptor sets `sets`) into `cmd`; `deps[i]` are the dispatches that
/// dispatch `i` must follow. A compute-to-compute barrier goes before a dispatch only when it depends
/// on one recorded since the last barrier.
pub(crate) fn record(
    d: &ash::Device,
    cmd: vk::CommandBuffer,
    dispatches: &[Dispatch],
    sets: &[vk::DescriptorSet],
    deps: &[Vec<usize>],
) {
    let mut since_barrier = 0;
    let mut bound = vk::Pipeline::null();
    for (i, (dispatch, set)) in dispatches.iter().zip(sets).enumerate() {
        // SAFETY: recording into a command buffer in the recording state, with live objects.
        unsafe {
            if deps[i].iter().any(|&j| j >= since_barrier) {
                let barrier = vk::MemoryBarrier::default()
                    .src_access_mask(vk::AccessFlags::SHADER_WRITE | vk::AccessFlags::SHADER_READ)
                    .dst_access_mask(vk::AccessFlags::SHADER_READ | vk::AccessFlags::SHADER_WRITE);
                let stage = vk::PipelineStageFlags::COMPUTE_SHADER;
                d.cmd_pipeline_barrier(cmd, stage, stage, vk::DependencyFlags::empty(), &[barrier], &[], &[]);
                since_barrier = i;
            }
            if dispatch.pipeline != bound {
                d.cmd_bind_pipeline(cmd, vk::PipelineBindPoint::COMPUTE, dispatch.pipeline);
                bound = dispatch.pipeline;
            }
            d.cmd_bind_descriptor_sets(cmd, vk::PipelineBindPoint::COMPUTE, dispatch.layout, 0, &[*set], &[]);
            let [x, y, z] = dispatch.groups;
            d.cmd_dispatch(cmd, x, y, z);
        }
    }
}
