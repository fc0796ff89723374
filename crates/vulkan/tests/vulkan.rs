//! The Vulkan device on whatever Vulkan is present (lavapipe in CI, the NVIDIA driver on a GPU
//! machine): opening errors, copies, the buffer-range limit, large grids (2-D dispatch), timed
//! launches, and the fixed program set of the CUDA tests against its Rust reference. Without a Vulkan
//! device they print a loud SKIPPED line; with `KILN_TEST_DEVICES` naming `vulkan` a missing one fails.

#[path = "../../cuda/tests/common/mod.rs"]
mod common;

use common::checks::{self, decode};

use kiln_codegen::{compile_kernel, compile_kernel_with, OptOp, Source, Target};
use kiln_runtime::{run_schedule, Buffer, Device, RuntimeError};
use kiln_schedule::BufferRef;
use kiln_uop::{Arg, DType, Op, ReduceOp, UOp};
use kiln_vulkan::{missing_features, Features, VulkanDevice};
use std::collections::HashMap;
use std::sync::Arc;

/// Vulkan device 0, or `None` after a recorded skip (a failure under `CI=true`, which installs lavapipe).
fn device() -> Option<Arc<VulkanDevice>> {
    match VulkanDevice::new(0) {
        Ok(d) => Some(Arc::new(d)),
        Err(e) => {
            let required = std::env::var("KILN_TEST_DEVICES").is_ok_and(|v| v.split(',').any(|d| d.trim() == "vulkan"));
            assert!(!required, "KILN_TEST_DEVICES names vulkan but VULKAN:0 is unavailable: {e}");
            kiln_testkit::missing_ci_tool("Vulkan device tests", "a Vulkan device (lavapipe)", &e.to_string());
            None
        }
    }
}

fn dyn_device(d: &Arc<VulkanDevice>) -> Arc<dyn Device> {
    Arc::clone(d) as Arc<dyn Device>
}

#[test]
fn device_copies_and_the_call_timer() {
    let Some(dev) = device() else { return };
    checks::copies_and_the_call_timer(&dyn_device(&dev));
}

#[test]
fn no_loader_is_unavailable() {
    let missing = std::path::Path::new("/nonexistent/libvulkan.so.1");
    let Err(RuntimeError::Unavailable { device, reason }) = VulkanDevice::with_loader(Some(missing), 0) else {
        panic!("a Vulkan device opened without a loader")
    };
    assert_eq!(device, "VULKAN:0");
    assert!(reason.contains("no Vulkan loader") && reason.contains("/nonexistent/libvulkan.so.1"), "{reason}");
    eprintln!("without a loader: {reason}");
}

#[test]
fn an_index_out_of_range_is_unavailable() {
    let Err(RuntimeError::Unavailable { device, reason }) = VulkanDevice::new(4096) else {
        panic!("VULKAN:4096 opened")
    };
    assert_eq!(device, "VULKAN:4096");
    eprintln!("VULKAN:4096: {reason}");
}

#[test]
fn missing_features_are_named() {
    let x = common::buffer(1, &[4], DType::F64);
    let schedule = kiln_schedule::schedule(&[x.add(&x)]).unwrap();
    let (_, source) = compile_kernel(&schedule.kernels[0].ast, &Target::VULKAN).unwrap();
    let words = source.spirv().unwrap();
    let missing = missing_features(words, &Features::default());
    assert_eq!(missing, vec!["shaderFloat64 (SPIR-V capability Float64)".to_string()]);
    let all = Features {
        int8: true,
        int16: true,
        int64: true,
        float64: true,
        storage8: true,
        storage16: true,
        subgroup: 32,
        preserve_nan: true,
    };
    assert!(missing_features(words, &all).is_empty());
}

#[test]
fn copies_round_trip() {
    let Some(dev) = device() else { return };
    checks::copies_round_trip(&dyn_device(&dev));
}

#[test]
fn text_source_is_a_compile_error() {
    let Some(dev) = device() else { return };
    let schedule = kiln_schedule::schedule(&common::cases()[0].outputs).unwrap();
    let (program, _) = compile_kernel(&schedule.kernels[0].ast, &Target::VULKAN).unwrap();
    let Err(RuntimeError::Compile { name, log }) = dev.compile(&program, &Source::Text("int x;".into())) else {
        panic!("text accepted")
    };
    assert_eq!(name, program.name);
    assert!(log.contains("compiles SPIR-V"), "{log}");
}

/// An elementwise kernel over a buffer one element larger than `maxStorageBufferRange` allows: the
/// launch must fail naming the limit, and the device must stay usable.
#[test]
fn a_buffer_beyond_the_storage_range_limit_is_a_clear_error() {
    let Some(vk) = device() else { return };
    let dev = dyn_device(&vk);
    let limit = vk.max_storage_buffer_range();
    let numel = usize::try_from(limit / 4 + 1).unwrap();
    let x = common::buffer(1, &[numel], DType::F32);
    let schedule = kiln_schedule::schedule(&[x.mul(&x)]).unwrap();
    let (program, source) = compile_kernel(&schedule.kernels[0].ast, &Target::VULKAN).unwrap();
    let kernel = dev.compile(&program, &source).unwrap();
    let big = match Buffer::alloc(&dev, numel * 4) {
        Ok(big) => big,
        Err(RuntimeError::OutOfMemory { detail, .. }) if detail.contains("maxMemoryAllocationSize") => {
            // NVIDIA: maxStorageBufferRange (4 GiB - 1) is at least maxMemoryAllocationSize, so no one
            // buffer can exceed the range; the allocation itself is the clear error then.
            eprintln!("\n=== a buffer beyond maxStorageBufferRange {limit} cannot be allocated here: {detail} ===\n");
            return;
        }
        Err(e) => panic!("allocating {} bytes: {e}", numel * 4),
    };
    let Ok(out) = Buffer::alloc(&dev, numel * 4) else { return eprintln!("\n=== no room for a second buffer ===\n") };
    assert_eq!(program.params[1].numel, numel, "slot 0 is the output, slot 1 the input");
    let args = [out.raw(), big.raw()];
    let err = dev.launch(&kernel, &program, &args, false).expect_err("launch beyond the limit");
    let text = err.to_string();
    assert!(text.contains("maxStorageBufferRange") && text.contains(&limit.to_string()), "{text}");
    eprintln!("{} bytes on {}: {text}", numel * 4, dev.name());
    drop(big);
    let small = Buffer::alloc(&dev, 8).unwrap();
    small.copy_in(&[1u8; 8]).unwrap();
    assert_eq!(small.to_host().unwrap(), [1u8; 8]);
}

/// More workgroups than `maxComputeWorkGroupCount[0]` on lavapipe (65535 x 128 invocations): the grid
/// is dispatched in two dimensions and the flat index rebuilt in the shader.
#[test]
fn large_grids_cover_every_element() {
    let Some(vk) = device() else { return };
    let dev = dyn_device(&vk);
    let n = 65_535 * 128 + 1000;
    let (a, b) = (common::buffer(1, &[n], DType::F32), common::buffer(2, &[n], DType::F32));
    let schedule = kiln_schedule::schedule(&[a.add(&b)]).unwrap();
    let mut bound = HashMap::new();
    for id in [1u64, 2] {
        let values: Vec<u8> = (0..n).flat_map(|i| ((i % 1000) as f32 * id as f32).to_le_bytes()).collect();
        let buf = Buffer::alloc(&dev, values.len()).unwrap();
        buf.copy_in(&values).unwrap();
        bound.insert(id, Arc::new(buf));
    }
    let (fresh, _) = run_schedule(&dev, &schedule, &bound).unwrap();
    let BufferRef::New(i) = schedule.outputs[0] else { panic!("output is an input") };
    let got = decode(&fresh[i].to_host().unwrap(), DType::F32);
    for idx in [0, 1, 65_535 * 128 - 1, 65_535 * 128, n - 1] {
        assert_eq!(got[idx], (idx % 1000) as f64 * 3.0, "element {idx}");
    }
    assert!(got.iter().enumerate().all(|(i, &g)| g == (i % 1000) as f64 * 3.0));
}

#[test]
fn timed_launches_report_device_seconds() {
    let Some(vk) = device() else { return };
    let dev = dyn_device(&vk);
    let schedule = kiln_schedule::schedule(&common::cases()[0].outputs).unwrap();
    let (program, source) = compile_kernel(&schedule.kernels[0].ast, &Target::VULKAN).unwrap();
    let kernel = dev.compile(&program, &source).unwrap();
    let again = dev.compile(&program, &source).unwrap();
    assert!(Arc::ptr_eq(&kernel, &again), "one pipeline per SPIR-V module");
    checks::timed_launch(&dev, &kernel, &program);
}

#[test]
fn every_program_matches_its_reference() {
    let Some(vk) = device() else { return };
    checks::every_program_matches_its_reference(&dyn_device(&vk));
}

/// A single loop of 70,000 iterations: llvmpipe silently stops loops after 65,535, so there it must
/// be a compile error naming the limit; elsewhere the sum must be exact.
#[test]
fn loops_beyond_the_driver_limit_are_refused_or_exact() {
    let Some(vk) = device() else { return };
    let dev = dyn_device(&vk);
    let n = 70_000;
    let x = common::buffer(1, &[n], DType::F32);
    let sum = UOp::new(Op::ReduceAxis, DType::F32, vec![x], Arg::ReduceAxis(ReduceOp::Add, vec![0]));
    let schedule = kiln_schedule::schedule(&[sum]).unwrap();
    let ones: Vec<u8> = (0..n).flat_map(|_| 1.0f32.to_le_bytes()).collect();
    let input = Buffer::alloc(&dev, ones.len()).unwrap();
    input.copy_in(&ones).unwrap();
    let bound = HashMap::from([(1u64, Arc::new(input))]);
    match run_schedule(&dev, &schedule, &bound) {
        Ok((fresh, _)) => {
            let BufferRef::New(i) = schedule.outputs[0] else { panic!("output is an input") };
            assert_eq!(decode(&fresh[i].to_host().unwrap(), DType::F32), vec![n as f64]);
        }
        Err(RuntimeError::Compile { log, .. }) => {
            assert!(log.contains("llvmpipe") && log.contains("65535") && log.contains("70000"), "{log}");
            eprintln!("{}: {log}", dev.name());
        }
        Err(e) => panic!("{e}"),
    }
}

/// A row reduction with one row per workgroup combines by subgroup shuffles where the device has them
/// (lavapipe's subgroups are 8 wide, NVIDIA's 32) and matches the host exactly: sums and maxima of
/// f32 (one row's maximum over a NaN is NaN) and sums of i32, in groups one subgroup wide (no local
/// memory) and several, and through the tree where a block holds two rows.
#[test]
fn grouped_reductions_shuffle_within_subgroups() {
    let Some(vk) = device() else { return };
    let dev = dyn_device(&vk);
    let target = dev.target();
    let sub = target.caps.subgroup as usize;
    eprintln!("{}: subgroups of {sub}, NaN preserved: {}", dev.name(), target.caps.preserve_nan);
    let (rows, cols) = (8, 4096);
    for (dtype, op) in [(DType::F32, ReduceOp::Add), (DType::F32, ReduceOp::Max), (DType::I32, ReduceOp::Add)] {
        // One subgroup per row, 128 threads per row, and two rows of 64 per block (the tree).
        let layouts = [
            (vec![OptOp::Group { axis: 1, amt: sub.max(2) }], sub > 1),
            (vec![OptOp::Group { axis: 1, amt: 128 }], sub > 1),
            (vec![OptOp::Local { axis: 0, amt: 2 }, OptOp::Group { axis: 2, amt: 64 }], false),
        ];
        for (opts, shuffled) in layouts {
            let group = format!("{opts:?}");
            let x = common::buffer(1, &[rows, cols], dtype);
            let red = UOp::new(Op::ReduceAxis, dtype, vec![x], Arg::ReduceAxis(op, vec![1]));
            let schedule = kiln_schedule::schedule(&[red]).unwrap();
            let (program, source) = compile_kernel_with(&schedule.kernels[0].ast, &target, &opts).unwrap();
            let shuffles = program.instructions.iter().filter(|u| u.op() == Op::Shuffle).count();
            assert_eq!(shuffles, if shuffled { sub.trailing_zeros() as usize } else { 0 }, "{op:?} {dtype} by {group}");
            let kernel = dev.compile(&program, &source).unwrap();
            let mut values: Vec<f64> = (0..rows * cols).map(|i| ((i * 7919) % 1000) as f64 - 500.0).collect();
            if (dtype, op) == (DType::F32, ReduceOp::Max) {
                values[3 * cols + 77] = f64::NAN;
            }
            let input = Buffer::alloc(&dev, rows * cols * 4).unwrap();
            input.copy_in(&common::checks::encode(&values, dtype)).unwrap();
            let out = Buffer::alloc(&dev, rows * 4).unwrap();
            let args: Vec<_> = schedule.kernels[0]
                .args
                .iter()
                .map(|a| if matches!(a, BufferRef::New(_)) { out.raw() } else { input.raw() })
                .collect();
            dev.launch(&kernel, &program, &args, false).unwrap();
            dev.synchronize().unwrap();
            let got = decode(&out.to_host().unwrap(), dtype);
            let want: Vec<f64> = values
                .chunks(cols)
                .map(|row| match op {
                    ReduceOp::Max if row.iter().any(|v| v.is_nan()) => f64::NAN,
                    ReduceOp::Max => row.iter().copied().fold(f64::MIN, f64::max),
                    _ => row.iter().sum(),
                })
                .collect();
            let same = got.iter().zip(&want).all(|(g, w)| g == w || (g.is_nan() && w.is_nan()));
            assert!(same, "{op:?} {dtype} by {group} on {}: {got:?} against {want:?}", dev.name());
        }
    }
}
