//! Random valid opt lists applied to small kernels (elementwise, row and column reductions, a full
//! reduction, matmul, softmax) give the same results as the unoptimised kernels, on every device
//! under test. Opts a kernel rejects are skipped, as search would; 64 cases per run.

use kiln_codegen::{compile_kernel_with, lower, OptOp};
use kiln_conformance::devices;
use kiln_runtime::{Device, RawBuffer};
use kiln_schedule::BufferRef;
use kiln_uop::{Arg, ConstValue, DType, Op, ReduceOp, UOp};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

fn buffer(id: u64, shape: &[usize]) -> UOp {
    let b = UOp::new(Op::Buffer, DType::F32, vec![], Arg::Buffer { id, numel: shape.iter().product() });
    UOp::new(Op::Reshape, DType::F32, vec![b], Arg::Shape(shape.to_vec()))
}
fn movement(x: &UOp, op: Op, arg: Arg) -> UOp {
    UOp::new(op, x.dtype(), vec![x.clone()], arg)
}
fn reduce(x: &UOp, op: ReduceOp, axes: &[usize], out: &[usize]) -> UOp {
    movement(&movement(x, Op::ReduceAxis, Arg::ReduceAxis(op, axes.to_vec())), Op::Reshape, Arg::Shape(out.to_vec()))
}
fn expand(x: &UOp, shape: &[usize]) -> UOp {
    movement(x, Op::Expand, Arg::Shape(shape.to_vec()))
}

/// Input shapes by buffer id.
type Inputs = Vec<(u64, Vec<usize>)>;

/// The programs: (name, output, inputs).
fn programs() -> Vec<(&'static str, UOp, Inputs)> {
    let (a, b, c) = (buffer(1, &[12, 16]), buffer(2, &[12, 16]), buffer(3, &[12, 16]));
    let m1 = buffer(4, &[16, 32]);
    let m2 = buffer(5, &[32, 24]);
    let a3 = expand(&movement(&m1, Op::Reshape, Arg::Shape(vec![16, 1, 32])), &[16, 24, 32]);
    let b3 = expand(
        &movement(&movement(&m2, Op::Permute, Arg::Axes(vec![1, 0])), Op::Reshape, Arg::Shape(vec![1, 24, 32])),
        &[16, 24, 32],
    );
    let x = buffer(6, &[8, 64]);
    let max = expand(
        &movement(
            &movement(&x, Op::ReduceAxis, Arg::ReduceAxis(ReduceOp::Max, vec![1])),
            Op::Reshape,
            Arg::Shape(vec![8, 1]),
        ),
        &[8, 64],
    );
    let minus_one = expand(
        &movement(&UOp::constant(DType::F32, ConstValue::Float(-1.0)), Op::Reshape, Arg::Shape(vec![1, 1])),
        &[8, 64],
    );
    let e = UOp::alu(Op::Exp2, vec![x.add(&max.mul(&minus_one))]);
    let sum = expand(
        &movement(
            &movement(&e, Op::ReduceAxis, Arg::ReduceAxis(ReduceOp::Add, vec![1])),
            Op::Reshape,
            Arg::Shape(vec![8, 1]),
        ),
        &[8, 64],
    );
    vec![
        ("mul_add", a.mul(&b).add(&c), vec![(1, vec![12, 16]), (2, vec![12, 16]), (3, vec![12, 16])]),
        ("row_sum", reduce(&buffer(7, &[8, 256]), ReduceOp::Add, &[1], &[8]), vec![(7, vec![8, 256])]),
        ("row_max", reduce(&buffer(7, &[8, 256]), ReduceOp::Max, &[1], &[8]), vec![(7, vec![8, 256])]),
        ("col_sum", reduce(&buffer(8, &[64, 12]), ReduceOp::Add, &[0], &[12]), vec![(8, vec![64, 12])]),
        ("full_sum", reduce(&buffer(9, &[4096]), ReduceOp::Add, &[0], &[]), vec![(9, vec![4096])]),
        ("matmul", reduce(&a3.mul(&b3), ReduceOp::Add, &[2], &[16, 24]), vec![(4, vec![16, 32]), (5, vec![32, 24])]),
        ("softmax", e.fdiv(&sum), vec![(6, vec![8, 64])]),
    ]
}

fn floats(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

/// The opts of `wish` that apply to `ast`, in order (a rejected one is skipped).
fn valid_opts(ast: &UOp, wish: &[(u8, usize, usize)], device: &Arc<dyn Device>) -> Vec<OptOp> {
    let caps = device.target().caps;
    let mut kernel = lower(ast).expect("lowers");
    let mut opts = Vec::new();
    for &(kind, axis, amt) in wish {
        let opt = OptOp::of_kind(kind, axis, amt);
        if let Ok(next) = kernel.apply_opt(opt, &caps) {
            kernel = next;
            opts.push(opt);
        }
    }
    opts
}

/// Runs `out`'s schedule on `device`, each kernel with the opts `choose` gives it; the output values.
fn run(
    device: &Arc<dyn Device>,
    out: &UOp,
    inputs: &[(u64, Vec<usize>)],
    choose: &dyn Fn(&UOp) -> Vec<OptOp>,
) -> (Vec<f32>, Vec<Vec<OptOp>>) {
    let schedule = kiln_schedule::schedule(std::slice::from_ref(out)).expect("schedules");
    let mut buffers: HashMap<BufferRef, (RawBuffer, usize)> = HashMap::new();
    for (id, shape) in inputs {
        let data = floats(*id, shape.iter().product());
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let raw = device.alloc(bytes.len()).expect("alloc");
        device.copy_in(raw, &bytes).expect("copy in");
        buffers.insert(BufferRef::Input(*id), (raw, bytes.len()));
    }
    for (i, spec) in schedule.buffers.iter().enumerate() {
        let bytes = spec.numel.max(1) * spec.dtype.size();
        buffers.insert(BufferRef::New(i), (device.alloc(bytes).expect("alloc"), bytes));
    }
    let mut applied = Vec::new();
    for kernel in &schedule.kernels {
        let opts = choose(&kernel.ast);
        let (program, source) =
            compile_kernel_with(&kernel.ast, &device.target(), &opts).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        let compiled = device.compile(&program, &source).unwrap_or_else(|e| panic!("{opts:?}: {e}\n{source}"));
        let args: Vec<RawBuffer> = kernel.args.iter().map(|a| buffers[a].0).collect();
        device.launch(&compiled, &program, &args, false).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        applied.push(opts);
    }
    let (raw, bytes) = buffers[&schedule.outputs[0]];
    let mut host = vec![0u8; bytes];
    device.copy_out(raw, &mut host).expect("copy out");
    for (raw, bytes) in buffers.values() {
        device.free(*raw, *bytes);
    }
    (host.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(), applied)
}

/// Runs `out` on `device` unoptimised and with the opts of `wish` each kernel accepts, asserts the
/// results match, and returns the opts applied (all kernels' in order).
fn optimised_matches(
    device: &Arc<dyn Device>,
    name: &str,
    out: &UOp,
    inputs: &[(u64, Vec<usize>)],
    wish: &[(u8, usize, usize)],
) -> Vec<OptOp> {
    let (want, _) = run(device, out, inputs, &|_| Vec::new());
    let (got, opts) = run(device, out, inputs, &|ast| valid_opts(ast, wish, device));
    let flat: Vec<OptOp> = opts.concat();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{name} with {flat:?} on {}: {g} vs {w}", device.name());
    }
    flat
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_opts_match_the_unoptimised_kernel(
        wish in prop::collection::vec((0u8..OptOp::KINDS, 0usize..5, prop::sample::select(vec![2usize, 3, 4, 5, 8, 16, 32])), 0..5),
    ) {
        for device in devices() {
            let device = Arc::clone(device.runtime());
            for (name, out, inputs) in programs() {
                let (want, _) = run(&device, &out, &inputs, &|_| Vec::new());
                let (got, opts) = run(&device, &out, &inputs, &|ast| valid_opts(ast, &wish, &device));
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    prop_assert!(
                        (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{name} with {opts:?} on {}: element {i} is {g}, unoptimised {w}", device.name()
                    );
                }
            }
        }
    }
}

/// The property above is not vacuous: known opts apply on every device (group and local only where
/// the device has blocks) and keep the results.
#[test]
fn known_opts_apply_and_keep_results() {
    let wish = [(3u8, 1usize, 16usize), (0, 0, 4), (1, 2, 4), (2, 0, 2)];
    for device in devices() {
        let device = Arc::clone(device.runtime());
        let has_local = device.target().caps.has_local;
        for (name, out, inputs) in programs() {
            let flat = optimised_matches(&device, name, &out, &inputs, &wish);
            if matches!(name, "matmul" | "row_sum") {
                assert!(!flat.is_empty(), "{name}: no opt applied on {}", device.name());
            }
            if name == "row_sum" && has_local {
                assert!(flat.iter().any(|o| matches!(o, OptOp::Group { .. })), "{name}: {flat:?}");
            }
        }
    }
}

/// `Swap` of two output axes and `NoLocals` (where the device has blocks) apply to a 2-D elementwise
/// kernel and a matmul and keep the results; `NoLocals` then refuses a `Local`.
#[test]
fn swap_and_no_locals_keep_results() {
    let wish = [(5u8, 0usize, 1usize), (6, 0, 0), (2, 0, 2)];
    for device in devices() {
        let device = Arc::clone(device.runtime());
        let has_local = device.target().caps.has_local;
        for (name, out, inputs) in programs().into_iter().filter(|(n, _, _)| matches!(*n, "mul_add" | "matmul")) {
            let flat = optimised_matches(&device, name, &out, &inputs, &wish);
            assert!(flat.contains(&OptOp::Swap { a: 0, b: 1 }), "{name}: {flat:?}");
            assert_eq!(flat.contains(&OptOp::NoLocals), has_local, "{name}: {flat:?}");
            if has_local {
                assert!(!flat.iter().any(|o| matches!(o, OptOp::Local { .. })), "{name}: a Local after NoLocals");
            }
        }
    }
}

/// `PadTo` lengthens an output axis or a reduce axis to a multiple (12 -> 16 outputs, a 256-long sum
/// -> 258, a 64-long column sum -> 66, a max over 256 -> 260, softmax rows 64 -> 66) and keeps the
/// results: the padded loads and stores are gated and the padded reductions take their identity.
#[test]
fn pad_to_keeps_results() {
    for device in devices() {
        let device = Arc::clone(device.runtime());
        for (name, out, inputs) in programs() {
            let wish: &[(u8, usize, usize)] = match name {
                "mul_add" => &[(7, 0, 8)],
                "row_sum" | "col_sum" | "softmax" => &[(7, 1, 3)],
                "row_max" => &[(7, 1, 5)],
                _ => continue,
            };
            let flat = optimised_matches(&device, name, &out, &inputs, wish);
            assert!(flat.iter().any(|o| matches!(o, OptOp::PadTo { .. })), "{name}: no PadTo applied: {flat:?}");
        }
    }
}

/// `Thread` (CPU only) cuts an output axis into contiguous chunks run as the kernel's parallel loop:
/// it applies to every program with an output axis it divides on the CPU, is refused where the device
/// has blocks, and keeps the results.
#[test]
fn thread_keeps_results() {
    for device in devices() {
        let device = Arc::clone(device.runtime());
        let cpu = !device.target().caps.has_local;
        for (name, out, inputs) in programs() {
            if name == "full_sum" {
                continue;
            }
            let wish: &[(u8, usize, usize)] = &[(8, 0, 4), (8, 0, 2)];
            let flat = optimised_matches(&device, name, &out, &inputs, wish);
            assert_eq!(flat.iter().any(|o| matches!(o, OptOp::Thread { .. })), cpu, "{name}: {flat:?}");
        }
    }
}
