//! Grouped reductions combine their partials by warp shuffles where the device has warps and the
//! group lies along whole warps of the block's `x` dimension, by subgroup shuffles where the device has
//! subgroups (Vulkan) and the block is one group a whole number of subgroups wide, and through a tree
//! in local memory elsewhere.

mod common;

use kiln_codegen::{compile_kernel_with, OptOp, Program, Target};
use kiln_uop::{Arg, Op, ReduceOp, UOp};

/// The program of the row sums of a `[rows, cols]` f32 buffer with `opts` on `target`.
fn row_sums(rows: usize, cols: usize, target: &Target, opts: &[OptOp]) -> Program {
    let x = common::buffer(1, &[rows, cols]);
    let sums = common::movement(&common::reduce(&x, ReduceOp::Add, &[1]), Op::Reshape, Arg::Shape(vec![rows]));
    let schedule = kiln_schedule::schedule(&[sums]).expect("schedules");
    compile_kernel_with(&schedule.kernels[0].ast, target, opts).expect("compiles").0
}

fn count(program: &Program, op: Op) -> usize {
    program.instructions.iter().filter(|u| u.op() == op).count()
}

/// Elements of local memory the program declares.
fn local_elements(program: &Program) -> usize {
    program
        .instructions
        .iter()
        .filter(|u| u.op() == Op::DefineLocal)
        .map(|u: &UOp| match u.arg() {
            Arg::Buffer { numel, .. } => *numel,
            _ => 0,
        })
        .sum()
}

#[test]
fn a_group_of_eight_warps_shuffles_then_meets_once_in_local_memory() {
    let p = row_sums(4, 4096, &Target::CUDA, &[OptOp::Group { axis: 1, amt: 256 }]);
    assert_eq!((count(&p, Op::Shuffle), count(&p, Op::Barrier), local_elements(&p)), (5, 1, 8));
}

#[test]
fn a_group_of_one_warp_needs_no_local_memory() {
    let p = row_sums(4, 4096, &Target::CUDA, &[OptOp::Group { axis: 1, amt: 32 }]);
    assert_eq!((count(&p, Op::Shuffle), count(&p, Op::Barrier), local_elements(&p)), (5, 0, 0));
}

#[test]
fn groups_narrower_than_a_warp_shuffle_within_their_lanes() {
    // 16 rows by 16 threads per block: each warp holds two rows' groups; xor distances below 16 stay
    // in one row.
    let opts = [OptOp::Local { axis: 0, amt: 16 }, OptOp::Group { axis: 2, amt: 16 }];
    let p = row_sums(64, 512, &Target::CUDA, &opts);
    assert_eq!(p.launch.local, [16, 16, 1]);
    assert_eq!((count(&p, Op::Shuffle), count(&p, Op::Barrier)), (4, 0));
}

#[test]
fn partial_warps_odd_groups_and_vulkan_combine_through_the_tree() {
    // 2 x 8 threads: half a warp.
    let partial =
        row_sums(64, 512, &Target::CUDA, &[OptOp::Local { axis: 0, amt: 2 }, OptOp::Group { axis: 2, amt: 8 }]);
    // 48 threads: not a power of two.
    let odd = row_sums(4, 96 * 16, &Target::CUDA, &[OptOp::Group { axis: 1, amt: 48 }]);
    let vulkan = row_sums(4, 4096, &Target::VULKAN, &[OptOp::Group { axis: 1, amt: 64 }]);
    for (p, steps, elements) in [(&partial, 3, 16), (&odd, 6, 48), (&vulkan, 6, 64)] {
        assert_eq!(count(p, Op::Shuffle), 0);
        // One barrier after the partials are stored and one per step of the tree.
        assert_eq!(count(p, Op::Barrier), 1 + steps);
        assert_eq!(local_elements(p), elements);
    }
}

/// A Vulkan target whose subgroups are 32 wide.
fn vulkan_subgroups() -> Target {
    Target { caps: kiln_codegen::Caps { subgroup: 32, ..Target::VULKAN.caps }, ..Target::VULKAN }
}

fn count_special(program: &Program, kind: kiln_uop::SpecialKind) -> usize {
    program.instructions.iter().filter(|u| u.op() == Op::Special && *u.arg() == Arg::Special(kind)).count()
}

#[test]
fn vulkan_subgroups_shuffle_where_the_block_is_one_group() {
    let p = row_sums(4, 4096, &vulkan_subgroups(), &[OptOp::Group { axis: 1, amt: 128 }]);
    assert_eq!(p.launch.local, [128, 1, 1]);
    // Five butterfly steps within each subgroup, then its lane 0 stores at its subgroup's number.
    assert_eq!((count(&p, Op::Shuffle), count(&p, Op::Barrier), local_elements(&p)), (5, 1, 4));
    assert_eq!(count_special(&p, kiln_uop::SpecialKind::SubgroupLane), 1);
    assert_eq!(count_special(&p, kiln_uop::SpecialKind::SubgroupId), 1);
    // One subgroup wide: no local memory at all.
    let one = row_sums(4, 4096, &vulkan_subgroups(), &[OptOp::Group { axis: 1, amt: 32 }]);
    assert_eq!((count(&one, Op::Shuffle), count(&one, Op::Barrier), local_elements(&one)), (5, 0, 0));
}

#[test]
fn vulkan_blocks_of_several_groups_or_part_of_a_subgroup_use_the_tree() {
    // Two rows per block: a subgroup could hold threads of both rows.
    let rows =
        row_sums(64, 512, &vulkan_subgroups(), &[OptOp::Local { axis: 0, amt: 2 }, OptOp::Group { axis: 2, amt: 64 }]);
    // Sixteen threads: less than one subgroup.
    let narrow = row_sums(4, 4096, &vulkan_subgroups(), &[OptOp::Group { axis: 1, amt: 16 }]);
    for (p, steps) in [(&rows, 6), (&narrow, 4)] {
        assert_eq!(count(p, Op::Shuffle), 0);
        assert_eq!(count(p, Op::Barrier), 1 + steps);
        assert_eq!(count_special(p, kiln_uop::SpecialKind::SubgroupLane), 0);
    }
}
