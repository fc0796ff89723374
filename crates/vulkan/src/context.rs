//! Opening Vulkan: the loader (dynamically), an instance, the physical device (discrete GPUs first,
//! then integrated, virtual and CPU ones; the index counts compute-capable devices with Vulkan 1.2),
//! a logical device with one compute queue and the optional features the device has, and the memory
//! pool buffers are sub-allocated from.

use crate::memory::Pool;
use ash::vk;
use kiln_runtime::RuntimeError;
use std::mem::ManuallyDrop;
use std::path::Path;

/// Optional device features kernels may need (SPIR-V capabilities beyond `Shader`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// `shaderInt8` (capability Int8).
    pub int8: bool,
    /// `shaderInt16` (Int16).
    pub int16: bool,
    /// `shaderInt64` (Int64).
    pub int64: bool,
    /// `shaderFloat64` (Float64).
    pub float64: bool,
    /// `storageBuffer8BitAccess` (StorageBuffer8BitAccess).
    pub storage8: bool,
    /// `storageBuffer16BitAccess` (StorageBuffer16BitAccess).
    pub storage16: bool,
    /// `subgroupSize` where compute shaders have the basic and shuffle subgroup operations and
    /// `computeFullSubgroups` (VK_EXT_subgroup_size_control) is on, so that a pipeline can ask for
    /// full subgroups (capabilities GroupNonUniform, GroupNonUniformShuffle); 0 otherwise.
    pub subgroup: u32,
    /// `shaderSignedZeroInfNanPreserveFloat32` (and `...Float64` where `shaderFloat64` is on): kernels
    /// can declare that NaN, infinities and signed zeros are kept (capability SignedZeroInfNanPreserve).
    pub preserve_nan: bool,
}

/// The loader, instance, logical device and memory pool; destroyed (pool, device, instance) when the
/// last user drops it.
pub(crate) struct Context {
    /// Keeps the loader library open while the instance lives.
    _entry: ash::Entry,
    pub instance: ash::Instance,
    pub device: ash::Device,
    /// Memory blocks for buffers; dropped by hand before the device is destroyed.
    pub pool: ManuallyDrop<Pool>,
    pub queue_family: u32,
    pub properties: vk::PhysicalDeviceProperties,
    pub memory: vk::PhysicalDeviceMemoryProperties,
    /// `maxMemoryAllocationSize` (Vulkan 1.1).
    pub max_allocation: u64,
    /// Loop iterations one invocation may run before the driver silently stops the loop (llvmpipe
    /// stops every loop after 65535 iterations, counted across enclosing loops).
    pub loop_limit: Option<u64>,
    pub features: Features,
    /// Valid bits of the queue's timestamps (0: no timestamps).
    pub timestamp_bits: u32,
    pub gpu_name: String,
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the last handle to the context is going away: every object made from the device was
        // destroyed by its owner (buffers, kernels and pools hold the context alive until they are).
        unsafe {
            let _ = self.device.device_wait_idle();
            // The pool frees its memory blocks through the device, so it goes first (and only here).
            ManuallyDrop::drop(&mut self.pool);
            self.device.destroy_device(None);
            self.instance.destroy_instance(None);
        }
    }
}

/// Rank of a device type: lower is preferred.
fn type_rank(t: vk::PhysicalDeviceType) -> u8 {
    match t {
        vk::PhysicalDeviceType::DISCRETE_GPU => 0,
        vk::PhysicalDeviceType::INTEGRATED_GPU => 1,
        vk::PhysicalDeviceType::VIRTUAL_GPU => 2,
        vk::PhysicalDeviceType::CPU => 3,
        _ => 4,
    }
}

struct Candidate {
    physical: vk::PhysicalDevice,
    properties: vk::PhysicalDeviceProperties,
    queue_family: u32,
    timestamp_bits: u32,
}

impl Context {
    /// Opens compute-capable device `index` through the loader at `loader` (the system's when `None`).
    pub(crate) fn open(loader: Option<&Path>, index: usize, label: &str) -> Result<Context, RuntimeError> {
        let unavailable = |reason: String| RuntimeError::Unavailable { device: label.to_string(), reason };
        // SAFETY: loading the Vulkan loader runs its initialisers, which is what it is for.
        let entry = unsafe {
            match loader {
                Some(path) => ash::Entry::load_from(path),
                None => ash::Entry::load(),
            }
        }
        .map_err(|e| {
            let at = loader.map_or_else(|| "libvulkan.so.1".into(), |p| p.display().to_string());
            unavailable(format!("no Vulkan loader ({at}: {e})"))
        })?;
        let app = vk::ApplicationInfo::default().application_name(c"kiln").api_version(vk::API_VERSION_1_2);
        // SAFETY: the create info and what it points to live across the call.
        let instance =
            unsafe { entry.create_instance(&vk::InstanceCreateInfo::default().application_info(&app), None) }
                .map_err(|e| unavailable(format!("vkCreateInstance failed: {e}")))?;
        match Self::with_instance(&instance, index, label) {
            Ok((candidate, device, features, max_allocation, driver)) => {
                let pool = match Pool::new(&instance, &device, candidate.physical) {
                    Ok(pool) => pool,
                    Err(reason) => {
                        // SAFETY: nothing was made from the device, or else from the instance.
                        unsafe {
                            device.destroy_device(None);
                            instance.destroy_instance(None);
                        }
                        return Err(unavailable(reason));
                    }
                };
                // SAFETY: the physical device came from this instance.
                let memory = unsafe { instance.get_physical_device_memory_properties(candidate.physical) };
                let gpu_name = candidate
                    .properties
                    .device_name_as_c_str()
                    .map_or_else(|_| "unnamed".into(), |n| n.to_string_lossy().into_owned());
                Ok(Context {
                    _entry: entry,
                    instance,
                    device,
                    pool: ManuallyDrop::new(pool),
                    queue_family: candidate.queue_family,
                    properties: candidate.properties,
                    memory,
                    max_allocation,
                    loop_limit: (driver == vk::DriverId::MESA_LLVMPIPE).then_some(65_535),
                    features,
                    timestamp_bits: candidate.timestamp_bits,
                    gpu_name,
                })
            }
            Err(e) => {
                // SAFETY: nothing else was made from the instance.
                unsafe { instance.destroy_instance(None) };
                Err(e)
            }
        }
    }

    fn with_instance(
        instance: &ash::Instance,
        index: usize,
        label: &str,
    ) -> Result<(Candidate, ash::Device, Features, u64, vk::DriverId), RuntimeError> {
        let unavailable = |reason: String| RuntimeError::Unavailable { device: label.to_string(), reason };
        // SAFETY: plain queries on a live instance.
        let physicals = unsafe { instance.enumerate_physical_devices() }
            .map_err(|e| unavailable(format!("vkEnumeratePhysicalDevices failed: {e}")))?;
        let mut candidates: Vec<Candidate> = physicals
            .into_iter()
            .filter_map(|physical| {
                // SAFETY: `physical` came from this instance.
                let properties = unsafe { instance.get_physical_device_properties(physical) };
                if properties.api_version < vk::API_VERSION_1_2 {
                    return None;
                }
                // SAFETY: as above.
                let families = unsafe { instance.get_physical_device_queue_family_properties(physical) };
                let (family, props) =
                    families.iter().enumerate().find(|(_, f)| f.queue_flags.contains(vk::QueueFlags::COMPUTE))?;
                Some(Candidate {
                    physical,
                    properties,
                    queue_family: u32::try_from(family).ok()?,
                    timestamp_bits: props.timestamp_valid_bits,
                })
            })
            .collect();
        candidates.sort_by_key(|c| type_rank(c.properties.device_type));
        let count = candidates.len();
        if count == 0 {
            return Err(unavailable("no compute-capable Vulkan 1.2 device".into()));
        }
        if index >= count {
            return Err(unavailable(format!(
                "index out of range: {count} compute-capable Vulkan 1.2 device(s) present"
            )));
        }
        let candidate = candidates.swap_remove(index);
        let (features, max_allocation, driver) = query_features(instance, candidate.physical);
        let core = vk::PhysicalDeviceFeatures::default()
            .shader_int16(features.int16)
            .shader_int64(features.int64)
            .shader_float64(features.float64);
        let mut v11 = vk::PhysicalDeviceVulkan11Features::default().storage_buffer16_bit_access(features.storage16);
        let mut v12 = vk::PhysicalDeviceVulkan12Features::default()
            .storage_buffer8_bit_access(features.storage8)
            .shader_int8(features.int8);
        let mut full_subgroups = vk::PhysicalDeviceSubgroupSizeControlFeatures::default().compute_full_subgroups(true);
        let extensions = [vk::EXT_SUBGROUP_SIZE_CONTROL_NAME.as_ptr()];
        let priorities = [1.0f32];
        let queues = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(candidate.queue_family)
            .queue_priorities(&priorities)];
        let mut info = vk::DeviceCreateInfo::default()
            .queue_create_infos(&queues)
            .enabled_features(&core)
            .push_next(&mut v11)
            .push_next(&mut v12);
        if features.subgroup > 0 {
            info = info.enabled_extension_names(&extensions).push_next(&mut full_subgroups);
        }
        // SAFETY: the create info and its chain live across the call; only supported features are on.
        let device = unsafe { instance.create_device(candidate.physical, &info, None) }
            .map_err(|e| unavailable(format!("vkCreateDevice failed: {e}")))?;
        Ok((candidate, device, features, max_allocation, driver))
    }

    /// The first memory type allowed by `type_bits` with all of `flags`.
    pub(crate) fn memory_type(&self, type_bits: u32, flags: vk::MemoryPropertyFlags) -> Option<u32> {
        (0..self.memory.memory_type_count)
            .find(|&i| type_bits & (1 << i) != 0 && self.memory.memory_types[i as usize].property_flags.contains(flags))
    }

    /// True where host-visible memory is the device's own (integrated GPUs, CPU implementations like
    /// lavapipe): buffers are then mapped and copied with memcpy, without staging.
    pub(crate) fn unified_memory(&self) -> bool {
        let shared =
            matches!(self.properties.device_type, vk::PhysicalDeviceType::INTEGRATED_GPU | vk::PhysicalDeviceType::CPU);
        let flags = vk::MemoryPropertyFlags::DEVICE_LOCAL
            | vk::MemoryPropertyFlags::HOST_VISIBLE
            | vk::MemoryPropertyFlags::HOST_COHERENT;
        shared && self.memory_type(u32::MAX, flags).is_some()
    }

    pub(crate) fn limits(&self) -> &vk::PhysicalDeviceLimits {
        &self.properties.limits
    }
}

/// The optional features of `physical`, its `maxMemoryAllocationSize` and its driver.
fn query_features(instance: &ash::Instance, physical: vk::PhysicalDevice) -> (Features, u64, vk::DriverId) {
    // SAFETY: a plain query on a physical device of this instance.
    let size_control = unsafe { instance.enumerate_device_extension_properties(physical) }
        .is_ok_and(|all| all.iter().any(|e| e.extension_name_as_c_str() == Ok(vk::EXT_SUBGROUP_SIZE_CONTROL_NAME)));
    let mut v11 = vk::PhysicalDeviceVulkan11Features::default();
    let mut v12 = vk::PhysicalDeviceVulkan12Features::default();
    let mut full_subgroups = vk::PhysicalDeviceSubgroupSizeControlFeatures::default();
    let core = {
        let mut all = vk::PhysicalDeviceFeatures2::default().push_next(&mut v11).push_next(&mut v12);
        if size_control {
            all = all.push_next(&mut full_subgroups);
        }
        // SAFETY: the chain lives across the call; the device supports Vulkan 1.2 (checked) and the
        // extension of the last struct (checked).
        unsafe { instance.get_physical_device_features2(physical, &mut all) };
        all.features
    };
    let mut maintenance3 = vk::PhysicalDeviceMaintenance3Properties::default();
    let mut driver = vk::PhysicalDeviceDriverProperties::default();
    let mut subgroups = vk::PhysicalDeviceSubgroupProperties::default();
    let mut float_controls = vk::PhysicalDeviceFloatControlsProperties::default();
    {
        let mut props = vk::PhysicalDeviceProperties2::default()
            .push_next(&mut maintenance3)
            .push_next(&mut driver)
            .push_next(&mut subgroups)
            .push_next(&mut float_controls);
        // SAFETY: as above.
        unsafe { instance.get_physical_device_properties2(physical, &mut props) };
    }
    let on = |b: vk::Bool32| b == vk::TRUE;
    let shuffles = subgroups.supported_stages.contains(vk::ShaderStageFlags::COMPUTE)
        && subgroups.supported_operations.contains(vk::SubgroupFeatureFlags::BASIC | vk::SubgroupFeatureFlags::SHUFFLE);
    let subgroup =
        if size_control && on(full_subgroups.compute_full_subgroups) && shuffles { subgroups.subgroup_size } else { 0 };
    let features = Features {
        int8: on(v12.shader_int8),
        int16: on(core.shader_int16),
        int64: on(core.shader_int64),
        float64: on(core.shader_float64),
        storage8: on(v12.storage_buffer8_bit_access),
        storage16: on(v11.storage_buffer16_bit_access),
        subgroup,
        preserve_nan: on(float_controls.shader_signed_zero_inf_nan_preserve_float32)
            && (!on(core.shader_float64) || on(float_controls.shader_signed_zero_inf_nan_preserve_float64)),
    };
    (features, maintenance3.max_memory_allocation_size, driver.driver_id)
}
