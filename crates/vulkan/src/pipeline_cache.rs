//! The pipeline cache on disk: the driver's `VkPipelineCache` data is loaded when the device opens and
//! saved when it closes, keyed by the device's pipeline-cache UUID, vendor, device id and driver
//! version. Each entry starts with a blake3 digest of its payload; an entry that does not match (a
//! truncated or corrupt file) is discarded and the cache starts empty.

use crate::context::Context;
use ash::vk;
use kiln_runtime::{content_hash, DiskCache};

/// Length of the digest before the payload.
const DIGEST: usize = 32;

fn key(ctx: &Context) -> String {
    let p = &ctx.properties;
    content_hash(&[
        &p.pipeline_cache_uuid,
        &p.vendor_id.to_le_bytes(),
        &p.device_id.to_le_bytes(),
        &p.driver_version.to_le_bytes(),
    ])
}

fn disk() -> DiskCache {
    DiskCache::new("vulkan-pipelines", "bin")
}

/// The saved cache data for this device, if a valid entry exists.
pub(crate) fn load(ctx: &Context) -> Option<Vec<u8>> {
    let cache = disk();
    let key = key(ctx);
    let bytes = cache.read(&key)?;
    let valid = bytes.len() > DIGEST && bytes[..DIGEST] == *blake3::hash(&bytes[DIGEST..]).as_bytes();
    if !valid {
        tracing::warn!("pipeline cache {} is corrupt; starting empty", cache.path(&key).display());
        cache.evict(&key);
        return None;
    }
    Some(bytes[DIGEST..].to_vec())
}

/// Saves `pipeline_cache`'s data for this device (failures are logged: the cache is an optimisation).
pub(crate) fn save(ctx: &Context, pipeline_cache: vk::PipelineCache) {
    // SAFETY: the cache belongs to this device and no pipeline is being created (the device is closing).
    let Ok(data) = (unsafe { ctx.device.get_pipeline_cache_data(pipeline_cache) }) else { return };
    if data.is_empty() {
        return;
    }
    let mut bytes = blake3::hash(&data).as_bytes().to_vec();
    bytes.extend_from_slice(&data);
    if let Err(e) = disk().write(&key(ctx), &bytes) {
        tracing::warn!("cannot save the Vulkan pipeline cache: {e}");
    }
}

#[cfg(test)]
mod tests {
    /// A garbage entry is discarded: the device still opens and compiles.
    #[test]
    fn a_corrupt_entry_is_discarded() {
        let dev = match crate::VulkanDevice::new(0) {
            Ok(dev) => dev,
            Err(e) => {
                let what = "pipeline_cache::a_corrupt_entry_is_discarded";
                kiln_testkit::missing_ci_tool(what, "a Vulkan device (lavapipe)", &e.to_string());
                return;
            }
        };
        let key = super::key(dev.context());
        drop(dev);
        super::disk().write(&key, b"not a pipeline cache at all, longer than the digest").unwrap();
        let dev = crate::VulkanDevice::new(0).expect("opens with a corrupt cache entry");
        assert!(super::load(dev.context()).is_none(), "the corrupt entry was evicted");
    }
}
