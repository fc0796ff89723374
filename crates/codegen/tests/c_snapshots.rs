//! Snapshots of the C rendered for a fixed set of programs: our filetests. A change to generated code
//! shows up here and is reviewed like code (`cargo insta review`).

mod common;

use kiln_codegen::{compile_kernel, Target};
use kiln_uop::UOp;

/// All kernels of the schedule of `outputs`, rendered as C.
fn render(outputs: &[UOp]) -> String {
    let schedule = kiln_schedule::schedule(outputs).expect("schedules");
    schedule
        .kernels
        .iter()
        .map(|k| compile_kernel(&k.ast, &Target::CPU).expect("renders").1.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn elementwise_mul_add() {
    insta::assert_snapshot!(render(&common::elementwise_mul_add()));
}

#[test]
fn row_sum() {
    insta::assert_snapshot!(render(&common::row_sum()));
}

#[test]
fn softmax_rows() {
    insta::assert_snapshot!(render(&common::softmax_rows()));
}

#[test]
fn layernorm_rows() {
    insta::assert_snapshot!(render(&common::layernorm_rows()));
}

#[test]
fn matmul_64() {
    insta::assert_snapshot!(render(&common::matmul_64()));
}

#[test]
fn seed_case_two_outputs_one_kernel() {
    let source = render(&common::seed_case_two_outputs_one_kernel());
    assert_eq!(source.matches("void ").count(), 1, "one kernel");
    insta::assert_snapshot!(source);
}

#[test]
fn padded_flipped_view() {
    insta::assert_snapshot!(render(&common::padded_flipped_view()));
}
