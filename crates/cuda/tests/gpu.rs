//! Tests on a real GPU: allocation, copies, out-of-memory, compile errors, PTX caching and every
//! program of the fixed set run through the executor and checked against its Rust reference. Without a
//! GPU they print a loud SKIPPED line; with `KILN_TEST_DEVICES` naming `cuda` a missing GPU fails.

mod common;

use common::checks;

use kiln_codegen::{compile_kernel, Source, Target};
use kiln_cuda::CudaDevice;
use kiln_runtime::{Buffer, Device, RuntimeError};
use std::sync::Arc;

/// CUDA device 0, or `None` after a recorded skip (counted as skipped by CI, never as passed).
fn device() -> Option<Arc<dyn Device>> {
    match CudaDevice::new(0) {
        Ok(d) => Some(Arc::new(d)),
        Err(e) => {
            let required = std::env::var("KILN_TEST_DEVICES").is_ok_and(|v| v.split(',').any(|d| d.trim() == "cuda"));
            assert!(!required, "KILN_TEST_DEVICES names cuda but CUDA:0 is unavailable: {e}");
            kiln_testkit::skip("CUDA device tests", &format!("no CUDA device ({e})"));
            None
        }
    }
}

#[test]
fn device_copies_and_the_call_timer() {
    let Some(dev) = device() else { return };
    checks::copies_and_the_call_timer(&dev);
}

#[test]
fn copies_round_trip() {
    let Some(dev) = device() else { return };
    checks::copies_round_trip(&dev);
}

#[test]
fn out_of_memory_is_an_error_and_the_device_stays_usable() {
    let Some(dev) = device() else { return };
    let tib = 1usize << 40;
    match dev.alloc(tib) {
        Err(RuntimeError::OutOfMemory { bytes, detail, .. }) => {
            assert_eq!(bytes, tib);
            eprintln!("1 TiB allocation: out of memory ({detail})");
        }
        Err(other) => panic!("expected OutOfMemory, got {other}"),
        Ok(raw) => {
            dev.free(raw, tib);
            panic!("a 1 TiB allocation succeeded");
        }
    }
    let buf = Buffer::alloc(&dev, 16).unwrap();
    buf.copy_in(&[7u8; 16]).unwrap();
    assert_eq!(buf.to_host().unwrap(), [7u8; 16]);
}

#[test]
fn compile_errors_show_the_nvrtc_log() {
    let Some(dev) = device() else { return };
    let case = &common::cases()[0];
    let schedule = kiln_schedule::schedule(&case.outputs).unwrap();
    let (program, source) = compile_kernel(&schedule.kernels[0].ast, &Target::CUDA).unwrap();
    let broken = Source::Text(source.to_string().replace("data0[", "undeclared_name["));
    let Err(RuntimeError::Compile { name, log }) = dev.compile(&program, &broken) else {
        panic!("expected a compile error")
    };
    assert_eq!(name, program.name);
    assert!(log.contains("undeclared_name") && log.contains(&program.name), "{log}");
    eprintln!("compile error as reported:\n{log}");
}

#[test]
fn timed_launches_report_device_seconds_and_ptx_is_cached() {
    let Some(dev) = device() else { return };
    let case = &common::cases()[0];
    let schedule = kiln_schedule::schedule(&case.outputs).unwrap();
    let (program, source) = compile_kernel(&schedule.kernels[0].ast, &Target::CUDA).unwrap();
    let t0 = std::time::Instant::now();
    let kernel = dev.compile(&program, &source).unwrap();
    let first = t0.elapsed();
    let t1 = std::time::Instant::now();
    dev.compile(&program, &source).unwrap();
    eprintln!(
        "compile {}: first {:.1} ms, again (disk cache) {:.1} ms",
        program.name,
        first.as_secs_f64() * 1e3,
        t1.elapsed().as_secs_f64() * 1e3
    );
    let cached = std::fs::read_dir(kiln_runtime::cache_dir().join("cuda"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "ptx"));
    assert!(cached, "no PTX in the cache");
    checks::timed_launch(&dev, &kernel, &program);
}

#[test]
fn every_program_matches_its_reference() {
    let Some(dev) = device() else { return };
    checks::every_program_matches_its_reference(&dev);
}
