//! The timing method, the same on every side (see `bench/torch_ref.py`): the caches flushed before
//! each call by the device's own copy, queued without waiting; a device timer whose marks are queued
//! right before the call and right after it (CUDA events, Vulkan timestamps, the host clock on the
//! CPU), so nothing inside the call waits for the device; 3 warm-ups, then the median of the timed
//! calls. Per-kernel times come from the last warm-up, run with the launch profiler on, and are only
//! a diagnostic: they leave out launch gaps and host work.

use crate::suite::{Suite, SLOW_CALLS, SLOW_SECONDS, WARMUP};
use kiln_runtime::Buffer;
use std::time::Instant;

/// How calls are timed on one device.
pub struct Method {
    device: kiln::Device,
    calls: usize,
    /// Two halves of the flush: the first is copied into the second.
    flush: (Buffer, Buffer),
}

/// One measured row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Median seconds per call.
    pub seconds: f64,
    /// Timed calls.
    pub calls: usize,
    /// Warm-up calls.
    pub warmup: usize,
    /// Kernels launched per call.
    pub kernels: usize,
    /// Sum of the per-kernel device times of one (profiled) call: diagnostic only.
    pub kernel_seconds: f64,
}

/// Whether the caches are flushed before each timed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Flush, without waiting: the call queues behind the flush.
    Before,
    /// No flush; the device is idle at the start mark (W8, where launch cost is the point).
    Idle,
}

impl Method {
    /// The method of `suite` on `device`.
    pub fn new(device: &kiln::Device, suite: Suite) -> kiln::Result<Method> {
        let half = suite.flush_bytes() / 2;
        let runtime = device.runtime();
        let flush = (Buffer::alloc(runtime, half)?, Buffer::alloc(runtime, half)?);
        Ok(Method { device: device.clone(), calls: suite.calls(), flush })
    }

    /// The device measured.
    pub fn device(&self) -> &kiln::Device {
        &self.device
    }

    fn flush_caches(&self) -> kiln::Result<()> {
        let (src, dst) = &self.flush;
        self.device.runtime().copy_buffer(dst.raw(), src.raw(), src.bytes())?;
        Ok(())
    }

    /// Times `call` (one complete step: build and realize). A first call slower than a second makes
    /// the row take one warm-up and [`SLOW_CALLS`] timed calls.
    pub fn time(&self, flush: Flush, mut call: impl FnMut() -> kiln::Result<()>) -> kiln::Result<Sample> {
        let (mut kernels, mut kernel_seconds, first) = self.profiled(&mut call)?;
        let slow = first > SLOW_SECONDS;
        let (warmup, calls) = if slow { (1, SLOW_CALLS) } else { (WARMUP, self.calls) };
        for i in 1..warmup {
            if i + 1 == warmup {
                // The per-kernel diagnostic comes from the last warm-up, past first-launch costs.
                (kernels, kernel_seconds, _) = self.profiled(&mut call)?;
            } else {
                call()?;
            }
        }
        let mut times = Vec::with_capacity(calls);
        for _ in 0..calls {
            match flush {
                Flush::Before => self.flush_caches()?,
                Flush::Idle => self.device.synchronize()?,
            }
            let timer = self.device.start_timer()?;
            call()?;
            times.push(self.device.stop_timer(timer)?);
        }
        Ok(Sample { seconds: median(&mut times), calls, warmup, kernels, kernel_seconds })
    }

    /// One warm-up with the launch profiler on: kernels, their summed device time, and the wall time
    /// of the call.
    fn profiled(&self, call: &mut impl FnMut() -> kiln::Result<()>) -> kiln::Result<(usize, f64, f64)> {
        self.device.synchronize()?;
        kiln_runtime::take_launches();
        kiln_runtime::set_profiling(true);
        let t0 = Instant::now();
        let result = call().and_then(|()| self.device.synchronize());
        let wall = t0.elapsed().as_secs_f64();
        kiln_runtime::set_profiling(false);
        result?;
        let launches = kiln_runtime::take_launches();
        Ok((launches.len(), launches.iter().map(|l| l.seconds).sum(), wall))
    }
}

/// Median of `values` (sorted in place); NaN when empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
