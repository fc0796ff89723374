//! Adam and AdamW, as `torch.optim.Adam` (L2 weight decay added to the gradient) and
//! `torch.optim.AdamW` (decoupled weight decay). The bias corrections come from `beta^t`, kept per
//! device as 0-dim f32 state multiplied by beta at every step together with the moments, so they change
//! every step without new kernels and a jitted step counts its steps on the device.

use super::{check, optimizer_methods, prepare, zeros_like, Hyper, Updates};
use crate::error::Result;
use crate::tensor::Tensor;

/// The update both variants share.
struct Moments {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    /// Whether the decay is decoupled (AdamW) rather than added to the gradient (Adam).
    decoupled: bool,
    /// First and second moments per parameter, made on its first update.
    state: Vec<Option<(Tensor, Tensor)>>,
    /// `(beta1^t, beta2^t)` after the last step, per device (1 before the first).
    powers: Vec<(crate::Device, Tensor, Tensor)>,
}

impl Moments {
    fn new(op: &'static str, params: &[Tensor], weight_decay: f64, decoupled: bool) -> Result<Moments> {
        prepare(op, params)?;
        check(op, "weight_decay", weight_decay, 0.0..=f64::MAX)?;
        Ok(Moments {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            decoupled,
            state: vec![None; params.len()],
            powers: Vec::new(),
        })
    }

    fn betas(&mut self, op: &'static str, beta1: f64, beta2: f64) -> Result<()> {
        check(op, "beta1", beta1, 0.0..=0.999_999)?;
        check(op, "beta2", beta2, 0.0..=0.999_999)?;
        (self.beta1, self.beta2) = (beta1, beta2);
        Ok(())
    }

    /// `(beta1^t, beta2^t)` for this step on `device`, with their updates added to `updates` once.
    fn powers(&mut self, device: &crate::Device, updates: &mut Updates) -> Result<(Tensor, Tensor)> {
        let at = match self.powers.iter().position(|(d, _, _)| d == device) {
            Some(at) => at,
            None => {
                let one = || Tensor::from_slice_on(&[1.0f32], &[], device);
                self.powers.push((device.clone(), one()?, one()?));
                self.powers.len() - 1
            }
        };
        let (_, p1, p2) = &self.powers[at];
        let (n1, n2) = ((p1 * self.beta1)?, (p2 * self.beta2)?);
        if !updates.iter().any(|(t, _)| std::sync::Arc::ptr_eq(&t.0, &p1.0)) {
            updates.push((p1.clone(), n1.clone()));
            updates.push((p2.clone(), n2.clone()));
        }
        Ok((n1, n2))
    }

    fn updates(&mut self, params: &[Tensor], lr: &mut Hyper) -> Result<Updates> {
        let mut updates = Vec::new();
        for (i, p) in params.iter().enumerate() {
            let Some(mut g) = p.grad() else { continue };
            let device = p.device();
            let dtype = g.dtype();
            let (b1t, b2t) = self.powers(&device, &mut updates)?;
            let lr_t = lr.tensor(&device, dtype)?;
            let mut base = p.clone();
            if self.weight_decay != 0.0 {
                if self.decoupled {
                    base = p.mul(&(&(&lr_t * (-self.weight_decay))? + 1.0)?)?;
                } else {
                    g = g.add(&(p * self.weight_decay)?)?;
                }
            }
            let (m, v) = match &self.state[i] {
                Some(mv) => mv.clone(),
                None => self.state[i].insert((zeros_like(p)?, zeros_like(p)?)).clone(),
            };
            // c1 = 1 - beta1^t and c2 = 1 - beta2^t, in f32 on the device.
            let c1 = (&(&b1t * -1.0)? + 1.0)?.cast(dtype)?;
            let c2 = (&(&b2t * -1.0)? + 1.0)?.cast(dtype)?;
            let new_m = (&m * self.beta1)?.add(&(&g * (1.0 - self.beta1))?)?;
            let new_v = (&v * self.beta2)?.add(&(&g.square()? * (1.0 - self.beta2))?)?;
            let denom = (&new_v.div(&c2)?.sqrt()? + self.eps)?;
            let step = new_m.div(&denom)?.mul(&lr_t.div(&c1)?)?;
            updates.push((p.clone(), base.sub(&step)?));
            updates.push((m, new_m));
            updates.push((v, new_v));
        }
        Ok(updates)
    }
}

/// Adam: moments of the gradient (plus `weight_decay * p`), bias-corrected.
pub struct Adam {
    params: Vec<Tensor>,
    lr: Hyper,
    moments: Moments,
}

impl Adam {
    /// Adam over `params` with betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(params: Vec<Tensor>, lr: f64) -> Result<Adam> {
        check("Adam", "lr", lr, 0.0..=f64::MAX)?;
        let moments = Moments::new("Adam", &params, 0.0, false)?;
        Ok(Adam { params, lr: Hyper::new(lr), moments })
    }

    /// With other betas.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Result<Adam> {
        self.moments.betas("Adam", beta1, beta2)?;
        Ok(self)
    }

    /// With L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f64) -> Result<Adam> {
        check("Adam", "weight_decay", weight_decay, 0.0..=f64::MAX)?;
        self.moments.weight_decay = weight_decay;
        Ok(self)
    }

    fn updates(&mut self) -> Result<Updates> {
        self.moments.updates(&self.params, &mut self.lr)
    }
}

optimizer_methods!(Adam);

/// AdamW: Adam with decoupled weight decay (`p *= 1 - lr * weight_decay` before the Adam step).
pub struct AdamW {
    params: Vec<Tensor>,
    lr: Hyper,
    moments: Moments,
}

impl AdamW {
    /// AdamW over `params` with betas (0.9, 0.999), eps 1e-8 and `weight_decay` (PyTorch's default is
    /// 0.01).
    pub fn new(params: Vec<Tensor>, lr: f64, weight_decay: f64) -> Result<AdamW> {
        check("AdamW", "lr", lr, 0.0..=f64::MAX)?;
        let moments = Moments::new("AdamW", &params, weight_decay, true)?;
        Ok(AdamW { params, lr: Hyper::new(lr), moments })
    }

    /// With other betas.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Result<AdamW> {
        self.moments.betas("AdamW", beta1, beta2)?;
        Ok(self)
    }

    fn updates(&mut self) -> Result<Updates> {
        self.moments.updates(&self.params, &mut self.lr)
    }
}

optimizer_methods!(AdamW);

#[cfg(test)]
mod tests {
    use super::{Adam, AdamW};
    use crate::{Device, Tensor};

    /// Adam by hand in f64 for the loss `sum(p * c)` (gradient `c`, plus decay).
    fn reference(p: &mut [f64], c: &[f64], lr: f64, wd: f64, decoupled: bool, steps: i32) {
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        let (mut m, mut v) = (vec![0.0; p.len()], vec![0.0; p.len()]);
        for t in 1..=steps {
            for i in 0..p.len() {
                let g = if decoupled { c[i] } else { c[i] + wd * p[i] };
                if decoupled {
                    p[i] *= 1.0 - lr * wd;
                }
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let (mh, vh) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
                p[i] -= lr * mh / (vh.sqrt() + eps);
            }
        }
    }

    fn check(decoupled: bool) -> crate::Result<()> {
        let d = Device::cpu()?;
        let init = [1.0, -2.0, 0.5];
        let c = [3.0, -4.0, 0.25];
        let p = Tensor::from_slice_on(&init.map(|x| x as f32), &[3], &d)?;
        let ct = Tensor::from_slice_on(&c.map(|x| x as f32), &[3], &d)?;
        let (lr, wd) = (0.05, 0.1);
        let mut adam = Adam::new(vec![p.clone()], lr)?.weight_decay(wd)?;
        let mut adamw = AdamW::new(vec![p.clone()], lr, wd)?;
        for _ in 0..3 {
            p.zero_grad();
            p.mul(&ct)?.sum(&[], false)?.backward()?;
            if decoupled {
                adamw.step()?;
            } else {
                adam.step()?;
            }
        }
        let mut want = init;
        reference(&mut want, &c, lr, wd, decoupled, 3);
        let got = p.to_vec::<f32>()?;
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "decoupled={decoupled}: {got:?} vs {want:?}");
        }
        Ok(())
    }

    #[test]
    fn adam_matches_hand_computed_values() -> crate::Result<()> {
        check(false)
    }

    #[test]
    fn adamw_matches_hand_computed_values() -> crate::Result<()> {
        check(true)
    }
}
