//! `Conv2d` (NCHW, PyTorch's layout and initialisation) and `max_pool2d`.

use super::module::inherent_module;
use super::{uniform, Module};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A 2-D convolution layer over NCHW inputs.
pub struct Conv2d {
    /// `[out, in, kernel, kernel]`.
    pub weight: Tensor,
    /// `[out]`.
    pub bias: Option<Tensor>,
    /// Step between windows.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

impl Conv2d {
    /// `in_channels -> out_channels` with a square `kernel`, a bias, uniform in `±1/sqrt(fan_in)`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Conv2d> {
        let bound = 1.0 / ((in_channels * kernel * kernel).max(1) as f64).sqrt();
        let weight = uniform(&[out_channels, in_channels, kernel, kernel], bound)?;
        let bias = Some(uniform(&[out_channels], bound)?);
        Ok(Conv2d { weight, bias, stride, padding })
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.stride, self.padding)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        p.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        p
    }
}

inherent_module!(Conv2d);

/// Maximum over non-overlapping `k x k` windows of an NCHW tensor (rows and columns past the last
/// whole window are dropped, as PyTorch's default).
pub fn max_pool2d(x: &Tensor, k: usize) -> Result<Tensor> {
    let shape = x.shape();
    let [n, c, h, w] = <[usize; 4]>::try_from(shape.clone())
        .map_err(|_| Error::Invalid { op: "max_pool2d", reason: format!("input {shape:?} is not NCHW") })?;
    if k == 0 || h < k || w < k {
        return Err(Error::Invalid { op: "max_pool2d", reason: format!("window {k} does not fit {shape:?}") });
    }
    let (oh, ow) = (h / k, w / k);
    x.shrink(&[(0, n), (0, c), (0, oh * k), (0, ow * k)])?.reshape_usize(&[n, c, oh, k, ow, k])?.max(&[3, 5], false)
}
