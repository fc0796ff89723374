//! Freed buffers kept for reuse, by size: an allocation of a size just freed takes that buffer instead
//! of asking the system for new memory (on the CPU, fresh pages that fault on first touch; on Vulkan, a
//! fresh `vkAllocateMemory` that the driver clears on the GPU). Devices decide when reuse is safe (the
//! CPU runs launches to completion; Vulkan orders every submission after earlier work). At most
//! [`MAX_BYTES`] and [`MAX_BUFFERS`] are kept: beyond them the buffers kept longest ago are handed
//! back to be freed, so a loop's own sizes always find room whatever earlier work left behind.

use std::collections::{BTreeMap, HashMap, VecDeque};
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
    /// Kept buffers of each size, oldest first, each with the number of its `give`.
    free: HashMap<u64, VecDeque<(u64, T)>>,
    /// The size of every kept buffer by the number of its `give`: the oldest first.
    order: BTreeMap<u64, u64>,
    gives: u64,
    bytes: u64,
}

impl<T> Default for Recycler<T> {
    fn default() -> Recycler<T> {
        Recycler { inner: Mutex::new(Inner { free: HashMap::new(), order: BTreeMap::new(), gives: 0, bytes: 0 }) }
    }
}

impl<T> Recycler<T> {
    /// The most recently kept buffer of exactly `size` bytes, if there is one.
    pub fn take(&self, size: u64) -> Option<T> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (n, b) = inner.free.get_mut(&size)?.pop_back()?;
        inner.order.remove(&n);
        inner.bytes -= size;
        Some(b)
    }

    /// Keeps `buffer` (of `size` bytes) for reuse and hands back what no longer fits, to be freed: the
    /// buffers kept longest ago (a program that repeats a step frees and allocates the same sizes
    /// again, so the newest are the ones it asks for next), or `buffer` itself when it alone exceeds
    /// [`MAX_BYTES`].
    pub fn give(&self, size: u64, buffer: T) -> Vec<T> {
        if size > MAX_BYTES {
            return vec![buffer];
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let n = inner.gives;
        inner.gives += 1;
        inner.bytes += size;
        inner.order.insert(n, size);
        inner.free.entry(size).or_default().push_back((n, buffer));
        let mut evicted = Vec::new();
        while inner.order.len() > MAX_BUFFERS || inner.bytes > MAX_BYTES {
            let Some((_, oldest)) = inner.order.pop_first() else { break };
            // The oldest of all is the oldest of its size.
            if let Some((_, b)) = inner.free.get_mut(&oldest).and_then(VecDeque::pop_front) {
                inner.bytes -= oldest;
                evicted.push(b);
            }
        }
        evicted
    }

    /// Every kept buffer (the device is closing).
    pub fn drain(&self) -> Vec<T> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.bytes = 0;
        inner.order.clear();
        inner.free.drain().flat_map(|(_, v)| v.into_iter().map(|(_, b)| b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_by_exact_size_newest_first() {
        let r = Recycler::default();
        assert!(r.give(64, 'a').is_empty());
        assert!(r.give(64, 'b').is_empty());
        assert_eq!(r.take(128), None);
        assert_eq!(r.take(64), Some('b'));
        assert_eq!(r.give(MAX_BYTES + 1, 'c'), vec!['c'], "larger than the whole cache: handed back");
        assert_eq!(r.drain(), vec!['a']);
        assert_eq!(r.take(64), None);
    }

    #[test]
    fn when_full_the_buffers_kept_longest_ago_make_room() {
        let r = Recycler::default();
        let half = MAX_BYTES / 2;
        assert!(r.give(half, 'a').is_empty());
        assert!(r.give(64, 'b').is_empty());
        assert!(r.give(half - 64, 'c').is_empty());
        // A step that frees 128 bytes now evicts the oldest ('a'), not the new buffer.
        assert_eq!(r.give(128, 'd'), vec!['a']);
        assert_eq!((r.take(half), r.take(128), r.take(64), r.take(half - 64)), (None, Some('d'), Some('b'), Some('c')));
        // The count cap evicts the same way.
        let counted = Recycler::default();
        for i in 0..MAX_BUFFERS {
            assert!(counted.give(1, i).is_empty());
        }
        assert_eq!(counted.give(2, MAX_BUFFERS), vec![0]);
        assert_eq!((counted.take(2), counted.take(1)), (Some(MAX_BUFFERS), Some(MAX_BUFFERS - 1)));
    }
}
