//! Freed buffers kept for reuse, by size: a new allocation of a size just freed takes that buffer
//! instead of asking the allocator, which for large buffers means a fresh `vkAllocateMemory` that the
//! driver clears on the GPU. Reuse is safe without waiting: every command buffer begins with a barrier
//! on all earlier work, and host copies wait for the queue first. At most [`MAX_BYTES`] and
//! [`MAX_BUFFERS`] are kept; a buffer beyond them is freed.

use crate::memory::Allocation;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Bytes of freed buffers kept.
const MAX_BYTES: u64 = 1 << 30;
/// Freed buffers kept.
const MAX_BUFFERS: usize = 4096;

/// Freed buffers by their `VkBuffer` size.
#[derive(Default)]
pub(crate) struct Recycler {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    free: HashMap<u64, Vec<Allocation>>,
    bytes: u64,
    count: usize,
}

impl Recycler {
    /// A kept buffer of exactly `size` bytes, if there is one.
    pub(crate) fn take(&self, size: u64) -> Option<Allocation> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let a = inner.free.get_mut(&size)?.pop()?;
        inner.bytes -= a.size;
        inner.count -= 1;
        Some(a)
    }

    /// Keeps `a` for reuse, or hands it back when the recycler is full.
    pub(crate) fn give(&self, a: Allocation) -> Option<Allocation> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.count >= MAX_BUFFERS || inner.bytes + a.size > MAX_BYTES {
            return Some(a);
        }
        inner.bytes += a.size;
        inner.count += 1;
        inner.free.entry(a.size).or_default().push(a);
        None
    }

    /// Every kept buffer (the device is closing).
    pub(crate) fn drain(&self) -> Vec<Allocation> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.bytes = 0;
        inner.count = 0;
        inner.free.drain().flat_map(|(_, v)| v).collect()
    }
}
