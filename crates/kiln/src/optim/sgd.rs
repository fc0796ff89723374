//! Stochastic gradient descent with momentum, Nesterov momentum and (L2) weight decay, as
//! `torch.optim.SGD` without dampening.

use super::{check, optimizer_methods, prepare, zeros_like, Hyper, Updates};
use crate::error::Result;
use crate::tensor::Tensor;

/// `p -= lr * g`, where `g` is the gradient plus `weight_decay * p`, through a momentum buffer
/// `b = momentum * b + g` (`g + momentum * b` with Nesterov) when momentum is set.
#[allow(clippy::upper_case_acronyms, reason = "the name the Training API and PyTorch use")]
pub struct SGD {
    params: Vec<Tensor>,
    lr: Hyper,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    buffers: Vec<Option<Tensor>>,
}

impl SGD {
    /// Plain SGD over `params` (marked as requiring gradients).
    pub fn new(params: Vec<Tensor>, lr: f64) -> Result<SGD> {
        check("SGD", "lr", lr, 0.0..=f64::MAX)?;
        prepare("SGD", &params)?;
        let buffers = vec![None; params.len()];
        Ok(SGD { params, lr: Hyper::new(lr), momentum: 0.0, nesterov: false, weight_decay: 0.0, buffers })
    }

    /// With momentum in `[0, 1)`.
    pub fn momentum(mut self, momentum: f64) -> Result<SGD> {
        check("SGD", "momentum", momentum, 0.0..=0.999_999)?;
        self.momentum = momentum;
        Ok(self)
    }

    /// With Nesterov momentum.
    pub fn nesterov(mut self, nesterov: bool) -> SGD {
        self.nesterov = nesterov;
        self
    }

    /// With L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f64) -> Result<SGD> {
        check("SGD", "weight_decay", weight_decay, 0.0..=f64::MAX)?;
        self.weight_decay = weight_decay;
        Ok(self)
    }

    fn updates(&mut self) -> Result<Updates> {
        let mut updates = Vec::new();
        for (p, buffer) in self.params.iter().zip(&mut self.buffers) {
            let Some(mut g) = p.grad() else { continue };
            if self.weight_decay != 0.0 {
                g = g.add(&(p * self.weight_decay)?)?;
            }
            if self.momentum != 0.0 {
                let b = match buffer {
                    Some(b) => b.clone(),
                    None => buffer.insert(zeros_like(p)?).clone(),
                };
                let new_b = (&b * self.momentum)?.add(&g)?;
                g = if self.nesterov { g.add(&(&new_b * self.momentum)?)? } else { new_b.clone() };
                updates.push((b, new_b));
            }
            let lr = self.lr.tensor(&p.device(), g.dtype())?;
            updates.push((p.clone(), p.sub(&g.mul(&lr)?)?));
        }
        Ok(updates)
    }
}

optimizer_methods!(SGD);

#[cfg(test)]
mod tests {
    use super::SGD;
    use crate::{Device, Tensor};

    /// One parameter `p = [1, -2]` under the loss `sum(p * c)` with `c = [3, 4]`: the gradient is `c`.
    fn setup() -> crate::Result<(Tensor, Tensor)> {
        let d = Device::cpu()?;
        Ok((Tensor::from_slice_on(&[1.0f32, -2.0], &[2], &d)?, Tensor::from_slice_on(&[3.0f32, 4.0], &[2], &d)?))
    }

    fn run(opt: &mut SGD, p: &Tensor, c: &Tensor, steps: usize) -> crate::Result<Vec<f32>> {
        for _ in 0..steps {
            opt.zero_grad();
            p.mul(c)?.sum(&[], false)?.backward()?;
            opt.step()?;
        }
        p.to_vec()
    }

    fn close(got: &[f32], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn plain_sgd_steps() -> crate::Result<()> {
        let (p, c) = setup()?;
        let mut opt = SGD::new(vec![p.clone()], 0.1)?;
        // p - 2 * 0.1 * c
        close(&run(&mut opt, &p, &c, 2)?, &[0.4, -2.8]);
        Ok(())
    }

    #[test]
    fn momentum_and_weight_decay_match_hand_computed_values() -> crate::Result<()> {
        let (p, c) = setup()?;
        let mut opt = SGD::new(vec![p.clone()], 0.1)?.momentum(0.9)?.weight_decay(0.5)?;
        // Step 1: g = c + 0.5 p = [3.5, 3]; b = g; p = [1 - .35, -2 - .3] = [0.65, -2.3].
        // Step 2: g = [3.325, 2.85]; b = 0.9 * [3.5, 3] + g = [6.475, 5.55]; p -= 0.1 b.
        close(&run(&mut opt, &p, &c, 2)?, &[0.0025, -2.855]);
        Ok(())
    }

    #[test]
    fn nesterov_matches_hand_computed_values() -> crate::Result<()> {
        let (p, c) = setup()?;
        let mut opt = SGD::new(vec![p.clone()], 0.1)?.momentum(0.5)?.nesterov(true);
        // Step 1: b = c; step = c + 0.5 c = 1.5 c. Step 2: b = 1.5 c; step = c + 0.75 c = 1.75 c.
        close(&run(&mut opt, &p, &c, 2)?, &[1.0 - 0.325 * 3.0, -2.0 - 0.325 * 4.0]);
        Ok(())
    }

    #[test]
    fn bad_hyper_parameters_are_errors() -> crate::Result<()> {
        let (p, _) = setup()?;
        assert!(SGD::new(vec![p.clone()], f64::NAN).is_err());
        assert!(SGD::new(vec![p.clone()], 0.1)?.momentum(1.5).is_err());
        assert!(SGD::new(vec![p], 0.1)?.weight_decay(-1.0).is_err());
        Ok(())
    }
}
