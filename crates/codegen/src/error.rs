//! Errors of code generation: kernels the lowering or a renderer cannot express.

use kiln_uop::{DType, Op};

/// Why a kernel could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The kernel AST is malformed (a bug upstream, reported rather than rendered wrong).
    #[error("malformed kernel AST: {0}")]
    Malformed(String),
    /// The op has no rendering in this dialect.
    #[error("op {op:?} on {dtype} is not supported by the {dialect} renderer")]
    Unsupported {
        /// The op.
        op: Op,
        /// Its dtype.
        dtype: DType,
        /// The renderer's name.
        dialect: &'static str,
    },
    /// An optimisation that does not fit the kernel.
    #[error("invalid OptOp {opt:?}: {reason}")]
    InvalidOpt {
        /// The rejected opt.
        opt: crate::OptOp,
        /// Why it does not apply.
        reason: String,
    },
}
