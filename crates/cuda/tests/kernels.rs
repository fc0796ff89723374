//! CUDA C of a fixed set of programs, pinned by insta snapshots and compiled to PTX by NVRTC for
//! compute_90 (no GPU needed). Without NVRTC the compile step is a counted skip; CI installs NVRTC with
//! `.ci/nvrtc.sh`, so under `CI=true` its absence fails.

mod common;

use kiln_codegen::{compile_kernel, compile_kernel_with, lower, OptOp, Target};
use kiln_cuda::{compile_ptx, nvrtc_available};
use kiln_runtime::RuntimeError;
use proptest::prelude::*;
use std::fmt::Write;

const ARCH: &str = "compute_90";

fn skipped(what: &str) {
    kiln_testkit::missing_ci_tool(
        &format!("NVRTC compile of {what}"),
        "NVRTC",
        "run .ci/nvrtc.sh and source its exports",
    );
}

#[test]
fn rendered_kernels_match_snapshots_and_compile_with_nvrtc() {
    let nvrtc = nvrtc_available();
    let mut compiled = 0;
    for case in common::cases() {
        let schedule = kiln_schedule::schedule(&case.outputs).unwrap();
        let mut text = String::new();
        for (i, kernel) in schedule.kernels.iter().enumerate() {
            let (program, source) = compile_kernel(&kernel.ast, &Target::CUDA).unwrap();
            let source = source.to_string();
            let _ = writeln!(
                text,
                "// kernel {i}: {} blocks {:?} threads {:?} opts {:?}",
                program.name, program.launch.global, program.launch.local, program.opts
            );
            text.push_str(&source);
            if nvrtc {
                let ptx = compile_ptx(&source, &program.name, ARCH)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{source}", case.name));
                assert!(ptx.contains(&format!(".entry {}", program.name)), "{}: no entry in PTX", case.name);
                compiled += 1;
            }
        }
        insta::assert_snapshot!(case.name, text);
    }
    if nvrtc {
        eprintln!("NVRTC {:?}: compiled {compiled} kernels to PTX for {ARCH}", kiln_cuda::nvrtc_version());
    } else {
        skipped("rendered kernels");
    }
}

#[test]
fn compile_errors_carry_the_nvrtc_log_and_kernel_name() {
    if !nvrtc_available() {
        return skipped("broken kernel");
    }
    let source = "extern \"C\" __global__ void E_broken(float* data0) {\n  data0[0] = undeclared_value;\n}\n";
    let Err(err @ RuntimeError::Compile { .. }) = compile_ptx(source, "E_broken", ARCH) else {
        panic!("expected a compile error")
    };
    let RuntimeError::Compile { name, log } = &err else { unreachable!() };
    assert_eq!(name, "E_broken");
    assert!(log.contains("undeclared_value"), "NVRTC log missing: {log}");
    assert!(log.contains("E_broken"), "kernel name missing: {log}");
    assert!(err.to_string().contains("E_broken"));
}

/// On a device whose L2 is smaller than every input, each reduction streams its inputs (`__ldcs`, scalar
/// and vector forms): every case still renders CUDA that NVRTC compiles.
#[test]
fn streamed_loads_compile_with_nvrtc() {
    if !nvrtc_available() {
        return skipped("streamed loads");
    }
    let target = Target { caps: kiln_codegen::Caps { l2_bytes: 1, ..Target::CUDA.caps }, ..Target::CUDA };
    let (mut scalar, mut vector) = (0, 0);
    for case in common::cases() {
        let schedule = kiln_schedule::schedule(&case.outputs).unwrap();
        for kernel in &schedule.kernels {
            let (program, source) = compile_kernel(&kernel.ast, &target).unwrap();
            let source = source.to_string();
            scalar += source.matches("__ldcs(&").count();
            vector += source.matches("__ldcs((const").count();
            let compiled = compile_ptx(&source, &program.name, ARCH);
            assert!(compiled.is_ok(), "{}: {:?}\n{source}", case.name, compiled.err());
        }
    }
    assert!(scalar > 0 && vector > 0, "streamed loads rendered: {scalar} scalar, {vector} vector");
}

/// The opts of `wish` that `ast`'s kernel accepts on the CUDA target, in order.
fn valid_opts(ast: &kiln_uop::UOp, wish: &[(u8, usize, usize)]) -> Vec<OptOp> {
    let mut kernel = lower(ast).expect("lowers");
    let mut opts = Vec::new();
    for &(kind, axis, amt) in wish {
        let opt = OptOp::of_kind(kind, axis, amt);
        if let Ok(next) = kernel.apply_opt(opt, &Target::CUDA.caps) {
            kernel = next;
            opts.push(opt);
        }
    }
    opts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random valid opt lists on every case render CUDA that NVRTC compiles (vector accesses under
    /// upcasts, unrolls, pads and groups included); results are checked on a GPU by the conformance
    /// suite's opts test.
    #[test]
    fn random_opts_render_cuda_that_compiles(
        wish in prop::collection::vec((0u8..OptOp::KINDS, 0usize..4, prop::sample::select(vec![2usize, 4, 8, 16])), 1..5),
    ) {
        if !nvrtc_available() {
            skipped("random opt lists");
            return Ok(());
        }
        for case in common::cases() {
            let schedule = kiln_schedule::schedule(&case.outputs).unwrap();
            for kernel in &schedule.kernels {
                let opts = valid_opts(&kernel.ast, &wish);
                let (program, source) = compile_kernel_with(&kernel.ast, &Target::CUDA, &opts).unwrap();
                let source = source.to_string();
                let compiled = compile_ptx(&source, &program.name, ARCH);
                prop_assert!(compiled.is_ok(), "{} with {opts:?}: {:?}\n{source}", case.name, compiled.err());
            }
        }
    }
}
