//! kiln-codegen: lowers kernel ASTs to linear programs and renders them (C, CUDA C, SPIR-V).
//!
//! [`lower`] turns movement ops into index arithmetic on one range per dimension and reductions into
//! `REDUCE` nodes (a [`Kernel`] with ordered axes); [`OptOp`]s split those axes (chosen by the
//! hand-coded heuristics or given); late passes expand upcasts and unrolls, combine grouped reductions
//! through local memory and place axes on the hardware; the linearizer orders the result into a
//! [`Program`] with its launch dimensions, and [`render`] turns it into [`Source`] for a [`Dialect`]. Every index and gate goes through `kiln_rewrite::simplify`.
//! This crate never sees a device handle.

mod error;
mod late;
mod linearize;
mod lower;
mod opt;
mod program;
mod render;
mod source;
mod target;

/// The fixed program set of the integration tests, for unit tests that need whole programs.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_programs;

pub use error::CodegenError;
pub use lower::lower;
pub use opt::{hand_coded_optimizations, Kernel, OptOp};
pub use program::{LaunchDims, Param, Program};
pub use render::render;
pub use source::Source;
pub use target::{Caps, Dialect, Target};

use kiln_uop::UOp;

/// Whether the hand-coded heuristics run (`KILN_OPT=0` turns them off).
fn heuristics_enabled() -> bool {
    std::env::var("KILN_OPT").map_or(true, |v| v.trim() != "0")
}

/// Lowers the kernel `ast`, optimises it with the hand-coded heuristics (unless `KILN_OPT=0`),
/// linearizes and renders it for `target`. The program lists the opts applied.
pub fn compile_kernel(ast: &UOp, target: &Target) -> Result<(Program, Source), CodegenError> {
    let kernel = lower(ast)?;
    let (kernel, opts) =
        if heuristics_enabled() { hand_coded_optimizations(&kernel, &target.caps) } else { (kernel, Vec::new()) };
    finish(&kernel, opts, target)
}

/// Like [`compile_kernel`] with exactly the opts given (each must apply, or this is an error).
pub fn compile_kernel_with(ast: &UOp, target: &Target, opts: &[OptOp]) -> Result<(Program, Source), CodegenError> {
    let mut kernel = lower(ast)?;
    for &opt in opts {
        kernel = kernel.apply_opt(opt, &target.caps)?;
    }
    finish(&kernel, opts.to_vec(), target)
}

/// The late passes, linearization and rendering of a kernel optimised by `opts` (the program lists
/// them).
pub fn finish(kernel: &Kernel, opts: Vec<OptOp>, target: &Target) -> Result<(Program, Source), CodegenError> {
    let expanded = late::expand(kernel);
    let expanded = if target.caps.has_local { expanded } else { late::block_sums(&expanded) };
    let grouped = late::group_reduce(&expanded, &target.caps);
    let grouped = if target.caps.vector_loads { late::vectorize(&grouped, &target.caps) } else { grouped };
    let mut placed = late::gpudims(&grouped, &target.caps)?;
    placed.kernel.sink = late::decompose(&placed.kernel.sink)?;
    let mut program = linearize::linearize(&placed, !kernel.reduces().is_empty())?;
    late::mark_streamed(&mut program, kernel, &target.caps);
    program.opts = opts;
    let source = render(&program, target)?;
    Ok((program, source))
}
