//! The CPU's `Thread` axis: the heuristics give a kernel whose outermost loop is shorter than the
//! device's thread count a thread axis on its longest output axis, and that axis becomes the parallel
//! loop (`core_start..core_end`) the CPU device cuts across cores.

mod common;

use kiln_codegen::{compile_kernel, Caps, OptOp, Target};

fn cpu(threads: u32) -> Target {
    Target { caps: Caps { threads, ..Target::CPU.caps }, ..Target::CPU }
}

#[test]
fn a_short_outer_loop_gets_a_thread_axis() {
    let (a, b) = (common::buffer(1, &[2, 1024]), common::buffer(2, &[2, 1024]));
    let schedule = kiln_schedule::schedule(&[a.add(&b)]).expect("schedules");
    let (program, source) = compile_kernel(&schedule.kernels[0].ast, &cpu(4)).expect("compiles");
    assert!(program.opts.contains(&OptOp::Thread { axis: 1, amt: 4 }), "{:?}", program.opts);
    assert_eq!(program.parallel_extent, 4);
    assert!(source.to_string().contains("ridx2 = core_start; ridx2 < core_end"), "{source}");
    // One thread, or an outer loop already as long as the threads: no thread axis.
    for target in [cpu(1), cpu(2)] {
        let (program, _) = compile_kernel(&schedule.kernels[0].ast, &target).expect("compiles");
        assert!(!program.opts.iter().any(|o| matches!(o, OptOp::Thread { .. })), "{:?}", program.opts);
    }
}

#[test]
fn thread_is_refused_on_devices_with_blocks() {
    let x = common::buffer(1, &[2, 1024]);
    let schedule = kiln_schedule::schedule(&[x.add(&x)]).expect("schedules");
    let kernel = kiln_codegen::lower(&schedule.kernels[0].ast).expect("lowers");
    assert!(kernel.apply_opt(OptOp::Thread { axis: 1, amt: 4 }, &Target::CUDA.caps).is_err());
    assert!(kernel.apply_opt(OptOp::Thread { axis: 1, amt: 4 }, &cpu(4).caps).is_ok());
    assert!(kernel.apply_opt(OptOp::Thread { axis: 1, amt: 3 }, &cpu(4).caps).is_err(), "3 does not divide 1024");
}
