//! SPIR-V rendered for the programs of `c_snapshots.rs`, pinned as disassembly snapshots, and every
//! module (these and a wider set covering each dtype, op, cast and 64-bit indices) checked by
//! `spirv-val --target-env vulkan1.1`. Without spirv-val (Debian's `spirv-tools`) the validation is a
//! counted skip; under `CI=true`, which installs it, its absence fails the test.

mod common;

use kiln_codegen::{compile_kernel, CodegenError, Source, Target};
use kiln_uop::{Arg, ConstValue, DType, Op, ReduceOp, UOp};
use std::fmt::Write;
use std::process::Command;

fn spirv_val_present() -> bool {
    Command::new("spirv-val").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn skipped(what: &str) {
    kiln_testkit::missing_ci_tool(&format!("spirv-val of {what}"), "spirv-val", "apt-get install spirv-tools");
}

/// Runs spirv-val on `words`, failing with its message and the disassembly.
fn validate(words: &[u32], what: &str) {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("kiln-spirv-{}-{n}.spv", std::process::id()));
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("spirv-val").args(["--target-env", "vulkan1.1"]).arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "spirv-val rejects {what}:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        Source::Spirv(words.to_vec())
    );
}

/// The SPIR-V of every kernel of the schedule of `outputs`.
fn kernels(outputs: &[UOp]) -> Result<Vec<(kiln_codegen::Program, Vec<u32>)>, CodegenError> {
    let schedule = kiln_schedule::schedule(outputs).expect("schedules");
    schedule
        .kernels
        .iter()
        .map(|k| {
            let (program, source) = compile_kernel(&k.ast, &Target::VULKAN)?;
            Ok((program, source.spirv().expect("the Vulkan target renders SPIR-V").to_vec()))
        })
        .collect()
}

#[test]
fn disassembly_matches_snapshots_and_validates() {
    let val = spirv_val_present();
    for (name, outputs) in common::all() {
        let mut text = String::new();
        for (i, (program, words)) in kernels(&outputs).unwrap().into_iter().enumerate() {
            let _ = writeln!(
                text,
                "; kernel {i}: {} blocks {:?} threads {:?} opts {:?}",
                program.name, program.launch.global, program.launch.local, program.opts
            );
            text.push_str(&Source::Spirv(words.clone()).to_string());
            if val {
                validate(&words, name);
            }
        }
        insta::assert_snapshot!(name, text);
    }
    if !val {
        skipped("snapshot kernels");
    }
}

fn buffer(id: u64, shape: &[usize], dtype: DType) -> UOp {
    let b = UOp::new(Op::Buffer, dtype, vec![], Arg::Buffer { id, numel: shape.iter().product() });
    UOp::new(Op::Reshape, dtype, vec![b], Arg::Shape(shape.to_vec()))
}

/// Programs over every dtype: unary and binary ops, comparisons, where, reductions, padding (gated
/// loads) and casts between every pair of dtypes.
fn dtype_programs() -> Vec<(String, Vec<UOp>)> {
    let mut out = Vec::new();
    for d in DType::ALL_TENSOR {
        let (a, b) = (buffer(1, &[3, 5], d), buffer(2, &[3, 5], d));
        let float = d.is_float();
        let mut binary = vec![Op::Add, Op::Mul, Op::Max, Op::CmpLt, Op::CmpNe, Op::CmpEq];
        if float {
            binary.push(Op::Fdiv);
        } else {
            binary.extend([Op::And, Op::Or, Op::Xor]);
        }
        if d.is_int() {
            binary.extend([Op::Idiv, Op::Mod, Op::Shl, Op::Shr]);
        }
        for op in binary {
            out.push((format!("{op:?} {d}"), vec![UOp::alu(op, vec![a.clone(), b.clone()])]));
        }
        let unary: &[Op] =
            if float { &[Op::Neg, Op::Exp2, Op::Log2, Op::Sin, Op::Sqrt, Op::Recip, Op::Trunc] } else { &[Op::Neg] };
        for &op in unary {
            out.push((format!("{op:?} {d}"), vec![UOp::alu(op, vec![a.clone()])]));
        }
        let cond = UOp::alu(Op::CmpLt, vec![a.clone(), b.clone()]);
        out.push((format!("where {d}"), vec![UOp::select(&cond, &a, &b)]));
        if d != DType::Bool {
            out.push((format!("mulacc {d}"), vec![UOp::alu(Op::MulAcc, vec![a.clone(), b.clone(), a.clone()])]));
        }
        for r in [ReduceOp::Add, ReduceOp::Max, ReduceOp::Mul] {
            let red = UOp::new(Op::ReduceAxis, d, vec![a.clone()], Arg::ReduceAxis(r, vec![1]));
            out.push((format!("reduce {r:?} {d}"), vec![red]));
        }
        let padded = UOp::new(Op::Pad, d, vec![a.clone()], Arg::Pairs(vec![(1, 0), (0, 2)]));
        out.push((format!("pad {d}"), vec![padded]));
        for to in DType::ALL_TENSOR {
            out.push((format!("cast {d}->{to}"), vec![a.cast(to)]));
        }
    }
    // A reduce inside a reduce's loop: max over i, j of |sum_k a[i,k] * b[k,j] - a[i,j]|.
    let (m, e) = (buffer(1, &[8, 8], DType::F32), buffer(2, &[8, 8], DType::F32));
    let m3 = UOp::new(Op::Expand, DType::F32, vec![m.reshape_to(&[8, 1, 8])], Arg::Shape(vec![8, 8, 8]));
    let et = UOp::new(Op::Permute, DType::F32, vec![e], Arg::Axes(vec![1, 0]));
    let e3 = UOp::new(Op::Expand, DType::F32, vec![et.reshape_to(&[1, 8, 8])], Arg::Shape(vec![8, 8, 8]));
    let prod = UOp::new(Op::ReduceAxis, DType::F32, vec![m3.mul(&e3)], Arg::ReduceAxis(ReduceOp::Add, vec![2]));
    let diff = prod.reshape_to(&[8, 8]).sub(&m);
    let abs = UOp::alu(Op::Max, vec![diff.clone(), UOp::alu(Op::Neg, vec![diff])]);
    let all = UOp::new(Op::ReduceAxis, DType::F32, vec![abs], Arg::ReduceAxis(ReduceOp::Max, vec![0, 1]));
    out.push(("nested reduce".into(), vec![all]));
    let constant = UOp::constant(DType::F32, ConstValue::Float(f64::NAN));
    let big = buffer(1, &[1 << 31], DType::F32);
    let nan = UOp::new(Op::Expand, DType::F32, vec![constant.reshape_to(&[1])], Arg::Shape(vec![1 << 31]));
    out.push(("64-bit index".into(), vec![big.add(&nan)]));
    out
}

trait ReshapeTo {
    fn reshape_to(&self, shape: &[usize]) -> UOp;
}
impl ReshapeTo for UOp {
    fn reshape_to(&self, shape: &[usize]) -> UOp {
        UOp::new(Op::Reshape, self.dtype(), vec![self.clone()], Arg::Shape(shape.to_vec()))
    }
}

/// Whether the C renderer renders every kernel of `outputs` (the ops a dtype supports at all).
fn c_renders(outputs: &[UOp]) -> bool {
    let schedule = kiln_schedule::schedule(outputs).expect("schedules");
    schedule.kernels.iter().all(|k| compile_kernel(&k.ast, &Target::CPU).is_ok())
}

#[test]
fn every_dtype_op_and_cast_renders_valid_spirv() {
    let val = spirv_val_present();
    let (mut validated, mut unsupported) = (0, Vec::new());
    for (name, outputs) in dtype_programs() {
        match kernels(&outputs) {
            Ok(modules) => {
                for (program, words) in modules {
                    if name == "64-bit index" {
                        assert!(!program.index_fits_i32);
                        assert!(Source::Spirv(words.clone()).to_string().contains("OpCapability Int64"));
                    }
                    if val {
                        validate(&words, &name);
                        validated += 1;
                    }
                }
            }
            Err(CodegenError::Unsupported { op, dtype, dialect }) => {
                assert_eq!(dialect, "spirv");
                // Only what C cannot render either, or f64 transcendentals (GLSL.std.450 has none).
                let f64_math = dtype == DType::F64 && matches!(op, Op::Exp2 | Op::Log2 | Op::Sin);
                assert!(f64_math || !c_renders(&outputs), "{name}: SPIR-V lacks {op:?} on {dtype}, C renders it");
                unsupported.push(name);
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    eprintln!("validated {validated} modules; unsupported: {unsupported:?}");
    if !val {
        skipped("dtype programs");
    }
}

#[test]
fn display_prints_the_disassembly() {
    let (program, words) = kernels(&common::elementwise_mul_add()).unwrap().remove(0);
    let text = Source::Spirv(words).to_string();
    assert!(text.contains("OpEntryPoint GLCompute") && text.contains(&program.name), "{text}");
    assert!(text.contains("OpExecutionMode") && text.contains("LocalSize 128 1 1"), "{text}");
    assert_eq!(Source::Text("int x;".into()).to_string(), "int x;");
}

/// Grouped reductions of every shuffled dtype combine by subgroup shuffles on a Vulkan device with
/// subgroups, in modules spirv-val accepts; the row sum's is pinned.
#[test]
fn subgroup_reductions_render_valid_spirv() {
    let val = spirv_val_present();
    let target = Target { caps: kiln_codegen::Caps { subgroup: 32, ..Target::VULKAN.caps }, ..Target::VULKAN };
    for d in [DType::F32, DType::F16, DType::I32, DType::U32, DType::F64, DType::I64] {
        for r in [ReduceOp::Add, ReduceOp::Max] {
            let x = buffer(1, &[4, 4096], d);
            let red = UOp::new(Op::ReduceAxis, d, vec![x], Arg::ReduceAxis(r, vec![1]));
            let schedule = kiln_schedule::schedule(&[red]).expect("schedules");
            let opts = [kiln_codegen::OptOp::Group { axis: 1, amt: 128 }];
            let (program, source) = kiln_codegen::compile_kernel_with(&schedule.kernels[0].ast, &target, &opts)
                .unwrap_or_else(|e| panic!("reduce {r:?} {d}: {e}"));
            let words = source.spirv().expect("SPIR-V").to_vec();
            let text = Source::Spirv(words.clone()).to_string();
            assert_eq!(text.matches("OpGroupNonUniformShuffleXor").count(), 5, "reduce {r:?} {d}:\n{text}");
            assert!(text.contains("BuiltIn SubgroupId") && text.contains("BuiltIn SubgroupLocalInvocationId"));
            if val {
                validate(&words, &format!("subgroup reduce {r:?} {d}"));
            }
            if (d, r) == (DType::F32, ReduceOp::Add) {
                let header = format!("; {} threads {:?}\n", program.name, program.launch.local);
                insta::assert_snapshot!("row_sum_subgroups", header + &text);
            }
        }
    }
    if !val {
        skipped("subgroup reductions");
    }
}

/// Where the device keeps NaN, infinities and signed zeros, modules declare it for 32-bit floats (and
/// 64-bit ones where the kernel has them), in modules spirv-val accepts; elsewhere nothing is declared.
#[test]
fn float_controls_keep_nan_where_the_device_can() {
    let val = spirv_val_present();
    let keeping = Target { caps: kiln_codegen::Caps { preserve_nan: true, ..Target::VULKAN.caps }, ..Target::VULKAN };
    for (d, widths) in [(DType::F32, " 32"), (DType::F16, " 32"), (DType::F64, " 32| 64")] {
        let x = buffer(1, &[4, 64], d);
        let red = UOp::new(Op::ReduceAxis, d, vec![x], Arg::ReduceAxis(ReduceOp::Max, vec![1]));
        let schedule = kiln_schedule::schedule(&[red]).expect("schedules");
        for (target, declared) in [(&keeping, true), (&Target::VULKAN, false)] {
            let (_, source) = compile_kernel(&schedule.kernels[0].ast, target).expect("compiles");
            let words = source.spirv().expect("SPIR-V").to_vec();
            let text = Source::Spirv(words.clone()).to_string();
            let modes: Vec<&str> = text.lines().filter(|l| l.contains("SignedZeroInfNanPreserve")).collect();
            if declared {
                assert!(modes.iter().any(|l| l.starts_with("OpCapability")), "{d}:\n{text}");
                assert!(text.contains("OpExtension \"SPV_KHR_float_controls\""), "{d}:\n{text}");
                for w in widths.split('|') {
                    assert!(
                        modes.iter().any(|l| l.starts_with("OpExecutionMode") && l.ends_with(w)),
                        "{d} {w}:\n{text}"
                    );
                }
                assert_eq!(modes.len(), 1 + widths.split('|').count(), "{d}:\n{text}");
            } else {
                assert!(modes.is_empty(), "{d}:\n{text}");
            }
            if val {
                validate(&words, &format!("max {d}, NaN kept: {declared}"));
            }
        }
    }
    if !val {
        skipped("float controls");
    }
}
