//! Correctness checks that a wrong answer cannot pass: the largest error relative to the largest
//! reference value (`max|got - want| / max|want|`), against a tolerance for the output's dtype.
//! Zeros, a doubled result or a transposed one all score about 1, far above every tolerance.

use kiln::DType;

/// Why a result was rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckError {
    /// The result has a different number of values than the reference.
    #[error("{got} values, expected {want}")]
    Length {
        /// Values produced.
        got: usize,
        /// Values in the reference.
        want: usize,
    },
    /// The error is above the tolerance (or not finite).
    #[error("max|got - want| / max|want| = {error:.3e}, above the {dtype} tolerance {tolerance:.0e}")]
    Error {
        /// The measured relative error.
        error: f64,
        /// The tolerance it was held to.
        tolerance: f64,
        /// Dtype of the output.
        dtype: &'static str,
    },
}

/// What is being checked: one pass over the data, or a result that went through a whole model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// An elementwise op, a reduction, a normalisation or a matmul: rounding of one op.
    Op,
    /// A multi-layer model (W9): rounding accumulates over layers.
    Model,
}

/// The tolerance for a result of `dtype` (the rounding of one op in that dtype, with margin).
pub fn tolerance(dtype: DType, depth: Depth) -> f64 {
    let op = match dtype {
        DType::F64 => 1e-10,
        DType::F32 => 1e-4,
        DType::F16 => 2e-3,
        _ => 1e-2,
    };
    match depth {
        Depth::Op => op,
        Depth::Model => op * 10.0,
    }
}

/// `max|got - want| / max|want|` (absolute when the reference is all zeros); infinite when any value
/// is not finite.
pub fn relative_error(got: &[f64], want: &[f64]) -> Result<f64, CheckError> {
    if got.len() != want.len() {
        return Err(CheckError::Length { got: got.len(), want: want.len() });
    }
    let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    let mut worst = 0.0f64;
    for (g, w) in got.iter().zip(want) {
        let e = (g - w).abs();
        if !e.is_finite() {
            return Ok(f64::INFINITY);
        }
        worst = worst.max(e);
    }
    Ok(if scale > 0.0 { worst / scale } else { worst })
}

/// Checks `got` against `want` for an output of `dtype`; returns the relative error when it passes.
pub fn verify(got: &[f64], want: &[f64], dtype: DType, depth: Depth) -> Result<f64, CheckError> {
    let error = relative_error(got, want)?;
    let tolerance = tolerance(dtype, depth);
    if error <= tolerance {
        Ok(error)
    } else {
        Err(CheckError::Error { error, tolerance, dtype: dtype.name() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_is_relative_to_the_largest_reference_value() {
        assert_eq!(relative_error(&[1.0, 2.0], &[1.0, 4.0]).unwrap(), 0.5);
        assert_eq!(relative_error(&[0.5], &[0.0]).unwrap(), 0.5);
        assert_eq!(relative_error(&[f64::NAN], &[1.0]).unwrap(), f64::INFINITY);
        assert_eq!(relative_error(&[1.0], &[1.0, 2.0]), Err(CheckError::Length { got: 1, want: 2 }));
    }

    #[test]
    fn tolerances_follow_the_dtype() {
        assert!(tolerance(DType::F32, Depth::Op) < tolerance(DType::F16, Depth::Op));
        assert!(tolerance(DType::F16, Depth::Op) < tolerance(DType::BF16, Depth::Op));
        assert!(tolerance(DType::F16, Depth::Op) < tolerance(DType::F16, Depth::Model));
        assert!(tolerance(DType::BF16, Depth::Model) < 0.5);
    }
}
