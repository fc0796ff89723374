//! Renderers: from a linear [`Program`] to source text. C and CUDA C share one renderer with dialect
//! hooks (`c/dialect.rs`); SPIR-V will live beside it.

mod c;

use crate::error::CodegenError;
use crate::program::Program;
use crate::target::Dialect;

/// Renders `program` as source in `dialect`.
pub fn render(program: &Program, dialect: Dialect) -> Result<String, CodegenError> {
    c::render(program, dialect)
}
