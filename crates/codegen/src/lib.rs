//! kiln-codegen: lowers kernel ASTs to linear programs and renders them (C, CUDA C, SPIR-V).
//!
//! [`lower`] turns movement ops into index arithmetic on ranges and reductions into `REDUCE` nodes,
//! [`linearize`] orders the result into a [`Program`] (loops, accumulators, loads, stores), and
//! [`render`] turns it into [`Source`] for a [`Dialect`]. Every index and gate goes through `kiln_rewrite::simplify`.
//! This crate never sees a device handle.

mod error;
mod linearize;
mod lower;
mod opt;
mod program;
mod render;
mod source;
mod target;

pub use error::CodegenError;
pub use linearize::linearize;
pub use lower::lower;
pub use opt::OptOp;
pub use program::{Param, Program};
pub use render::render;
pub use source::Source;
pub use target::{Dialect, Target};

use kiln_uop::UOp;

/// Lowers, linearizes and renders the kernel `ast` for `target`: its program and source.
pub fn compile_kernel(ast: &UOp, target: &Target) -> Result<(Program, Source), CodegenError> {
    let lowered = lower(ast, target)?;
    let program = linearize(&lowered, target)?;
    let source = render(&program, target.dialect)?;
    Ok((program, source))
}
