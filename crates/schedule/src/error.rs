//! Errors of scheduling: graphs the scheduler cannot cut into kernels.

use kiln_uop::Op;

/// Why a graph could not be scheduled.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A node reached the scheduler without a tensor-level shape.
    #[error("node {op:?} has no tensor shape; only tensor-level graphs can be scheduled")]
    NoShape {
        /// The offending op.
        op: Op,
    },
    /// An op that has no meaning in a tensor graph.
    #[error("op {0:?} cannot appear in a tensor graph")]
    UnexpectedOp(Op),
}
