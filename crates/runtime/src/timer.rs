//! Timing a whole call on a device: [`Timer`] is the start mark of [`crate::Device::start_timer`],
//! read back by [`crate::Device::stop_timer`]. Devices with a queue mark the start and the end on the
//! queue itself (CUDA events, Vulkan timestamp queries), so nothing waits between the two marks; the
//! others wait for the device at each mark and read the host clock.

use std::any::Any;
use std::time::Instant;

/// A started timer.
pub enum Timer {
    /// The host clock, read once the device had finished all queued work.
    Host(Instant),
    /// A device's own start mark (each device downcasts to its own type).
    Device(Box<dyn Any + Send>),
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timer::Host(t) => write!(f, "Timer::Host({t:?})"),
            Timer::Device(_) => write!(f, "Timer::Device(..)"),
        }
    }
}
