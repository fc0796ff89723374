//! Size checks: an element count or byte size that overflows, and host memory that cannot be reserved,
//! are errors naming the op and the size, never a wrapped count, a panic or an abort.

use crate::error::{Error, Result};
use kiln_uop::DType;

/// The largest buffer kiln describes, in bytes (what Rust allows one allocation to span).
const MAX_BYTES: u128 = isize::MAX as u128;

fn too_large(op: &'static str, shape: &[usize], what: String) -> Error {
    Error::Size { op, shape: shape.to_vec(), reason: what }
}

/// The element count of `shape`, checked against overflow and against the largest buffer of 8-byte
/// elements (so every dtype's byte size fits too). The product of the non-zero dims is checked the same
/// way even when a zero dim makes the tensor empty: index arithmetic multiplies strides of every dim.
pub(crate) fn numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    let strides = shape.iter().filter(|&&d| d != 0).try_fold(1u128, |acc, &d| acc.checked_mul(d as u128));
    if strides.is_none_or(|n| n.saturating_mul(8) > MAX_BYTES) {
        return Err(too_large(op, shape, "the strides of its dims overflow".into()));
    }
    let count = shape.iter().try_fold(1u128, |acc, &d| acc.checked_mul(d as u128));
    match count {
        Some(n) if n.saturating_mul(8) <= MAX_BYTES => Ok(n as usize),
        Some(n) => Err(too_large(op, shape, format!("{n} elements exceed the largest buffer ({MAX_BYTES} bytes)"))),
        None => Err(too_large(op, shape, "the element count overflows".into())),
    }
}

/// The byte size of `shape` elements of `dtype`.
pub(crate) fn bytes(op: &'static str, shape: &[usize], dtype: DType) -> Result<usize> {
    Ok(numel(op, shape)? * dtype.size())
}

/// `a + b` for a dim grown by padding.
pub(crate) fn add_dim(op: &'static str, shape: &[usize], a: usize, b: usize) -> Result<usize> {
    a.checked_add(b).ok_or_else(|| too_large(op, shape, format!("dim {a} + {b} overflows")))
}

/// Host memory available now, where the system says (Linux: `MemAvailable`). An allocator that
/// overcommits grants reservations far beyond it, and the process is killed when it touches them.
fn available_host_bytes() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// An empty host vector with room for `len` items, or an error naming the op if memory is short.
pub(crate) fn reserve<T>(op: &'static str, shape: &[usize], len: usize) -> Result<Vec<T>> {
    let wanted = (len as u128).saturating_mul(std::mem::size_of::<T>() as u128);
    if let Some(available) = available_host_bytes().filter(|&a| wanted > a) {
        return Err(too_large(op, shape, format!("needs {wanted} bytes of host memory, {available} are available")));
    }
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|e| too_large(op, shape, format!("cannot reserve host memory: {e}")))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_counts_are_errors() {
        assert!(numel("t", &[1 << 32, 1 << 32]).is_err());
        assert!(numel("t", &[usize::MAX, 2]).is_err());
        assert!(numel("t", &[usize::MAX, 0]).is_err(), "strides overflow even when empty");
        assert!(numel("t", &[5, 0]).is_ok_and(|n| n == 0));
        assert_eq!(numel("t", &[3, 4]).ok(), Some(12));
        assert!(bytes("t", &[1 << 60], DType::F32).is_err());
        assert!(add_dim("t", &[1], usize::MAX, 1).is_err());
        let e = numel("zeros", &[1 << 32, 1 << 32]).unwrap_err().to_string();
        assert!(e.contains("zeros") && e.contains("4294967296"), "{e}");
    }
}
