//! Learning-rate schedules: the rate for a step number, to pass to `set_lr` (which recompiles nothing).

/// A learning rate per step (steps count from 0).
pub trait LrSchedule {
    /// The rate at `step`.
    fn lr(&self, step: usize) -> f64;
}

/// `base * gamma^(step / every)`: decays by `gamma` every `every` steps.
pub struct StepLr {
    /// Rate at step 0.
    pub base: f64,
    /// Steps between decays (0 is treated as 1).
    pub every: usize,
    /// Factor per decay.
    pub gamma: f64,
}

impl LrSchedule for StepLr {
    fn lr(&self, step: usize) -> f64 {
        let decays = i32::try_from(step / self.every.max(1)).unwrap_or(i32::MAX);
        self.base * self.gamma.powi(decays)
    }
}

/// Cosine annealing from `base` to `min` over `total` steps, then `min`.
pub struct CosineLr {
    /// Rate at step 0.
    pub base: f64,
    /// Rate at the end.
    pub min: f64,
    /// Steps to anneal over.
    pub total: usize,
}

impl LrSchedule for CosineLr {
    fn lr(&self, step: usize) -> f64 {
        let progress = step.min(self.total) as f64 / self.total.max(1) as f64;
        self.min + 0.5 * (self.base - self.min) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// A linear warm-up over `steps` steps up to the rate `then` gives at its step 0, then `then` (shifted).
pub struct Warmup<S: LrSchedule> {
    /// Warm-up steps.
    pub steps: usize,
    /// The schedule after the warm-up.
    pub then: S,
}

impl<S: LrSchedule> LrSchedule for Warmup<S> {
    fn lr(&self, step: usize) -> f64 {
        if step < self.steps {
            self.then.lr(0) * (step + 1) as f64 / self.steps as f64
        } else {
            self.then.lr(step - self.steps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CosineLr, LrSchedule, StepLr, Warmup};

    #[test]
    fn schedules_give_their_rates() {
        let s = StepLr { base: 1.0, every: 10, gamma: 0.5 };
        assert_eq!([s.lr(0), s.lr(9), s.lr(10), s.lr(25)], [1.0, 1.0, 0.5, 0.25]);
        let c = CosineLr { base: 1.0, min: 0.1, total: 100 };
        assert!((c.lr(0) - 1.0).abs() < 1e-12 && (c.lr(50) - 0.55).abs() < 1e-12);
        assert!((c.lr(100) - 0.1).abs() < 1e-12 && (c.lr(500) - 0.1).abs() < 1e-12);
        let w = Warmup { steps: 4, then: StepLr { base: 2.0, every: 1, gamma: 0.5 } };
        assert_eq!([w.lr(0), w.lr(3), w.lr(4), w.lr(5)], [0.5, 2.0, 2.0, 1.0]);
    }
}
