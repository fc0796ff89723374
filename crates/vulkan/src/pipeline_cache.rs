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
    load_from(&disk(), &key(ctx))
}

/// The payload of entry `key` of `cache` if its digest matches; a corrupt entry is evicted.
fn load_from(cache: &DiskCache, key: &str) -> Option<Vec<u8>> {
    let bytes = cache.read(key)?;
    let valid = bytes.len() > DIGEST && bytes[..DIGEST] == *blake3::hash(&bytes[DIGEST..]).as_bytes();
    if !valid {
        tracing::warn!("pipeline cache {} is corrupt; starting empty", cache.path(key).display());
        cache.evict(key);
        return None;
    }
    Some(bytes[DIGEST..].to_vec())
}

/// `data` as an entry: its digest, then the data.
fn entry(data: &[u8]) -> Vec<u8> {
    let mut bytes = blake3::hash(data).as_bytes().to_vec();
    bytes.extend_from_slice(data);
    bytes
}

/// Saves `pipeline_cache`'s data for this device (failures are logged: the cache is an optimisation).
pub(crate) fn save(ctx: &Context, pipeline_cache: vk::PipelineCache) {
    // SAFETY: the cache belongs to this device and no pipeline is being created (the device is closing).
    let Ok(data) = (unsafe { ctx.device.get_pipeline_cache_data(pipeline_cache) }) else { return };
    if data.is_empty() {
        return;
    }
    if let Err(e) = disk().write(&key(ctx), &entry(&data)) {
        tracing::warn!("cannot save the Vulkan pipeline cache: {e}");
    }
}

#[cfg(test)]
mod tests {
    use kiln_runtime::DiskCache;

    /// A garbage or truncated entry is discarded and evicted; a whole one loads. In a private folder,
    /// never the user's cache.
    #[test]
    fn a_corrupt_entry_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::at(dir.path().to_path_buf(), "vulkan-pipelines", "bin", 1 << 20);
        cache.write("k", b"not a pipeline cache at all, longer than the digest").unwrap();
        assert!(super::load_from(&cache, "k").is_none());
        assert!(cache.read("k").is_none(), "the corrupt entry was evicted");
        let whole = super::entry(b"pipeline data");
        cache.write("k", &whole[..whole.len() - 1]).unwrap();
        assert!(super::load_from(&cache, "k").is_none(), "a truncated entry is discarded");
        cache.write("k", &whole).unwrap();
        assert_eq!(super::load_from(&cache, "k").as_deref(), Some(&b"pipeline data"[..]));
    }
}
