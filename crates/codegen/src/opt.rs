//! `OptOp`: the optimisations a kernel may take (upcast, unroll, local, group, tensor cores).
//!
//! The heuristics and BEAM search that choose them come with the kernel-speed work; what lives here now
//! is the type and its validation against a kernel's dimensions.

use crate::error::CodegenError;

/// One optimisation of a kernel's axes (fields: the axis, and the split amount).
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptOp {
    /// Compute `amt` outputs of `axis` per thread as a vector.
    Upcast { axis: usize, amt: usize },
    /// Unroll `amt` iterations of reduce `axis`.
    Unroll { axis: usize, amt: usize },
    /// Split `amt` of `axis` into the local (block) dimension.
    Local { axis: usize, amt: usize },
    /// Split a reduce `axis` across `amt` threads that combine through shared memory.
    Group { axis: usize, amt: usize },
    /// Like `Group`, splitting the outer part of the axis.
    GroupTop { axis: usize, amt: usize },
    /// Pad `axis` up to a multiple of `amt`.
    PadTo { axis: usize, amt: usize },
    /// Exchange two global axes.
    Swap { a: usize, b: usize },
    /// Use no local dimension.
    NoLocals,
    /// Use tensor core `kind` of the device table on `axis`.
    TensorCore { axis: usize, kind: usize },
}

impl OptOp {
    /// Checks the opt against a kernel with dimension sizes `dims`.
    pub fn validate(self, dims: &[usize]) -> Result<(), CodegenError> {
        let invalid = |reason: String| Err(CodegenError::InvalidOpt { opt: self, reason });
        let check_split = |axis: usize, amt: usize| match dims.get(axis) {
            None => invalid(format!("axis {axis} out of range for {} dims", dims.len())),
            Some(_) if amt == 0 => invalid("amount 0".into()),
            Some(&d) if d % amt != 0 => invalid(format!("{amt} does not divide axis {axis} of size {d}")),
            Some(_) => Ok(()),
        };
        match self {
            OptOp::Upcast { axis, amt }
            | OptOp::Unroll { axis, amt }
            | OptOp::Local { axis, amt }
            | OptOp::Group { axis, amt }
            | OptOp::GroupTop { axis, amt } => check_split(axis, amt),
            OptOp::PadTo { axis, amt } => match dims.get(axis) {
                None => invalid(format!("axis {axis} out of range for {} dims", dims.len())),
                Some(_) if amt == 0 => invalid("amount 0".into()),
                Some(_) => Ok(()),
            },
            OptOp::Swap { a, b } if a.max(b) >= dims.len() => invalid(format!("axes {a}, {b} out of range")),
            OptOp::Swap { .. } | OptOp::NoLocals => Ok(()),
            OptOp::TensorCore { axis, .. } if axis >= dims.len() => invalid(format!("axis {axis} out of range")),
            OptOp::TensorCore { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_opts_are_errors() {
        assert!(OptOp::Upcast { axis: 0, amt: 4 }.validate(&[16, 3]).is_ok());
        assert!(OptOp::Upcast { axis: 1, amt: 4 }.validate(&[16, 3]).is_err());
        assert!(OptOp::Local { axis: 2, amt: 1 }.validate(&[16, 3]).is_err());
        assert!(OptOp::Swap { a: 0, b: 1 }.validate(&[16, 3]).is_ok());
    }
}
