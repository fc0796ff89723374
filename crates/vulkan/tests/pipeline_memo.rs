//! The Vulkan device keeps at most `KILN_KERNEL_MEMO` pipelines, forgetting the least recently used:
//! with a capacity of 4 and 6 kernels compiled, a kernel used after every compile is still the same
//! pipeline, and one not used since is rebuilt. Alone in its test binary, because it sets the
//! variable. Skips loudly without a Vulkan device; fails then in CI or when `KILN_TEST_DEVICES` names
//! vulkan.

#[path = "../../cuda/tests/common/mod.rs"]
mod common;

use kiln_codegen::{compile_kernel, Target};
use kiln_runtime::{CompiledKernel, Device};
use kiln_uop::DType;
use kiln_vulkan::VulkanDevice;
use std::sync::Arc;

#[test]
fn pipelines_are_kept_least_recently_used_first_out() {
    // The only test in this binary: no other thread reads the environment now.
    std::env::set_var("KILN_KERNEL_MEMO", "4");
    let dev = match VulkanDevice::new(0) {
        Ok(d) => d,
        Err(e) => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true")
                || std::env::var("KILN_TEST_DEVICES").is_ok_and(|v| v.split(',').any(|d| d.trim() == "vulkan"));
            assert!(!required, "a Vulkan device is required here but VULKAN:0 is unavailable: {e}");
            return kiln_testkit::skip("Vulkan device tests", &format!("no Vulkan device ({e})"));
        }
    };
    // Kernel `n` adds a vector of `n + 1` elements to itself: a distinct SPIR-V module each.
    let compile = |n: usize| -> CompiledKernel {
        let x = common::buffer(1, &[n + 1], DType::F32);
        let schedule = kiln_schedule::schedule(&[x.add(&x)]).unwrap();
        let (program, source) = compile_kernel(&schedule.kernels[0].ast, &Target::VULKAN).unwrap();
        dev.compile(&program, &source).unwrap()
    };
    let first = compile(0);
    let second = compile(1);
    for n in 2..6 {
        compile(n);
        assert!(Arc::ptr_eq(&compile(0), &first), "a recently used pipeline survives");
    }
    assert!(!Arc::ptr_eq(&compile(1), &second), "the least recently used pipeline was forgotten and rebuilt");
}
