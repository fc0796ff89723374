//! Long float sums stay compensated whatever the opts split them into: the elements one accumulator
//! adds are its loop trips times the copies an unroll sums per trip.

mod common;

use kiln_codegen::{compile_kernel, Target};
use kiln_uop::{Arg, Op, ReduceOp};

/// Accumulators of the program of a full sum of `n` f32 elements on `target`.
fn accumulators(n: usize, target: &Target) -> usize {
    let x = common::buffer(1, &[n]);
    let sum = common::movement(&common::reduce(&x, ReduceOp::Add, &[0]), Op::Reshape, Arg::Shape(vec![1]));
    let schedule = kiln_schedule::schedule(&[sum]).expect("schedules");
    let (program, _) = compile_kernel(&schedule.kernels[0].ast, target).expect("compiles");
    program.instructions.iter().filter(|u| u.op() == Op::DefineAcc).count()
}

#[test]
fn long_grouped_and_unrolled_sums_carry_a_compensation() {
    // 2^22 elements on CUDA: 4 consecutive per load, 256 threads, 4 loads per trip, 1024 trips; each
    // thread's accumulator adds 16,384 elements and gets its Kahan companion.
    assert_eq!(accumulators(1 << 22, &Target::CUDA), 2);
    assert_eq!(accumulators(1 << 22, &Target::VULKAN), 2);
    // The CPU sums blocks of 256 elements plainly (a loop the C compiler vectorises) and compensates
    // the sum of blocks: the block's accumulator, then the pair.
    assert_eq!(accumulators(1 << 22, &Target::CPU), 3);
}

#[test]
fn cpu_rows_long_enough_to_compensate_are_blocked() {
    // A 4096-element row on the CPU: 8 copies per trip, blocks of 32 trips, 16 blocks.
    let x = common::buffer(1, &[4, 4096]);
    let sums = common::movement(&common::reduce(&x, ReduceOp::Add, &[1]), Op::Reshape, Arg::Shape(vec![4]));
    let schedule = kiln_schedule::schedule(&[sums]).expect("schedules");
    let (program, source) = compile_kernel(&schedule.kernels[0].ast, &Target::CPU).expect("compiles");
    let loops: Vec<i64> = program.instructions.iter().filter(|u| u.op() == Op::Range).map(|r| r.vmax() + 1).collect();
    assert_eq!(loops, vec![4, 16, 32], "{source}");
    assert_eq!(program.instructions.iter().filter(|u| u.op() == Op::DefineAcc).count(), 3, "{source}");
}

#[test]
fn short_sums_are_not_compensated() {
    assert_eq!(accumulators(1000, &Target::CPU), 1);
}

#[test]
fn contractions_round_as_blas_unless_their_loop_is_long() {
    // 256x256x4096 on CUDA: 4x4 register tiles, the reduction unrolled by 4 (1024 trips of four
    // products): no compensation, as cuBLAS.
    let (a, b) = (common::buffer(1, &[256, 4096]), common::buffer(2, &[4096, 256]));
    let a3 = common::expand(&common::movement(&a, Op::Reshape, Arg::Shape(vec![256, 1, 4096])), &[256, 256, 4096]);
    let bt = common::movement(&b, Op::Permute, Arg::Axes(vec![1, 0]));
    let b3 = common::expand(&common::movement(&bt, Op::Reshape, Arg::Shape(vec![1, 256, 4096])), &[256, 256, 4096]);
    let c = common::reduce(&a3.mul(&b3), ReduceOp::Add, &[2]);
    let c = common::movement(&c, Op::Reshape, Arg::Shape(vec![256, 256]));
    let schedule = kiln_schedule::schedule(&[c]).expect("schedules");
    let (program, _) = compile_kernel(&schedule.kernels[0].ast, &Target::CUDA).expect("compiles");
    let accs = program.instructions.iter().filter(|u| u.op() == Op::DefineAcc).count();
    assert_eq!(accs, 16, "one accumulator per output of the 4x4 tile, none compensating");
}
