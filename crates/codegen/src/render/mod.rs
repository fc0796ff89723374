//! Renderers: from a linear [`Program`] to [`Source`]. C and CUDA C share one renderer with dialect
//! hooks (`c/dialect.rs`); SPIR-V is emitted as words by its own renderer (`spirv/`).

mod c;
mod spirv;

use crate::error::CodegenError;
use crate::program::Program;
use crate::source::Source;
use crate::target::Dialect;

/// Renders `program` in `dialect`.
pub fn render(program: &Program, dialect: Dialect) -> Result<Source, CodegenError> {
    match dialect {
        Dialect::C | Dialect::Cuda => c::render(program, dialect).map(Source::Text),
        Dialect::Spirv => spirv::render(program).map(Source::Spirv),
    }
}
