//! The frontend's error type: every user mistake and every failure below, with the values involved.

use kiln_uop::DType;

/// Result of kiln calls.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a tensor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Shapes that do not fit the op.
    #[error("{op}: incompatible shapes {lhs:?} and {rhs:?}")]
    Shape {
        /// The op.
        op: &'static str,
        /// First shape.
        lhs: Vec<usize>,
        /// Second shape (or the requested one).
        rhs: Vec<usize>,
    },
    /// An axis outside the tensor's dims.
    #[error("{op}: axis {axis} is out of range for a tensor of {ndim} dims")]
    Axis {
        /// The op.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// The tensor's rank.
        ndim: usize,
    },
    /// Arguments that are invalid for a reason other than shape or axis.
    #[error("{op}: {reason}")]
    Invalid {
        /// The op.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A size that overflows or cannot be allocated.
    #[error("{op}: size of shape {shape:?} is not allowed: {reason}")]
    Size {
        /// The op.
        op: &'static str,
        /// The shape asked for.
        shape: Vec<usize>,
        /// What overflowed or failed.
        reason: String,
    },
    /// A dtype the op does not accept.
    #[error("{op}: dtype {dtype} is not supported ({reason})")]
    DType {
        /// The op.
        op: &'static str,
        /// The dtype.
        dtype: DType,
        /// Why.
        reason: String,
    },
    /// Tensors on different devices.
    #[error("{op}: tensors are on different devices ({lhs} and {rhs})")]
    DeviceMismatch {
        /// The op.
        op: &'static str,
        /// First device.
        lhs: String,
        /// Second device.
        rhs: String,
    },
    /// A weights file that cannot be read or written, or whose contents are wrong.
    #[error("{path}: tensor `{tensor}`: {reason}")]
    Weights {
        /// The file.
        path: String,
        /// The tensor concerned (`<header>` for the file's header, `<file>` for the file as a whole).
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// A state dict that does not fit a module.
    #[error("load_state_dict: parameter `{name}`: {reason}")]
    StateDict {
        /// The parameter's name.
        name: String,
        /// What does not fit.
        reason: String,
    },
    /// A jitted function was called in a way its captured step cannot replay.
    #[error("jit: {0}")]
    Jit(String),
    /// Scheduling failed.
    #[error(transparent)]
    Schedule(#[from] kiln_schedule::ScheduleError),
    /// A device failed (compile, memory, launch).
    #[error(transparent)]
    Runtime(#[from] kiln_runtime::RuntimeError),
}
