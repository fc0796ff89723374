//! Snapshots of the C rendered for a fixed set of programs: our filetests. A change to generated code
//! shows up here and is reviewed like code (`cargo insta review`).

use kiln_codegen::{compile_kernel, Target};
use kiln_uop::{Arg, ConstValue, DType, Op, ReduceOp, UOp};

fn buffer(id: u64, shape: &[usize]) -> UOp {
    let b = UOp::new(Op::Buffer, DType::F32, vec![], Arg::Buffer { id, numel: shape.iter().product() });
    UOp::new(Op::Reshape, DType::F32, vec![b], Arg::Shape(shape.to_vec()))
}
fn movement(x: &UOp, op: Op, arg: Arg) -> UOp {
    UOp::new(op, x.dtype(), vec![x.clone()], arg)
}
fn reduce(x: &UOp, op: ReduceOp, axes: &[usize]) -> UOp {
    movement(x, Op::ReduceAxis, Arg::ReduceAxis(op, axes.to_vec()))
}
fn expand(x: &UOp, shape: &[usize]) -> UOp {
    movement(x, Op::Expand, Arg::Shape(shape.to_vec()))
}
fn scalar(v: f64, shape: &[usize]) -> UOp {
    let c = UOp::constant(DType::F32, ConstValue::Float(v));
    expand(&movement(&c, Op::Reshape, Arg::Shape(vec![1; shape.len()])), shape)
}

/// All kernels of the schedule of `outputs`, rendered as C.
fn render(outputs: &[UOp]) -> String {
    let schedule = kiln_schedule::schedule(outputs).expect("schedules");
    schedule
        .kernels
        .iter()
        .map(|k| compile_kernel(&k.ast, &Target::CPU).expect("renders").1)
        .collect::<Vec<_>>()
        .join("\n")
}

fn softmax(x: &UOp, shape: &[usize]) -> UOp {
    let m = expand(&reduce(x, ReduceOp::Max, &[1]), shape);
    let e = UOp::alu(Op::Exp2, vec![x.add(&m.mul(&scalar(-1.0, shape))).mul(&scalar(std::f64::consts::LOG2_E, shape))]);
    e.fdiv(&expand(&reduce(&e, ReduceOp::Add, &[1]), shape))
}

#[test]
fn elementwise_mul_add() {
    let (a, b, c) = (buffer(1, &[16, 16]), buffer(2, &[16, 16]), buffer(3, &[16, 16]));
    insta::assert_snapshot!(render(&[a.mul(&b).add(&c)]));
}

#[test]
fn row_sum() {
    let x = buffer(1, &[16, 32]);
    insta::assert_snapshot!(render(&[movement(&reduce(&x, ReduceOp::Add, &[1]), Op::Reshape, Arg::Shape(vec![16]))]));
}

#[test]
fn softmax_rows() {
    insta::assert_snapshot!(render(&[softmax(&buffer(1, &[8, 32]), &[8, 32])]));
}

#[test]
fn layernorm_rows() {
    let shape = [8, 32];
    let x = buffer(1, &shape);
    let mean = expand(&reduce(&x, ReduceOp::Add, &[1]), &shape).mul(&scalar(1.0 / 32.0, &shape));
    let centered = x.add(&mean.mul(&scalar(-1.0, &shape)));
    let var = expand(&reduce(&centered.mul(&centered), ReduceOp::Add, &[1]), &shape).mul(&scalar(1.0 / 32.0, &shape));
    let inv = UOp::alu(Op::Recip, vec![UOp::alu(Op::Sqrt, vec![var.add(&scalar(1e-5, &shape))])]);
    insta::assert_snapshot!(render(&[centered.mul(&inv)]));
}

#[test]
fn matmul_64() {
    let (a, b) = (buffer(1, &[64, 64]), buffer(2, &[64, 64]));
    let a3 = expand(&movement(&a, Op::Reshape, Arg::Shape(vec![64, 1, 64])), &[64, 64, 64]);
    let bt = movement(&b, Op::Permute, Arg::Axes(vec![1, 0]));
    let b3 = expand(&movement(&bt, Op::Reshape, Arg::Shape(vec![1, 64, 64])), &[64, 64, 64]);
    let out = movement(&reduce(&a3.mul(&b3), ReduceOp::Add, &[2]), Op::Reshape, Arg::Shape(vec![64, 64]));
    insta::assert_snapshot!(render(&[out]));
}

#[test]
fn seed_case_two_outputs_one_kernel() {
    let (a, b, c, d) = (buffer(1, &[1024]), buffer(2, &[1024]), buffer(3, &[1024]), buffer(4, &[1024]));
    let ab = a.add(&b);
    let source = render(&[ab.add(&c), ab.add(&d)]);
    assert_eq!(source.matches("void ").count(), 1, "one kernel");
    insta::assert_snapshot!(source);
}

#[test]
fn padded_flipped_view() {
    let x = buffer(1, &[4, 6]);
    let flipped = movement(&x, Op::Flip, Arg::Axes(vec![1]));
    let padded = movement(&flipped, Op::Pad, Arg::Pairs(vec![(1, 1), (2, 0)]));
    insta::assert_snapshot!(render(&[padded]));
}
