//! Movement ops: reshape, permute, transpose, expand, pad, shrink, flip (and squeeze helpers). They
//! change how elements are indexed, never the elements; the compiler turns them into index arithmetic.

use crate::error::{Error, Result};
use crate::ops::normalize_axis;
use crate::size;
use crate::tensor::Tensor;
use kiln_uop::{Arg, Op, UOp};

impl Tensor {
    fn movement(&self, op: Op, arg: Arg) -> Tensor {
        let u = self.uop();
        self.derive(UOp::new(op, u.dtype(), vec![u], arg), &[])
    }

    pub(crate) fn reshape_usize(&self, shape: &[usize]) -> Result<Tensor> {
        let mine = self.shape();
        if mine.iter().product::<usize>() != size::numel("reshape", shape)? {
            return Err(Error::Invalid { op: "reshape", reason: format!("cannot reshape {mine:?} to {shape:?}") });
        }
        if mine == shape {
            return Ok(self.clone());
        }
        Ok(self.movement(Op::Reshape, Arg::Shape(shape.to_vec())))
    }

    /// A view with `shape` (one entry may be -1, inferred); the element count must match.
    pub fn reshape(&self, shape: &[isize]) -> Result<Tensor> {
        let mine = self.shape();
        let numel: usize = mine.iter().product();
        let bad = || Error::Invalid { op: "reshape", reason: format!("cannot reshape {mine:?} to {shape:?}") };
        if shape.iter().filter(|&&d| d == -1).count() > 1 || shape.iter().any(|&d| d < -1) {
            return Err(bad());
        }
        let known_dims: Vec<usize> = shape.iter().filter(|&&d| d >= 0).map(|&d| d as usize).collect();
        let known = size::numel("reshape", &known_dims)?;
        let resolved: Vec<usize> = shape
            .iter()
            .map(|&d| match d {
                -1 if known == 0 || !numel.is_multiple_of(known) => Err(bad()),
                -1 => Ok(numel / known),
                d => Ok(d as usize),
            })
            .collect::<Result<_>>()?;
        self.reshape_usize(&resolved)
    }

    /// Reorders dims: output dim `i` is input dim `order[i]`.
    pub fn permute(&self, order: &[isize]) -> Result<Tensor> {
        let n = self.ndim();
        let axes = order.iter().map(|&a| normalize_axis("permute", a, n)).collect::<Result<Vec<_>>>()?;
        let mut seen = vec![false; n];
        for &a in &axes {
            seen[a] = true;
        }
        if axes.len() != n || seen.iter().any(|s| !s) {
            return Err(Error::Invalid {
                op: "permute",
                reason: format!("{order:?} is not a permutation of {n} dims"),
            });
        }
        if axes.iter().enumerate().all(|(i, &a)| i == a) {
            return Ok(self.clone());
        }
        Ok(self.movement(Op::Permute, Arg::Axes(axes)))
    }

    /// Swaps dims `a` and `b`.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let n = self.ndim();
        let (a, b) = (normalize_axis("transpose", a, n)?, normalize_axis("transpose", b, n)?);
        let mut order: Vec<isize> = (0..n as isize).collect();
        order.swap(a, b);
        self.permute(&order)
    }

    pub(crate) fn expand_usize(&self, shape: &[usize]) -> Result<Tensor> {
        let mine = self.shape();
        if mine.len() != shape.len() || mine.iter().zip(shape).any(|(&m, &s)| m != s && m != 1) {
            return Err(Error::Shape { op: "expand", lhs: mine, rhs: shape.to_vec() });
        }
        if mine == shape {
            return Ok(self.clone());
        }
        size::numel("expand", shape)?;
        Ok(self.movement(Op::Expand, Arg::Shape(shape.to_vec())))
    }

    /// Broadcasts size-1 dims to `shape` (-1 keeps a dim; new leading dims may be added).
    pub fn expand(&self, shape: &[isize]) -> Result<Tensor> {
        let mine = self.shape();
        if shape.len() < mine.len() {
            return Err(Error::Invalid {
                op: "expand",
                reason: format!("cannot expand {mine:?} to fewer dims {shape:?}"),
            });
        }
        let offset = shape.len() - mine.len();
        let resolved: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(i, &d)| match d {
                -1 if i >= offset => Ok(mine[i - offset]),
                d if d >= 0 => Ok(d as usize),
                _ => Err(Error::Invalid { op: "expand", reason: format!("bad size {d} in {shape:?}") }),
            })
            .collect::<Result<_>>()?;
        self.broadcast_to(&resolved).map_err(|_| Error::Shape { op: "expand", lhs: mine, rhs: resolved })
    }

    /// Zero padding: `(before, after)` for every dim.
    pub fn pad(&self, padding: &[(usize, usize)]) -> Result<Tensor> {
        if padding.len() != self.ndim() {
            return Err(Error::Invalid {
                op: "pad",
                reason: format!("{} pairs for {} dims", padding.len(), self.ndim()),
            });
        }
        if padding.iter().all(|&(b, a)| b == 0 && a == 0) {
            return Ok(self.clone());
        }
        let mine = self.shape();
        let mut padded = Vec::with_capacity(mine.len());
        for (&d, &(b, a)) in mine.iter().zip(padding) {
            padded.push(size::add_dim("pad", &mine, d, size::add_dim("pad", &mine, b, a)?)?);
        }
        size::numel("pad", &padded)?;
        Ok(self.movement(Op::Pad, Arg::Pairs(padding.to_vec())))
    }

    /// The sub-tensor `[start, end)` along every dim.
    pub fn shrink(&self, bounds: &[(usize, usize)]) -> Result<Tensor> {
        let mine = self.shape();
        if bounds.len() != mine.len() || bounds.iter().zip(&mine).any(|(&(s, e), &d)| s > e || e > d) {
            return Err(Error::Invalid {
                op: "shrink",
                reason: format!("bounds {bounds:?} do not fit shape {mine:?}"),
            });
        }
        if bounds.iter().zip(&mine).all(|(&(s, e), &d)| s == 0 && e == d) {
            return Ok(self.clone());
        }
        Ok(self.movement(Op::Shrink, Arg::Pairs(bounds.to_vec())))
    }

    /// Reverses the given dims.
    pub fn flip(&self, axes: &[isize]) -> Result<Tensor> {
        let n = self.ndim();
        let mut axes = axes.iter().map(|&a| normalize_axis("flip", a, n)).collect::<Result<Vec<_>>>()?;
        axes.sort_unstable();
        axes.dedup();
        if axes.is_empty() {
            return Ok(self.clone());
        }
        Ok(self.movement(Op::Flip, Arg::Axes(axes)))
    }

    /// Inserts a size-1 dim at `axis`.
    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor> {
        let mut shape = self.shape();
        let a = normalize_axis("unsqueeze", axis, shape.len() + 1)?;
        shape.insert(a, 1);
        self.reshape_usize(&shape)
    }

    /// Removes the size-1 dim at `axis`.
    pub fn squeeze(&self, axis: isize) -> Result<Tensor> {
        let mut shape = self.shape();
        let a = normalize_axis("squeeze", axis, shape.len())?;
        if shape[a] != 1 {
            return Err(Error::Invalid { op: "squeeze", reason: format!("dim {a} of {shape:?} is not 1") });
        }
        shape.remove(a);
        self.reshape_usize(&shape)
    }

    /// All elements in one dim.
    pub fn flatten(&self) -> Result<Tensor> {
        self.reshape_usize(&[self.numel()])
    }
}
