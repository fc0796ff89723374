//! Device selection: `Device::cpu()`, `Device::cuda(0)`, `Device::vulkan(0)`, and the default device
//! (`KILN_DEVICE=cpu|cuda|vulkan`, else the best one present).

use crate::error::{Error, Result};
use kiln_runtime::{CpuDevice, RuntimeError};
use std::sync::{Arc, Mutex, OnceLock};

/// A handle to a compute device. Cheap to clone; equal handles share one device.
#[derive(Clone)]
pub struct Device(pub(crate) Arc<dyn kiln_runtime::Device>);

impl Device {
    /// The CPU (C kernels compiled by the system `cc`).
    pub fn cpu() -> Result<Device> {
        static CPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
        CPU.get_or_init(|| CpuDevice::new().map(|d| Device::opened(Arc::new(d))).map_err(|e| e.to_string()))
            .clone()
            .map_err(|reason| Error::Runtime(RuntimeError::Unavailable { device: "CPU".into(), reason }))
    }

    /// CUDA device `index` (an error naming the reason when there is no driver or no such device).
    pub fn cuda(index: usize) -> Result<Device> {
        static CUDA: Mutex<Vec<(usize, Device)>> = Mutex::new(Vec::new());
        let mut opened = CUDA.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, d)) = opened.iter().find(|(i, _)| *i == index) {
            return Ok(d.clone());
        }
        let device = Device::opened(Arc::new(kiln_cuda::CudaDevice::new(index)?));
        opened.push((index, device.clone()));
        Ok(device)
    }

    /// Vulkan device `index`: discrete GPUs first, then integrated, virtual and CPU implementations
    /// (an error naming the reason when there is no loader or no such device).
    pub fn vulkan(index: usize) -> Result<Device> {
        Device::open_vulkan(index).map(|(d, _)| d)
    }

    /// Vulkan device `index` and whether it is a CPU implementation (lavapipe), opened once.
    fn open_vulkan(index: usize) -> Result<(Device, bool)> {
        static VULKAN: Mutex<Vec<(usize, Device, bool)>> = Mutex::new(Vec::new());
        let mut opened = VULKAN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, d, cpu)) = opened.iter().find(|(i, _, _)| *i == index) {
            return Ok((d.clone(), *cpu));
        }
        let vulkan = kiln_vulkan::VulkanDevice::new(index)?;
        let cpu = vulkan.is_cpu_implementation();
        let device = Device::opened(Arc::new(vulkan));
        opened.push((index, device.clone(), cpu));
        Ok((device, cpu))
    }

    /// Wraps a device just opened, which lives as long as the process: it waits for its queued work
    /// and saves its caches when the process exits.
    fn opened(device: Arc<dyn kiln_runtime::Device>) -> Device {
        kiln_runtime::close_at_exit(&device);
        Device(device)
    }

    /// The device named by `KILN_DEVICE` (`cpu`, `cuda`, `cuda:1`, `vulkan`), else the best present.
    pub fn default_device() -> Result<Device> {
        static DEFAULT: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Device::from_env().map_err(|e| e.to_string()))
            .clone()
            .map_err(|reason| Error::Invalid { op: "default_device", reason })
    }

    fn from_env() -> Result<Device> {
        match std::env::var("KILN_DEVICE") {
            Ok(name) if !name.trim().is_empty() => Device::by_name(name.trim()),
            // A Vulkan implementation on the CPU (lavapipe) is no better than the CPU device.
            _ => Device::cuda(0)
                .or_else(|_| match Device::open_vulkan(0)? {
                    (device, false) => Ok(device),
                    (device, true) => Err(Error::Invalid {
                        op: "default_device",
                        reason: format!("{} runs on the CPU", device.name()),
                    }),
                })
                .or_else(|_| Device::cpu()),
        }
    }

    /// Opens a device by name: `cpu`, `cuda`, `cuda:N`, `vulkan`, `vulkan:N` (case-insensitive).
    pub fn by_name(name: &str) -> Result<Device> {
        let lower = name.to_ascii_lowercase();
        let (kind, index) = lower.split_once(':').unwrap_or((&lower, "0"));
        let index: usize = index
            .parse()
            .map_err(|_| Error::Invalid { op: "device", reason: format!("bad device index in `{name}`") })?;
        match kind {
            "cpu" => Device::cpu(),
            "cuda" | "gpu" => Device::cuda(index),
            "vulkan" => Device::vulkan(index),
            _ => Err(Error::Invalid {
                op: "device",
                reason: format!("unknown device `{name}` (expected cpu, cuda or vulkan)"),
            }),
        }
    }

    /// Waits until all work queued on the device has finished.
    pub fn synchronize(&self) -> Result<()> {
        Ok(self.0.synchronize()?)
    }

    /// The device's name, e.g. `CPU`.
    pub fn name(&self) -> String {
        self.0.name()
    }

    /// Starts a timer that marks the point after all work queued so far (CUDA: an event on the stream;
    /// Vulkan: a timestamp query; CPU: the host clock). Nothing waits until [`Device::stop_timer`].
    pub fn start_timer(&self) -> Result<kiln_runtime::Timer> {
        Ok(self.0.start_timer()?)
    }

    /// Marks the end of the work queued since `timer` started, waits for it and returns the seconds
    /// between the marks.
    pub fn stop_timer(&self, timer: kiln_runtime::Timer) -> Result<f64> {
        Ok(self.0.stop_timer(timer)?)
    }

    /// The runtime device behind this handle, for tools that drive raw buffers (benchmarks).
    pub fn runtime(&self) -> &Arc<dyn kiln_runtime::Device> {
        &self.0
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Device({})", self.name())
    }
}
