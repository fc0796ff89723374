//! Compiling a kernel: the SPIR-V module's capabilities are checked against the device's features and
//! its shape against the device's limits, then it becomes a shader module, a descriptor set layout (one
//! storage buffer per parameter, binding = slot), a pipeline layout and a compute pipeline (through the
//! device's pipeline cache).

use crate::context::{Context, Features};
use ash::vk;
use kiln_codegen::Program;
use kiln_runtime::RuntimeError;
use kiln_uop::Op;
use spirv::Capability;
use std::ffi::CString;
use std::sync::Arc;

/// A compiled kernel; its Vulkan objects are destroyed when the last user drops it.
pub(crate) struct VulkanKernel {
    ctx: Arc<Context>,
    module: vk::ShaderModule,
    pub set_layout: vk::DescriptorSetLayout,
    pub layout: vk::PipelineLayout,
    pub pipeline: vk::Pipeline,
}

impl Drop for VulkanKernel {
    fn drop(&mut self) {
        // SAFETY: launches wait for their fences before their resources go (the device synchronises
        // before it is dropped, and a kernel in flight is kept alive by the caller's handle).
        unsafe {
            let d = &self.ctx.device;
            d.destroy_pipeline(self.pipeline, None);
            d.destroy_pipeline_layout(self.layout, None);
            d.destroy_descriptor_set_layout(self.set_layout, None);
            d.destroy_shader_module(self.module, None);
        }
    }
}

/// The capabilities a SPIR-V module declares (`OpCapability`, opcode 17, in its preamble).
fn capabilities(words: &[u32]) -> Vec<u32> {
    let mut caps = Vec::new();
    let mut i = 5;
    while let Some(&head) = words.get(i) {
        let (count, opcode) = ((head >> 16) as usize, head & 0xffff);
        if count == 0 {
            break;
        }
        if opcode == spirv::Op::Capability as u32 {
            caps.extend(words.get(i + 1).copied());
        }
        i += count;
    }
    caps
}

/// The most loop iterations one invocation of `program` runs: each loop's trip count times those of
/// the loops around it.
fn loop_iterations(program: &Program) -> u64 {
    let mut trips = vec![1u64];
    let mut most = 0;
    for u in &program.instructions {
        match u.op() {
            Op::Range => {
                let trip = u.src()[0].const_int().and_then(|n| u64::try_from(n).ok()).unwrap_or(u64::MAX);
                let total = trips.last().copied().unwrap_or(1).saturating_mul(trip);
                most = most.max(total);
                trips.push(total);
            }
            Op::EndRange => {
                trips.pop();
            }
            _ => {}
        }
    }
    most
}

/// The device features (by their Vulkan names) that the module `words` needs and `features` lacks,
/// each with the SPIR-V capability that needs it.
pub fn missing_features(words: &[u32], features: &Features) -> Vec<String> {
    let table = [
        (Capability::Int8, "shaderInt8", features.int8),
        (Capability::Int16, "shaderInt16", features.int16),
        (Capability::Int64, "shaderInt64", features.int64),
        (Capability::Float64, "shaderFloat64", features.float64),
        (Capability::StorageBuffer8BitAccess, "storageBuffer8BitAccess", features.storage8),
        (Capability::StorageBuffer16BitAccess, "storageBuffer16BitAccess", features.storage16),
        (Capability::GroupNonUniform, "subgroups with computeFullSubgroups", features.subgroup > 0),
        (Capability::GroupNonUniformShuffle, "subgroup shuffles with computeFullSubgroups", features.subgroup > 0),
        (Capability::SignedZeroInfNanPreserve, "shaderSignedZeroInfNanPreserveFloat32", features.preserve_nan),
    ];
    let declared = capabilities(words);
    let mut missing = Vec::new();
    for cap in declared {
        match table.iter().find(|(c, _, _)| *c as u32 == cap) {
            Some((c, name, false)) => missing.push(format!("{name} (SPIR-V capability {c:?})")),
            Some(_) => {}
            None if cap == Capability::Shader as u32 => {}
            None => missing.push(format!("SPIR-V capability {cap}, which kiln-vulkan does not enable")),
        }
    }
    missing
}

impl VulkanKernel {
    /// Builds the pipeline of `program` from its SPIR-V `words`.
    pub(crate) fn new(
        ctx: &Arc<Context>,
        cache: vk::PipelineCache,
        program: &Program,
        words: &[u32],
        label: &str,
    ) -> Result<VulkanKernel, RuntimeError> {
        let fail = |log: String| RuntimeError::Compile { name: program.name.clone(), log: format!("{label}: {log}") };
        let missing = missing_features(words, &ctx.features);
        if !missing.is_empty() {
            return Err(fail(format!("the kernel needs device features this device lacks: {}", missing.join(", "))));
        }
        if let Some(limit) = ctx.loop_limit {
            let iterations = loop_iterations(program);
            if iterations > limit {
                return Err(fail(format!(
                    "the kernel runs {iterations} loop iterations per invocation, but this driver (llvmpipe) \
                     stops loops after {limit} and would return wrong results"
                )));
            }
        }
        let limits = ctx.limits();
        let local = program.launch.local;
        let shuffles = capabilities(words).contains(&(Capability::GroupNonUniformShuffle as u32));
        if shuffles && !local[0].is_multiple_of(ctx.features.subgroup.max(1)) {
            return Err(fail(format!(
                "the kernel shuffles within subgroups of {}, but its workgroup's x size {} is not a multiple, so \
                 its subgroups cannot all be full",
                ctx.features.subgroup, local[0]
            )));
        }
        let too_wide = local.iter().zip(&limits.max_compute_work_group_size).any(|(l, max)| l > max);
        if too_wide || program.launch.threads_per_block() > limits.max_compute_work_group_invocations {
            return Err(fail(format!(
                "workgroup of {local:?} invocations exceeds maxComputeWorkGroupSize {:?} / maxComputeWorkGroupInvocations {}",
                limits.max_compute_work_group_size, limits.max_compute_work_group_invocations
            )));
        }
        if program.launch.shared_bytes > limits.max_compute_shared_memory_size {
            return Err(fail(format!(
                "{} bytes of workgroup memory exceed maxComputeSharedMemorySize {}",
                program.launch.shared_bytes, limits.max_compute_shared_memory_size
            )));
        }
        let params = u32::try_from(program.params.len()).unwrap_or(u32::MAX);
        if params > limits.max_per_stage_descriptor_storage_buffers {
            return Err(fail(format!(
                "{params} buffers exceed maxPerStageDescriptorStorageBuffers {}",
                limits.max_per_stage_descriptor_storage_buffers
            )));
        }
        let entry = CString::new(program.name.clone()).map_err(|_| fail("kernel name contains a NUL byte".into()))?;
        let d = &ctx.device;
        // SAFETY: valid SPIR-V words (validated in the renderer's tests); destroyed with the kernel.
        let module = unsafe { d.create_shader_module(&vk::ShaderModuleCreateInfo::default().code(words), None) }
            .map_err(|e| fail(format!("vkCreateShaderModule: {e}")))?;
        let bindings: Vec<vk::DescriptorSetLayoutBinding> = (0..params)
            .map(|i| {
                vk::DescriptorSetLayoutBinding::default()
                    .binding(i)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::COMPUTE)
            })
            .collect();
        // The partly built kernel destroys what exists so far if a later step fails (null handles
        // are ignored by the destroy calls).
        let mut kernel = VulkanKernel {
            ctx: Arc::clone(ctx),
            module,
            set_layout: vk::DescriptorSetLayout::null(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
        };
        let set_info = vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings);
        // SAFETY: the create infos live across each call.
        kernel.set_layout = unsafe { d.create_descriptor_set_layout(&set_info, None) }
            .map_err(|e| fail(format!("vkCreateDescriptorSetLayout: {e}")))?;
        let set_layouts = [kernel.set_layout];
        // SAFETY: as above.
        kernel.layout = unsafe {
            d.create_pipeline_layout(&vk::PipelineLayoutCreateInfo::default().set_layouts(&set_layouts), None)
        }
        .map_err(|e| fail(format!("vkCreatePipelineLayout: {e}")))?;
        let mut stage = vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::COMPUTE)
            .module(kernel.module)
            .name(&entry);
        if shuffles {
            // Butterfly shuffles read every lane of the subgroup: each must be launched full.
            stage = stage.flags(vk::PipelineShaderStageCreateFlags::REQUIRE_FULL_SUBGROUPS);
        }
        let info = [vk::ComputePipelineCreateInfo::default().stage(stage).layout(kernel.layout)];
        // SAFETY: as above; the cache belongs to the same device.
        let pipelines = unsafe { d.create_compute_pipelines(cache, &info, None) }
            .map_err(|(_, e)| fail(format!("vkCreateComputePipelines: {e}")))?;
        kernel.pipeline = pipelines.first().copied().ok_or_else(|| fail("no pipeline created".into()))?;
        Ok(kernel)
    }
}
