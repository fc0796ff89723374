//! `LruMemo`: a bounded, thread-safe memo that forgets its least recently used entry when full. The
//! executor keeps compiled kernels in one (per process) and the Vulkan device its pipelines (per
//! device); both hold at most [`memo_capacity`] entries, so a program that keeps making new kernels
//! cannot grow them without bound.

use lru::LruCache;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Entries kept when `KILN_KERNEL_MEMO` is unset or invalid.
const DEFAULT_CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// The capacity of each in-process kernel memo: `$KILN_KERNEL_MEMO` (a positive number of entries),
/// else 1024. An invalid value is reported and ignored.
pub fn memo_capacity() -> NonZeroUsize {
    capacity_from(std::env::var("KILN_KERNEL_MEMO").ok().as_deref())
}

fn capacity_from(value: Option<&str>) -> NonZeroUsize {
    let Some(value) = value else { return DEFAULT_CAPACITY };
    value.trim().parse().unwrap_or_else(|_| {
        tracing::warn!("KILN_KERNEL_MEMO={value:?} is not a positive number of entries; using {DEFAULT_CAPACITY}");
        DEFAULT_CAPACITY
    })
}

/// A memo of at most `capacity` entries; a lookup makes its entry the most recently used.
pub struct LruMemo<K: Hash + Eq, V: Clone> {
    entries: Mutex<LruCache<K, V>>,
}

impl<K: Hash + Eq, V: Clone> LruMemo<K, V> {
    /// An empty memo holding at most `capacity` entries.
    pub fn new(capacity: NonZeroUsize) -> LruMemo<K, V> {
        LruMemo { entries: Mutex::new(LruCache::new(capacity)) }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<K, V>> {
        // Every update is one call on the cache, so a poisoned lock still guards a consistent cache.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value for `key`, now the most recently used, if present.
    pub fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    /// Stores `value` for `key`, forgetting the least recently used entry if the memo is full.
    pub fn insert(&self, key: K, value: V) {
        self.lock().put(key, value);
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when the memo holds nothing.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_keeps_recently_used_entries() {
        let memo = LruMemo::new(NonZeroUsize::new(8).unwrap());
        for i in 0..100u32 {
            memo.insert(i, i * 10);
            // Entry 0 is looked up after every insert, so it is never the least recently used.
            assert_eq!(memo.get(&0), Some(0));
            assert!(memo.len() <= 8);
        }
        assert_eq!(memo.len(), 8);
        assert_eq!(memo.get(&99), Some(990));
        assert_eq!(memo.get(&93), Some(930));
        assert_eq!(memo.get(&92), None, "the least recently used entries are forgotten");
        assert_eq!(memo.get(&1), None);
        memo.clear();
        assert!(memo.is_empty());
    }

    #[test]
    fn capacity_is_a_positive_count_or_the_default() {
        assert_eq!(capacity_from(Some(" 16 ")).get(), 16);
        for bad in [None, Some("0"), Some("-3"), Some("many")] {
            assert_eq!(capacity_from(bad), DEFAULT_CAPACITY, "{bad:?}");
        }
        assert_eq!(DEFAULT_CAPACITY.get(), 1024);
    }
}
