//! kiln-vulkan: the Vulkan device (ash, loader opened at run time): compute pipelines from the SPIR-V
//! renderer, storage buffers, recycled command buffers (one per batch of launches), recorded command
//! buffers replayed as graphs, timestamp queries for timed launches. No loader or no device is a clear `RuntimeError::Unavailable`, never a panic.
// Every Vulkan call through ash is `unsafe`: the crate keeps the handles' lifetimes and the mapped
// pointers' bounds itself.
#![allow(unsafe_code)]

mod context;
mod device;
mod dispatch;
mod graph;
mod memory;
mod pipeline;
mod pipeline_cache;
mod queue;

pub use context::Features;
pub use device::VulkanDevice;
pub use pipeline::missing_features;
