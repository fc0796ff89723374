//! 100,000 small tensors live at once on the Vulkan device: buffers are sub-allocated from a few
//! memory blocks, so the driver's `maxMemoryAllocationCount` (4096 on many) is never reached. Copies
//! in and out of some of them, and a kernel reading two, give the right bytes. Without a Vulkan device
//! this prints a loud SKIPPED line; in CI (`CI=true`, lavapipe installed) or with `KILN_TEST_DEVICES`
//! naming vulkan, a missing device fails.

#[path = "../../cuda/tests/common/mod.rs"]
mod common;

use kiln_runtime::{run_schedule, Buffer, Device};
use kiln_schedule::BufferRef;
use kiln_uop::DType;
use kiln_vulkan::VulkanDevice;
use std::collections::HashMap;
use std::sync::Arc;

#[test]
fn a_hundred_thousand_live_buffers_work() {
    let dev: Arc<dyn Device> = match VulkanDevice::new(0) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true")
                || std::env::var("KILN_TEST_DEVICES").is_ok_and(|v| v.split(',').any(|d| d.trim() == "vulkan"));
            assert!(!required, "a Vulkan device is required here but VULKAN:0 is unavailable: {e}");
            return kiln_testkit::skip("Vulkan device tests", &format!("no Vulkan device ({e})"));
        }
    };
    let count = 100_000;
    let value = |i: usize, k: usize| (i * 4 + k) as f32;
    let bytes = |i: usize| (0..4).flat_map(|k| value(i, k).to_le_bytes()).collect::<Vec<u8>>();
    let buffers: Vec<Arc<Buffer>> = (0..count)
        .map(|i| {
            let b = Buffer::alloc(&dev, 16).unwrap_or_else(|e| panic!("buffer {i} of {count}: {e}"));
            b.copy_in(&bytes(i)).unwrap();
            Arc::new(b)
        })
        .collect();
    for i in [0, 1, 4_095, 4_096, 4_097, 65_536, count - 1] {
        assert_eq!(buffers[i].to_host().unwrap(), bytes(i), "buffer {i}");
    }
    // A kernel reads two of them and writes a fresh one.
    let (a, b) = (common::buffer(1, &[4], DType::F32), common::buffer(2, &[4], DType::F32));
    let schedule = kiln_schedule::schedule(&[a.add(&b)]).unwrap();
    let (i, j) = (12_345, count - 2);
    let bound = HashMap::from([(1u64, Arc::clone(&buffers[i])), (2u64, Arc::clone(&buffers[j]))]);
    let (fresh, _) = run_schedule(&dev, &schedule, &bound).unwrap();
    let BufferRef::New(out) = schedule.outputs[0] else { panic!("the output is an input") };
    let got = fresh[out].to_host().unwrap();
    for k in 0..4 {
        let g = f32::from_le_bytes(got[4 * k..4 * k + 4].try_into().unwrap());
        assert_eq!(g, value(i, k) + value(j, k), "element {k}");
    }
    eprintln!("{count} live buffers of 16 bytes on {}", dev.name());
}
