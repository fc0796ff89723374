//! The timing method shared by every workload: device timers (from kiln's launch records), an L2
//! flush before each timed call, warm-up, and the median of the timed calls.

use kiln::{DType, Tensor};

/// How workloads are measured.
pub struct Method {
    /// Timed calls (the median is reported).
    pub calls: usize,
    /// Untimed calls first.
    pub warmup: usize,
    /// A buffer rewritten before each timed call to empty the L2 cache.
    flush: Tensor,
}

/// One measurement.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Median device seconds per call.
    pub seconds: f64,
    /// Kernels launched per call.
    pub kernels: usize,
}

impl Method {
    /// The method for full (`quick = false`) or CI-sized runs.
    pub fn new(quick: bool) -> kiln::Result<Method> {
        let flush_bytes: usize = if quick { 1 << 22 } else { 2 << 30 };
        let flush = Tensor::zeros(&[flush_bytes / 4], DType::F32)?.contiguous()?.realize()?;
        Ok(if quick { Method { calls: 5, warmup: 1, flush } } else { Method { calls: 30, warmup: 3, flush } })
    }

    fn flush_l2(&self) -> kiln::Result<()> {
        (&self.flush * 0.0)?.realize()?;
        Ok(())
    }

    /// Median device time of `call` (which builds and realizes one step).
    pub fn device_time(&self, mut call: impl FnMut() -> kiln::Result<()>) -> kiln::Result<Sample> {
        for _ in 0..self.warmup {
            call()?;
        }
        let mut times = Vec::with_capacity(self.calls);
        let mut kernels = 0;
        for _ in 0..self.calls {
            self.flush_l2()?;
            kiln_runtime::set_profiling(true);
            kiln_runtime::take_launches();
            let result = call();
            kiln_runtime::set_profiling(false);
            result?;
            let launches = kiln_runtime::take_launches();
            kernels = launches.len();
            times.push(launches.iter().map(|l| l.seconds).sum::<f64>());
        }
        Ok(Sample { seconds: median(&mut times), kernels })
    }

    /// Median wall time of `call`, device synchronised before and after (for launch overhead).
    pub fn wall_time(
        &self,
        device: &kiln::Device,
        mut call: impl FnMut() -> kiln::Result<usize>,
    ) -> kiln::Result<Sample> {
        for _ in 0..self.warmup {
            call()?;
        }
        let mut times = Vec::with_capacity(self.calls);
        let mut kernels = 0;
        for _ in 0..self.calls {
            device.synchronize()?;
            let t0 = std::time::Instant::now();
            kernels = call()?;
            device.synchronize()?;
            times.push(t0.elapsed().as_secs_f64());
        }
        Ok(Sample { seconds: median(&mut times), kernels })
    }
}

/// Median of `values` (sorted in place); 0 when empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
