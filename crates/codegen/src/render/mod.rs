//! Renderers: from a linear [`Program`] to [`Source`]. C and CUDA C share one renderer with dialect
//! hooks (`c/dialect.rs`); SPIR-V is emitted as words by its own renderer (`spirv/`).

mod c;
mod spirv;

use crate::error::CodegenError;
use crate::program::Program;
use crate::source::Source;
use crate::target::{Dialect, Target};

/// Renders `program` for `target` (its dialect, and for SPIR-V what the device lets a module declare).
pub fn render(program: &Program, target: &Target) -> Result<Source, CodegenError> {
    match target.dialect {
        Dialect::C | Dialect::Cuda => c::render(program, target.dialect).map(Source::Text),
        Dialect::Spirv => spirv::render(program, &target.caps).map(Source::Spirv),
    }
}
