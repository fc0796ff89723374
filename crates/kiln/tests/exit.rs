//! Exiting with work queued: devices opened through `kiln` live in statics and are never dropped, so
//! at process exit they wait for their queues and save their disk caches (the Vulkan pipeline cache).
//! The test runs itself again as a child process that queues work and returns at once.

use kiln::{DType, Device, Tensor};
use std::process::Command;

const CHILD: &str = "KILN_EXIT_TEST_CHILD";

/// The child: a chain of matmuls queued on Vulkan, realized (queued) but never read back or awaited.
fn queue_and_return() -> kiln::Result<()> {
    let d = Device::vulkan(0)?;
    let mut x = Tensor::rand(&[256, 256], DType::F32)?.to(&d)?;
    let w = Tensor::full_on(&[256, 256], 0.01, DType::F32, &d)?;
    for _ in 0..8 {
        x = x.matmul(&w)?.tanh()?;
    }
    x.realize()?;
    Ok(())
}

#[test]
fn vulkan_waits_and_saves_its_pipeline_cache_at_exit() -> kiln::Result<()> {
    if std::env::var_os(CHILD).is_some() {
        return queue_and_return();
    }
    if let Err(e) = Device::vulkan(0) {
        kiln_testkit::missing_ci_tool("exit with Vulkan work queued", "lavapipe", &e.to_string());
        return Ok(());
    }
    // The exit raced lavapipe's compile on its queue thread about one time in two before the fix, so
    // the child runs a few times.
    for _ in 0..4 {
        let cache = tempfile::tempdir().expect("a temporary cache folder");
        let out = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "vulkan_waits_and_saves_its_pipeline_cache_at_exit", "--nocapture"])
            .env(CHILD, "1")
            .env("KILN_CACHE_DIR", cache.path())
            .output()
            .expect("the child runs");
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the child exits cleanly with work queued: {:?}\n{log}", out.status);
        assert!(log.contains("1 passed"), "the child ran its test:\n{log}");
        let saved: Vec<_> = std::fs::read_dir(cache.path().join("vulkan-pipelines"))
            .map(|dir| dir.filter_map(|e| e.ok()).filter(|e| e.metadata().is_ok_and(|m| m.len() > 0)).collect())
            .unwrap_or_default();
        assert!(!saved.is_empty(), "the pipeline cache was saved at exit:\n{log}");
    }
    Ok(())
}
