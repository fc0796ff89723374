//! Checks every GPU device passes, shared by the CUDA (`gpu.rs`) and Vulkan (`vulkan.rs`) test
//! binaries: copies and the call timer, copy round trips, a timed launch, and every program of the
//! fixed set against its Rust reference.

use kiln_codegen::Program;
use kiln_runtime::{run_schedule, Buffer, CompiledKernel, Device, RuntimeError};
use kiln_schedule::BufferRef;
use kiln_uop::DType;
use std::collections::HashMap;
use std::sync::Arc;

pub fn encode(values: &[f64], dtype: DType) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| match dtype {
            DType::F32 => (v as f32).to_le_bytes().to_vec(),
            DType::F16 => half::f16::from_f64(v).to_le_bytes().to_vec(),
            DType::BF16 => half::bf16::from_f64(v).to_le_bytes().to_vec(),
            DType::I32 => (v as i32).to_le_bytes().to_vec(),
            other => panic!("no test encoding for {other:?}"),
        })
        .collect()
}

pub fn decode(bytes: &[u8], dtype: DType) -> Vec<f64> {
    match dtype {
        DType::F32 => bytes.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
        DType::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        DType::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        DType::I32 => bytes.chunks_exact(4).map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
        other => panic!("no test decoding for {other:?}"),
    }
}

/// The device's own copy moves the bytes, refuses a copy larger than a buffer, and the call timer
/// brackets queued work: a large copy between its marks takes measurable, plausible time.
pub fn copies_and_the_call_timer(dev: &Arc<dyn Device>) {
    let n = 1 << 24;
    let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
    let (src, dst) = (Buffer::alloc(dev, n).unwrap(), Buffer::alloc(dev, n).unwrap());
    src.copy_in(&data).unwrap();
    let timer = dev.start_timer().unwrap();
    for _ in 0..4 {
        dev.copy_buffer(dst.raw(), src.raw(), n).unwrap();
    }
    let seconds = dev.stop_timer(timer).unwrap();
    assert!(seconds > 0.0 && seconds < 10.0, "{seconds}");
    assert_eq!(dst.to_host().unwrap(), data);
    let small = Buffer::alloc(dev, 16).unwrap();
    assert!(matches!(dev.copy_buffer(small.raw(), src.raw(), n), Err(RuntimeError::SizeMismatch { .. })));
    assert!(dev.stop_timer(kiln_runtime::Timer::Device(Box::new(0u8))).is_err());
    eprintln!("{}: 4 copies of {n} bytes in {:.3} ms", dev.name(), seconds * 1e3);
}

/// Host to device to host, for sizes from empty to unaligned megabytes.
pub fn copies_round_trip(dev: &Arc<dyn Device>) {
    eprintln!("device: {}", dev.name());
    for n in [0usize, 1, 3, 4096, (1 << 20) + 7] {
        let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        let buf = Buffer::alloc(dev, n).unwrap();
        buf.copy_in(&data).unwrap();
        assert_eq!(buf.to_host().unwrap(), data, "{n} bytes");
    }
}

/// A timed launch of `kernel` returns plausible device seconds; an untimed one returns none.
pub fn timed_launch(dev: &Arc<dyn Device>, kernel: &CompiledKernel, program: &Program) {
    let bufs: Vec<Buffer> =
        program.params.iter().map(|p| Buffer::alloc(dev, p.numel * p.dtype.size()).unwrap()).collect();
    let args: Vec<_> = bufs.iter().map(Buffer::raw).collect();
    let seconds = dev.launch(kernel, program, &args, true).unwrap().expect("a timed launch returns its time");
    assert!(seconds > 0.0 && seconds < 1.0, "{seconds}");
    assert_eq!(dev.launch(kernel, program, &args, false).unwrap(), None);
    dev.synchronize().unwrap();
    eprintln!("{} on {}: {:.2} us", program.name, dev.name(), seconds * 1e6);
}

/// Every case of [`super::cases`] through the executor, against its reference.
pub fn every_program_matches_its_reference(dev: &Arc<dyn Device>) {
    for case in super::cases() {
        let inputs: Vec<Vec<f64>> = case.inputs.iter().map(|i| super::data(i.id, i.shape.iter().product())).collect();
        let mut bound = HashMap::new();
        for (input, values) in case.inputs.iter().zip(&inputs) {
            let bytes = encode(values, input.dtype);
            let buf = Buffer::alloc(dev, bytes.len()).unwrap();
            buf.copy_in(&bytes).unwrap();
            bound.insert(input.id, Arc::new(buf));
        }
        let schedule = kiln_schedule::schedule(&case.outputs).unwrap();
        let (fresh, times) = run_schedule(dev, &schedule, &bound).unwrap();
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
