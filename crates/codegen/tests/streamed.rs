//! Inputs read once by a reducing kernel and larger than the device's L2 are loaded with the
//! evict-first hint on CUDA; broadcast inputs (a matmul's), small ones and elementwise kernels keep
//! plain loads.

mod common;

use kiln_codegen::{compile_kernel, Caps, Program, Target};
use kiln_uop::UOp;

/// A CUDA target whose L2 holds `l2_bytes`.
fn cuda_with_l2(l2_bytes: u32) -> Target {
    Target { caps: Caps { l2_bytes, ..Target::CUDA.caps }, ..Target::CUDA }
}

/// Each kernel of `outputs` on `target`: which parameters stream, and the CUDA source.
fn kernels(outputs: &[UOp], target: &Target) -> Vec<(Vec<bool>, String)> {
    let schedule = kiln_schedule::schedule(outputs).expect("schedules");
    schedule
        .kernels
        .iter()
        .map(|k| {
            let (program, source): (Program, _) = compile_kernel(&k.ast, target).expect("compiles");
            (program.params.iter().map(|p| p.streamed).collect(), source.to_string())
        })
        .collect()
}

#[test]
fn a_row_sum_over_more_than_the_l2_streams_its_input() {
    // 16 x 32 f32: 2 KiB, beyond an L2 of 1 KiB.
    let ks = kernels(&common::row_sum(), &cuda_with_l2(1024));
    assert_eq!(ks.len(), 1);
    assert_eq!(ks[0].0, vec![false, true], "the output is written, the input streamed");
    assert!(ks[0].1.contains("__ldcs("), "{}", ks[0].1);
    // The same kernel where the input fits the L2, and on a target without the hint.
    for target in [cuda_with_l2(4096), Target::CUDA] {
        let ks = kernels(&common::row_sum(), &target);
        assert_eq!(ks[0].0, vec![false, false]);
        assert!(!ks[0].1.contains("__ldcs"), "{}", ks[0].1);
    }
}

#[test]
fn broadcast_inputs_and_elementwise_kernels_keep_plain_loads() {
    let target = cuda_with_l2(256);
    // A matmul reads each element of its operands once per output column or row.
    for (streamed, source) in kernels(&common::matmul_64(), &target) {
        assert!(streamed.iter().all(|s| !s), "{source}");
    }
    // a*b+c reduces nothing.
    for (streamed, source) in kernels(&common::elementwise_mul_add(), &target) {
        assert!(streamed.iter().all(|s| !s), "{source}");
        assert!(!source.contains("__ldcs"), "{source}");
    }
}

#[test]
fn layernorm_streams_its_input_into_the_reductions_only() {
    let ks = kernels(&common::layernorm_rows(), &cuda_with_l2(256));
    // Every kernel that reduces over x (8 x 32 f32, 1 KiB) streams x and nothing broadcast into it;
    // the last kernel (elementwise) streams nothing.
    let last = ks.last().expect("kernels");
    assert!(last.0.iter().all(|s| !s), "{}", last.1);
    assert!(ks[..ks.len() - 1].iter().any(|(s, _)| s.iter().any(|&s| s)), "some reduction streams x");
    for (streamed, source) in &ks {
        assert_eq!(streamed.iter().any(|&s| s), source.contains("__ldcs("), "{source}");
    }
}
