//! The fixed set of tensor programs every renderer's snapshots cover (elementwise, reduce, softmax,
//! layernorm, matmul, the two-output seed case, a padded and flipped view), built as UOp graphs.
// Each test binary uses part of this module (the C snapshots name programs one by one).
#![allow(dead_code)]

use kiln_uop::{Arg, ConstValue, DType, Op, ReduceOp, UOp};

pub fn buffer(id: u64, shape: &[usize]) -> UOp {
    let b = UOp::new(Op::Buffer, DType::F32, vec![], Arg::Buffer { id, numel: shape.iter().product() });
    UOp::new(Op::Reshape, DType::F32, vec![b], Arg::Shape(shape.to_vec()))
}
pub fn movement(x: &UOp, op: Op, arg: Arg) -> UOp {
    UOp::new(op, x.dtype(), vec![x.clone()], arg)
}
pub fn reduce(x: &UOp, op: ReduceOp, axes: &[usize]) -> UOp {
    movement(x, Op::ReduceAxis, Arg::ReduceAxis(op, axes.to_vec()))
}
pub fn expand(x: &UOp, shape: &[usize]) -> UOp {
    movement(x, Op::Expand, Arg::Shape(shape.to_vec()))
}
fn scalar(v: f64, shape: &[usize]) -> UOp {
    let c = UOp::constant(DType::F32, ConstValue::Float(v));
    expand(&movement(&c, Op::Reshape, Arg::Shape(vec![1; shape.len()])), shape)
}

fn softmax(x: &UOp, shape: &[usize]) -> UOp {
    let m = expand(&reduce(x, ReduceOp::Max, &[1]), shape);
    let e = UOp::alu(Op::Exp2, vec![x.add(&m.mul(&scalar(-1.0, shape))).mul(&scalar(std::f64::consts::LOG2_E, shape))]);
    e.fdiv(&expand(&reduce(&e, ReduceOp::Add, &[1]), shape))
}

pub fn elementwise_mul_add() -> Vec<UOp> {
    let (a, b, c) = (buffer(1, &[16, 16]), buffer(2, &[16, 16]), buffer(3, &[16, 16]));
    vec![a.mul(&b).add(&c)]
}

pub fn row_sum() -> Vec<UOp> {
    let x = buffer(1, &[16, 32]);
    vec![movement(&reduce(&x, ReduceOp::Add, &[1]), Op::Reshape, Arg::Shape(vec![16]))]
}

pub fn softmax_rows() -> Vec<UOp> {
    vec![softmax(&buffer(1, &[8, 32]), &[8, 32])]
}

pub fn layernorm_rows() -> Vec<UOp> {
    let shape = [8, 32];
    let x = buffer(1, &shape);
    let mean = expand(&reduce(&x, ReduceOp::Add, &[1]), &shape).mul(&scalar(1.0 / 32.0, &shape));
    let centered = x.add(&mean.mul(&scalar(-1.0, &shape)));
    let var = expand(&reduce(&centered.mul(&centered), ReduceOp::Add, &[1]), &shape).mul(&scalar(1.0 / 32.0, &shape));
    let inv = UOp::alu(Op::Recip, vec![UOp::alu(Op::Sqrt, vec![var.add(&scalar(1e-5, &shape))])]);
    vec![centered.mul(&inv)]
}

pub fn matmul_64() -> Vec<UOp> {
    vec![matmul(&[], 64, 64, 64)]
}

/// `a @ b` over the last two axes of `[batch.., m, k]` and `[batch.., k, n]`.
pub fn matmul(batch: &[usize], m: usize, k: usize, n: usize) -> UOp {
    let shape = |tail: &[usize]| batch.iter().chain(tail).copied().collect::<Vec<_>>();
    let d = batch.len();
    let (a, b) = (buffer(1, &shape(&[m, k])), buffer(2, &shape(&[k, n])));
    let a3 = expand(&movement(&a, Op::Reshape, Arg::Shape(shape(&[m, 1, k]))), &shape(&[m, n, k]));
    let swap: Vec<usize> = (0..d).chain([d + 1, d]).collect();
    let bt = movement(&b, Op::Permute, Arg::Axes(swap));
    let b3 = expand(&movement(&bt, Op::Reshape, Arg::Shape(shape(&[1, n, k]))), &shape(&[m, n, k]));
    movement(&reduce(&a3.mul(&b3), ReduceOp::Add, &[d + 2]), Op::Reshape, Arg::Shape(shape(&[m, n])))
}

pub fn seed_case_two_outputs_one_kernel() -> Vec<UOp> {
    let (a, b, c, d) = (buffer(1, &[1024]), buffer(2, &[1024]), buffer(3, &[1024]), buffer(4, &[1024]));
    let ab = a.add(&b);
    vec![ab.add(&c), ab.add(&d)]
}

pub fn padded_flipped_view() -> Vec<UOp> {
    let x = buffer(1, &[4, 6]);
    let flipped = movement(&x, Op::Flip, Arg::Axes(vec![1]));
    vec![movement(&flipped, Op::Pad, Arg::Pairs(vec![(1, 1), (2, 0)]))]
}

/// Every program with its name (the C snapshot test of the same name renders it).
pub fn all() -> Vec<(&'static str, Vec<UOp>)> {
    vec![
        ("elementwise_mul_add", elementwise_mul_add()),
        ("row_sum", row_sum()),
        ("softmax_rows", softmax_rows()),
        ("layernorm_rows", layernorm_rows()),
        ("matmul_64", matmul_64()),
        ("seed_case_two_outputs_one_kernel", seed_case_two_outputs_one_kernel()),
        ("padded_flipped_view", padded_flipped_view()),
    ]
}
