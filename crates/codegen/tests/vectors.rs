//! Vector accesses only where they are aligned and whole: the CUDA renderer's `float4` loads of an
//! upcast elementwise kernel, and scalar loads where a view's offset leaves the run unaligned (a
//! misaligned vector load faults on the GPU), where lanes are missing, on the CPU, and for 16-bit
//! elements in SPIR-V.

mod common;

use kiln_codegen::{compile_kernel_with, OptOp, Target};
use kiln_uop::{Arg, DType, Op, UOp};

/// CUDA C of `out` (one kernel) with `opts`.
fn cuda(out: &UOp, opts: &[OptOp]) -> String {
    let schedule = kiln_schedule::schedule(std::slice::from_ref(out)).expect("schedules");
    compile_kernel_with(&schedule.kernels[0].ast, &Target::CUDA, opts).expect("compiles").1.to_string()
}

#[test]
fn an_upcast_of_contiguous_buffers_loads_and_stores_vectors() {
    let (a, b) = (common::buffer(1, &[1024]), common::buffer(2, &[1024]));
    let source = cuda(&a.add(&b), &[OptOp::Upcast { axis: 0, amt: 4 }]);
    assert!(source.contains("*((const float4*)(data1+"), "{source}");
    assert!(source.contains("*((const float4*)(data2+"), "{source}");
    assert!(source.contains("__stcs((float4*)(data0+"), "{source}");
}

#[test]
fn a_view_offset_by_one_element_stays_scalar() {
    // x[1..1025] + y: x's four lanes start at 4i + 1, never a multiple of four.
    let x = common::buffer(1, &[1028]);
    let shifted = common::movement(&x, Op::Shrink, Arg::Pairs(vec![(1, 1025)]));
    let y = common::buffer(2, &[1024]);
    let source = cuda(&shifted.add(&y), &[OptOp::Upcast { axis: 0, amt: 4 }]);
    assert!(!source.contains("float4*)(data1"), "{source}");
    assert!(source.contains("data1[((lidx0*4)+1)]") && source.contains("data1[((lidx0*4)+4)]"), "{source}");
    assert!(source.contains("*((const float4*)(data2+"), "{source}");
}

#[test]
fn an_upcast_of_two_gives_no_vector_and_the_cpu_never_gets_one() {
    let (a, b) = (common::buffer(1, &[1024]), common::buffer(2, &[1024]));
    let source = cuda(&a.add(&b), &[OptOp::Upcast { axis: 0, amt: 2 }]);
    assert!(!source.contains("float4"), "{source}");
    let schedule = kiln_schedule::schedule(&[a.add(&b)]).expect("schedules");
    let vector_nodes = |target: &Target| {
        let (program, _) = compile_kernel_with(&schedule.kernels[0].ast, target, &[OptOp::Upcast { axis: 0, amt: 4 }])
            .expect("compiles");
        program.instructions.iter().filter(|u| matches!(u.op(), Op::Gep | Op::Vectorize)).count()
    };
    assert_eq!(vector_nodes(&Target::CPU), 0);
    // SPIR-V: two vec4 loads read through four lanes each, one vec4 store.
    assert_eq!(vector_nodes(&Target::VULKAN), 9);
}

#[test]
fn spirv_keeps_sixteen_bit_elements_scalar() {
    let a = UOp::new(Op::Buffer, DType::F16, vec![], Arg::Buffer { id: 1, numel: 1024 });
    let schedule = kiln_schedule::schedule(&[a.add(&a)]).expect("schedules");
    let (program, _) =
        compile_kernel_with(&schedule.kernels[0].ast, &Target::VULKAN, &[OptOp::Upcast { axis: 0, amt: 4 }])
            .expect("compiles");
    assert!(!program.instructions.iter().any(|u| matches!(u.op(), Op::Gep | Op::Vectorize)));
}
