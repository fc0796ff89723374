//! kiln-vulkan: the Vulkan device (ash compute pipelines, buffers and timestamp queries).
