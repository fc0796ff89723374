//! CUDA C of a fixed set of programs, pinned by insta snapshots and compiled to PTX by NVRTC for
//! compute_90 (no GPU needed). Without NVRTC the compile step is a counted skip; CI installs NVRTC with
//! `.ci/nvrtc.sh`, so under `CI=true` its absence fails.

mod common;

use kiln_codegen::{compile_kernel, Target};
use kiln_cuda::{compile_ptx, nvrtc_available};
use kiln_runtime::RuntimeError;
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
