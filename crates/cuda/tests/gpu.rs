//! Tests on a real GPU: allocation, copies, out-of-memory, compile errors, PTX caching and every
//! program of the fixed set run through the executor and checked against its Rust reference. Without a
//! GPU they print a loud SKIPPED line; with `KILN_TEST_DEVICES` naming `cuda` a missing GPU fails.

mod common;

use kiln_codegen::{compile_kernel, Source, Target};
use kiln_cuda::CudaDevice;
use kiln_runtime::{run_schedule, Buffer, Device, RuntimeError};
use kiln_schedule::BufferRef;
use kiln_uop::DType;
use std::collections::HashMap;
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

fn encode(values: &[f64], dtype: DType) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| match dtype {
            DType::F32 => (v as f32).to_le_bytes().to_vec(),
            DType::F16 => half::f16::from_f64(v).to_le_bytes().to_vec(),
            DType::BF16 => half::bf16::from_f64(v).to_le_bytes().to_vec(),
            other => panic!("no test encoding for {other:?}"),
        })
        .collect()
}

fn decode(bytes: &[u8], dtype: DType) -> Vec<f64> {
    match dtype {
        DType::F32 => bytes.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
        DType::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        DType::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        other => panic!("no test decoding for {other:?}"),
    }
}

/// The device's own copy moves the bytes, refuses a copy larger than a buffer, and the call timer
/// brackets queued work: a large copy between its marks takes measurable, plausible time.
#[test]
fn device_copies_and_the_call_timer() {
    let Some(dev) = device() else { return };
    let n = 1 << 24;
    let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
    let (src, dst) = (Buffer::alloc(&dev, n).unwrap(), Buffer::alloc(&dev, n).unwrap());
    src.copy_in(&data).unwrap();
    let timer = dev.start_timer().unwrap();
    for _ in 0..4 {
        dev.copy_buffer(dst.raw(), src.raw(), n).unwrap();
    }
    let seconds = dev.stop_timer(timer).unwrap();
    assert!(seconds > 0.0 && seconds < 10.0, "{seconds}");
    assert_eq!(dst.to_host().unwrap(), data);
    let small = Buffer::alloc(&dev, 16).unwrap();
    assert!(matches!(dev.copy_buffer(small.raw(), src.raw(), n), Err(RuntimeError::SizeMismatch { .. })));
    assert!(dev.stop_timer(kiln_runtime::Timer::Device(Box::new(0u8))).is_err());
    eprintln!("{}: 4 copies of {n} bytes in {:.3} ms", dev.name(), seconds * 1e3);
}

#[test]
fn copies_round_trip() {
    let Some(dev) = device() else { return };
    eprintln!("device: {}", dev.name());
    for n in [0usize, 1, 3, 4096, (1 << 20) + 7] {
        let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        let buf = Buffer::alloc(&dev, n).unwrap();
        buf.copy_in(&data).unwrap();
        assert_eq!(buf.to_host().unwrap(), data, "{n} bytes");
    }
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
    let bufs: Vec<Buffer> =
        program.params.iter().map(|p| Buffer::alloc(&dev, p.numel * p.dtype.size()).unwrap()).collect();
    let args: Vec<_> = bufs.iter().map(Buffer::raw).collect();
    let seconds = dev.launch(&kernel, &program, &args, true).unwrap().expect("a timed launch returns its time");
    assert!(seconds > 0.0 && seconds < 1.0, "{seconds}");
    assert_eq!(dev.launch(&kernel, &program, &args, false).unwrap(), None);
    dev.synchronize().unwrap();
    eprintln!("{} on {}: {:.2} us", program.name, dev.name(), seconds * 1e6);
}

#[test]
fn every_program_matches_its_reference() {
    let Some(dev) = device() else { return };
    for case in common::cases() {
        let inputs: Vec<Vec<f64>> = case.inputs.iter().map(|i| common::data(i.id, i.shape.iter().product())).collect();
        let mut bound = HashMap::new();
        for (input, values) in case.inputs.iter().zip(&inputs) {
            let bytes = encode(values, input.dtype);
            let buf = Buffer::alloc(&dev, bytes.len()).unwrap();
            buf.copy_in(&bytes).unwrap();
            bound.insert(input.id, Arc::new(buf));
        }
        let schedule = kiln_schedule::schedule(&case.outputs).unwrap();
        let (fresh, times) = run_schedule(&dev, &schedule, &bound).unwrap();
        dev.synchronize().unwrap();
        let expected = (case.reference)(&inputs);
        for ((out, r), want) in case.outputs.iter().zip(&schedule.outputs).zip(&expected) {
            let buf = match r {
                BufferRef::Input(id) => &bound[id],
                BufferRef::New(i) => &fresh[*i],
            };
            let got = decode(&buf.to_host().unwrap(), out.dtype());
            assert_eq!(got.len(), want.len(), "{}", case.name);
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!((g - w).abs() <= case.tolerance * (1.0 + w.abs()), "{}[{i}]: got {g}, want {w}", case.name);
            }
        }
        eprintln!(
            "{:<14} ok: {} kernel(s), compile {:.1} ms",
            case.name,
            times.kernels,
            times.compile.as_secs_f64() * 1e3
        );
    }
}
