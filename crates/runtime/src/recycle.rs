//! Freed buffers kept for reuse, by size: an allocation of a size just freed takes that buffer instead
//! of asking the system for new memory (on the CPU, fresh pages that fault on first touch; on Vulkan, a
//! fresh `vkAllocateMemory` that the driver clears on the GPU). Devices decide when reuse is safe (the
//! CPU runs launches to completion; Vulkan orders every submission after earlier work). At most
//! [`MAX_BYTES`] and [`MAX_BUFFERS`] are kept; a buffer beyond them is handed back to be freed.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Bytes of freed buffers kept per device.
const MAX_BYTES: u64 = 1 << 30;
/// Freed buffers kept per device.
const MAX_BUFFERS: usize = 4096;

/// Freed buffers of type `T` by their size in bytes.
pub struct Recycler<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    free: HashMap<u64, Vec<T>>,
    bytes: u64,
    count: usize,
}

impl<T> Default for Recycler<T> {
    fn default() -> Recycler<T> {
        Recycler { inner: Mutex::new(Inner { free: HashMap::new(), bytes: 0, count: 0 }) }
    }
}

impl<T> Recycler<T> {
    /// A kept buffer of exactly `size` bytes, if there is one.
    pub fn take(&self, size: u64) -> Option<T> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let b = inner.free.get_mut(&size)?.pop()?;
        inner.bytes -= size;
        inner.count -= 1;
        Some(b)
    }

    /// Keeps `buffer` (of `size` bytes) for reuse, or hands it back when the recycler is full.
    pub fn give(&self, size: u64, buffer: T) -> Option<T> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.count >= MAX_BUFFERS || inner.bytes + size > MAX_BYTES {
            return Some(buffer);
        }
        inner.bytes += size;
        inner.count += 1;
        inner.free.entry(size).or_default().push(buffer);
        None
    }

    /// Every kept buffer (the device is closing).
    pub fn drain(&self) -> Vec<T> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.bytes = 0;
        inner.count = 0;
        inner.free.drain().flat_map(|(_, v)| v).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_by_exact_size_within_the_caps() {
        let r = Recycler::default();
        assert!(r.give(64, 'a').is_none());
        assert!(r.give(64, 'b').is_none());
        assert_eq!(r.take(128), None);
        assert_eq!(r.take(64), Some('b'));
        assert_eq!(r.give(MAX_BYTES, 'c'), Some('c'), "over the byte cap: handed back");
        assert_eq!(r.drain(), vec!['a']);
        assert_eq!(r.take(64), None);
    }
}
