//! The fixed set of tensor programs the CUDA tests render, compile and run: each is a UOp graph over
//! input buffers, with deterministic input data and a plain-Rust reference of its outputs.
//! Shared by `kernels.rs` (snapshots, NVRTC), `gpu.rs` (runs on a GPU) and the Vulkan crate's
//! `vulkan.rs`; `checks` holds the device checks both GPU binaries run.
// Each test binary uses part of this module (the snapshot test never runs the references).
#![allow(dead_code)]

pub mod checks;

use kiln_uop::{Arg, ConstValue, DType, Op, ReduceOp, UOp};

/// One input buffer: its id in the graph, shape and element type.
pub struct Input {
    pub id: u64,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// A test program: outputs realized together and a reference computing them from the inputs.
pub struct Case {
    pub name: &'static str,
    pub inputs: Vec<Input>,
    pub outputs: Vec<UOp>,
    /// Inputs (as f64, in `inputs` order) to expected outputs (row-major).
    pub reference: fn(&[Vec<f64>]) -> Vec<Vec<f64>>,
    /// Absolute and relative tolerance for comparing outputs.
    pub tolerance: f64,
}

pub fn buffer(id: u64, shape: &[usize], dtype: DType) -> UOp {
    let b = UOp::new(Op::Buffer, dtype, vec![], Arg::Buffer { id, numel: shape.iter().product() });
    UOp::new(Op::Reshape, dtype, vec![b], Arg::Shape(shape.to_vec()))
}
fn reshape(x: &UOp, shape: &[usize]) -> UOp {
    UOp::new(Op::Reshape, x.dtype(), vec![x.clone()], Arg::Shape(shape.to_vec()))
}
fn expand(x: &UOp, shape: &[usize]) -> UOp {
    UOp::new(Op::Expand, x.dtype(), vec![x.clone()], Arg::Shape(shape.to_vec()))
}
fn reduce(x: &UOp, op: ReduceOp, axes: &[usize]) -> UOp {
    UOp::new(Op::ReduceAxis, x.dtype(), vec![x.clone()], Arg::ReduceAxis(op, axes.to_vec()))
}
fn unary(op: Op, x: &UOp) -> UOp {
    UOp::alu(op, vec![x.clone()])
}
fn scalar(dtype: DType, v: f64) -> UOp {
    UOp::constant(dtype, ConstValue::Float(v))
}
fn input(id: u64, shape: &[usize], dtype: DType) -> Input {
    Input { id, shape: shape.to_vec(), dtype }
}

/// Deterministic input data in [-1, 1), exactly representable in f16 and bf16.
pub fn data(id: u64, numel: usize) -> Vec<f64> {
    (0..numel).map(|i| ((i as u64 * 37 + id * 11) % 64) as f64 / 32.0 - 1.0).collect()
}

/// `exp(x)` as the frontend builds it: `exp2(x * log2(e))`.
fn exp(x: &UOp) -> UOp {
    unary(Op::Exp2, &x.mul(&scalar(x.dtype(), std::f64::consts::LOG2_E)))
}

fn fma(dtype: DType, name: &'static str, tolerance: f64) -> Case {
    fma_of(1000, dtype, name, tolerance)
}

fn fma_of(n: usize, dtype: DType, name: &'static str, tolerance: f64) -> Case {
    let (a, b, c) = (buffer(1, &[n], dtype), buffer(2, &[n], dtype), buffer(3, &[n], dtype));
    Case {
        name,
        inputs: vec![input(1, &[n], dtype), input(2, &[n], dtype), input(3, &[n], dtype)],
        outputs: vec![a.mul(&b).add(&c)],
        reference: |x| vec![(0..x[0].len()).map(|i| x[0][i] * x[1][i] + x[2][i]).collect()],
        tolerance,
    }
}

fn row_sum(dtype: DType, name: &'static str, tolerance: f64) -> Case {
    let x = buffer(1, &[8, 33], dtype);
    let s = reduce(&x.cast(DType::F32), ReduceOp::Add, &[1]).cast(dtype);
    Case {
        name,
        inputs: vec![input(1, &[8, 33], dtype)],
        outputs: vec![reshape(&s, &[8])],
        reference: |x| vec![x[0].chunks(33).map(|r| r.iter().sum()).collect()],
        tolerance,
    }
}

/// Softmax over the rows of `x` (`rows` x `n`, f32) as the frontend builds it.
fn softmax_graph(x: &UOp, rows: usize, n: usize) -> UOp {
    let m = expand(&reduce(x, ReduceOp::Max, &[1]), &[rows, n]);
    let e = exp(&x.sub(&m));
    let s = expand(&reduce(&e, ReduceOp::Add, &[1]), &[rows, n]);
    e.fdiv(&s)
}

/// The f64 softmax of rows of `N`.
fn softmax_reference<const N: usize>(x: &[Vec<f64>]) -> Vec<Vec<f64>> {
    vec![x[0]
        .chunks(N)
        .flat_map(|r| {
            let m = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = r.iter().map(|v| (v - m).exp()).sum();
            r.iter().map(move |v| (v - m).exp() / s).collect::<Vec<_>>()
        })
        .collect()]
}

fn softmax() -> Case {
    Case {
        name: "softmax",
        inputs: vec![input(1, &[4, 40], DType::F32)],
        outputs: vec![softmax_graph(&buffer(1, &[4, 40], DType::F32), 4, 40)],
        reference: softmax_reference::<40>,
        tolerance: 1e-5,
    }
}

fn layernorm() -> Case {
    let (rows, n) = (6, 48);
    let x = buffer(1, &[rows, n], DType::F32);
    let mean = expand(&reduce(&x, ReduceOp::Add, &[1]).fdiv(&scalar(DType::F32, n as f64)), &[rows, n]);
    let centered = x.sub(&mean);
    let var = reduce(&centered.mul(&centered), ReduceOp::Add, &[1]).fdiv(&scalar(DType::F32, n as f64));
    let inv = unary(Op::Recip, &unary(Op::Sqrt, &var.add(&scalar(DType::F32, 1e-5))));
    Case {
        name: "layernorm",
        inputs: vec![input(1, &[rows, n], DType::F32)],
        outputs: vec![centered.mul(&expand(&inv, &[rows, n]))],
        reference: |x| {
            vec![x[0]
                .chunks(48)
                .flat_map(|r| {
                    let mean = r.iter().sum::<f64>() / 48.0;
                    let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 48.0;
                    r.iter().map(move |v| (v - mean) / (var + 1e-5).sqrt()).collect::<Vec<_>>()
                })
                .collect()]
        },
        tolerance: 1e-4,
    }
}

/// A 64^3 matmul of `dtype` inputs, accumulated in f32, stored as `dtype`.
fn matmul_of(dtype: DType, name: &'static str, tolerance: f64) -> Case {
    let n = 64;
    let a = expand(&reshape(&buffer(1, &[n, n], dtype), &[n, 1, n]), &[n, n, n]).cast(DType::F32);
    let bt = UOp::new(Op::Permute, dtype, vec![buffer(2, &[n, n], dtype)], Arg::Axes(vec![1, 0]));
    let b = expand(&reshape(&bt, &[1, n, n]), &[n, n, n]).cast(DType::F32);
    let out = reshape(&reduce(&a.mul(&b), ReduceOp::Add, &[2]), &[n, n]).cast(dtype);
    Case {
        name,
        inputs: vec![input(1, &[n, n], dtype), input(2, &[n, n], dtype)],
        outputs: vec![out],
        reference: |x| {
            let n = 64;
            vec![(0..n * n).map(|ij| (0..n).map(|k| x[0][ij / n * n + k] * x[1][k * n + ij % n]).sum()).collect()]
        },
        tolerance,
    }
}

fn matmul() -> Case {
    matmul_of(DType::F32, "matmul_64", 1e-4)
}

/// f16 inputs: the register tiles read four consecutive halves at once (8-byte vectors, as no run of
/// eight forms).
fn matmul_f16() -> Case {
    matmul_of(DType::F16, "matmul_64_f16", 2e-2)
}

fn seed() -> Case {
    let bufs: Vec<UOp> = (1..=4).map(|id| buffer(id, &[257], DType::F32)).collect();
    let ab = bufs[0].add(&bufs[1]);
    Case {
        name: "seed_abc_abd",
        inputs: (1..=4).map(|id| input(id, &[257], DType::F32)).collect(),
        outputs: vec![ab.add(&bufs[2]), ab.add(&bufs[3])],
        reference: |x| {
            let ab: Vec<f64> = (0..x[0].len()).map(|i| x[0][i] + x[1][i]).collect();
            vec![(0..ab.len()).map(|i| ab[i] + x[2][i]).collect(), (0..ab.len()).map(|i| ab[i] + x[3][i]).collect()]
        },
        tolerance: 1e-6,
    }
}

fn pad_flip() -> Case {
    let x = buffer(1, &[4, 6], DType::F32);
    let flipped = UOp::new(Op::Flip, DType::F32, vec![x], Arg::Axes(vec![1]));
    let padded = UOp::new(Op::Pad, DType::F32, vec![flipped], Arg::Pairs(vec![(1, 1), (2, 0)]));
    Case {
        name: "pad_flip",
        inputs: vec![input(1, &[4, 6], DType::F32)],
        outputs: vec![padded.mul(&scalar(DType::F32, 2.0))],
        reference: |x| {
            let mut out = vec![0.0; 6 * 8];
            for i in 0..4 {
                for j in 0..6 {
                    out[(i + 1) * 8 + 2 + j] = 2.0 * x[0][i * 6 + (5 - j)];
                }
            }
            vec![out]
        },
        tolerance: 1e-6,
    }
}

/// Every case, in a fixed order.
pub fn cases() -> Vec<Case> {
    vec![
        fma(DType::F32, "fma_f32", 1e-6),
        row_sum(DType::F32, "row_sum_f32", 1e-5),
        softmax(),
        layernorm(),
        matmul(),
        seed(),
        pad_flip(),
        fma(DType::F16, "fma_f16", 2e-3),
        fma(DType::BF16, "fma_bf16", 1e-2),
        row_sum(DType::F16, "row_sum_f16", 2e-2),
        row_sum(DType::BF16, "row_sum_bf16", 1e-1),
        long_row_sum(),
        fma_of(1 << 18, DType::F32, "fma_f32_vectors", 1e-6),
        fma_of(1 << 18, DType::F16, "fma_f16_vectors", 2e-3),
        softmax_f16_rows(),
        matmul_f16(),
    ]
}

/// Softmax over f16 rows long enough to be grouped: each thread reads eight consecutive halves at once
/// (one 16-byte load), and the elementwise kernel stores eight at once.
fn softmax_f16_rows() -> Case {
    let (rows, n) = (256, 1024);
    let x = buffer(1, &[rows, n], DType::F16).cast(DType::F32);
    Case {
        name: "softmax_f16_vectors",
        inputs: vec![input(1, &[rows, n], DType::F16)],
        outputs: vec![softmax_graph(&x, rows, n).cast(DType::F16)],
        reference: softmax_reference::<1024>,
        tolerance: 2e-3,
    }
}

/// Rows long enough that the heuristics split each across a block of threads (a grouped reduction
/// through shared memory and a barrier).
fn long_row_sum() -> Case {
    let x = buffer(1, &[4, 4096], DType::F32);
    Case {
        name: "row_sum_grouped",
        inputs: vec![input(1, &[4, 4096], DType::F32)],
        outputs: vec![reshape(&reduce(&x, ReduceOp::Add, &[1]), &[4])],
        reference: |x| vec![x[0].chunks(4096).map(|r| r.iter().sum()).collect()],
        tolerance: 1e-4,
    }
}
