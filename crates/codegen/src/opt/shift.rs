//! OptOps as range substitutions. `shift_to(r, amt, kind, top)` replaces range `r` of size `n` by
//! `rest * amt + new` (or `new * (n / amt) + rest` for `top`), where `new` is a range of `amt` of the
//! given kind and `rest` keeps `r`'s kind. A `REDUCE` over `r` then reduces over both. Indices that
//! changed are simplified again. `apply_opt` checks each opt against the axis kinds and the device's
//! `Caps` first: a bad opt is an error (search skips it), never a wrong kernel. `Swap` exchanges two
//! output axes (their order decides the grid's x/y/z and the loop nesting); `NoLocals` gives the kernel
//! blocks of one thread and forbids later local and group opts; `PadTo` lengthens an output or reduce
//! axis to a multiple of `amt` (at most doubling it), gating the loads and stores past its end and
//! giving its reductions their identity there; `Thread` (CPU) splits an output axis into contiguous
//! chunks, one per thread, as the kernel's outermost (parallel) loop. `TensorCore` is rejected as not
//! implemented.

use super::kernel::{range_kind, range_size, Kernel};
use super::OptOp;
use crate::error::CodegenError;
use crate::target::Caps;
use kiln_rewrite::{simplify, simplify_greedy};
use kiln_uop::{Arg, DType, Op, RangeKind, UOp};
use std::collections::HashMap;

/// The most copies an upcast or unroll may make of one axis.
const MAX_EXPAND: usize = 32;
/// The most copies all upcasts and unrolls of a kernel may make together.
const MAX_EXPAND_TOTAL: usize = 256;

impl Kernel {
    /// The kernel with `opt` applied, or why it does not apply.
    pub fn apply_opt(&self, opt: OptOp, caps: &Caps) -> Result<Kernel, CodegenError> {
        let invalid = |reason: String| CodegenError::InvalidOpt { opt, reason };
        let kind_of = |axis: usize| -> Result<RangeKind, CodegenError> {
            let r = self
                .axes
                .get(axis)
                .ok_or_else(|| invalid(format!("axis {axis} out of range for {} axes", self.axes.len())))?;
            range_kind(r).ok_or_else(|| invalid("not a range".into()))
        };
        let has_locals =
            self.axes.iter().any(|r| matches!(range_kind(r), Some(RangeKind::Local | RangeKind::GroupReduce)));
        match opt {
            OptOp::Swap { a, b } => {
                if a == b || kind_of(a)? != RangeKind::Global || kind_of(b)? != RangeKind::Global {
                    return Err(invalid(format!("axes {a} and {b} are not two output axes")));
                }
                let mut k = self.clone();
                // Output axes come first and stay together, so the order of kinds is kept.
                k.axes.swap(a, b);
                return Ok(k);
            }
            OptOp::NoLocals => {
                if !caps.has_local {
                    return Err(invalid("the device has no blocks of threads".into()));
                }
                if has_locals || self.no_locals {
                    return Err(invalid("the kernel already has local axes, or no locals".into()));
                }
                return Ok(Kernel { no_locals: true, ..self.clone() });
            }
            OptOp::PadTo { axis, amt } => {
                let kind = kind_of(axis)?;
                if !matches!(kind, RangeKind::Global | RangeKind::Reduce) {
                    return Err(invalid(format!("axis {axis} is {kind:?}; only output and reduce axes pad")));
                }
                let r = &self.axes[axis];
                let size = range_size(r);
                let padded = size.div_ceil(amt.max(1)) * amt.max(1);
                if amt < 2 || padded == size {
                    return Err(invalid(format!("axis {axis} of size {size} needs no padding to a multiple of {amt}")));
                }
                if padded > 2 * size {
                    return Err(invalid(format!("padding axis {axis} from {size} to {padded} more than doubles it")));
                }
                let mut k = self.clone();
                let wide = k.new_range(padded, kind);
                k.sink = pad_range(&self.sink, r, &wide, size);
                k.axes[axis] = wide;
                return Ok(k);
            }
            OptOp::Thread { axis, amt } => {
                if caps.has_local {
                    return Err(invalid("threads split CPU loops; this device has blocks of threads".into()));
                }
                if !self.axes_of(RangeKind::Thread).is_empty() {
                    return Err(invalid("the kernel already has a thread axis".into()));
                }
                if kind_of(axis)? != RangeKind::Global {
                    return Err(invalid(format!("axis {axis} is not an output axis")));
                }
                let r = &self.axes[axis];
                let size = range_size(r);
                if amt < 2 || !size.is_multiple_of(amt) {
                    return Err(invalid(format!("{amt} does not split axis {axis} of size {size}")));
                }
                // Each thread takes one contiguous chunk (`thread * size/amt + rest`).
                return Ok(self.shift_to(r, amt, RangeKind::Thread, true));
            }
            OptOp::Local { .. } | OptOp::Group { .. } | OptOp::GroupTop { .. } if self.no_locals => {
                return Err(invalid("the kernel uses no locals (NoLocals)".into()));
            }
            _ => {}
        }
        let (axis, amt) = match opt {
            OptOp::Upcast { axis, amt }
            | OptOp::Unroll { axis, amt }
            | OptOp::Local { axis, amt }
            | OptOp::Group { axis, amt }
            | OptOp::GroupTop { axis, amt } => (axis, amt),
            _ => return Err(invalid("not implemented yet".into())),
        };
        let r = self
            .axes
            .get(axis)
            .ok_or_else(|| invalid(format!("axis {axis} out of range for {} axes", self.axes.len())))?;
        let (kind, size) = (range_kind(r).ok_or_else(|| invalid("not a range".into()))?, range_size(r));
        if amt < 2 || size % amt != 0 {
            return Err(invalid(format!("{amt} does not split axis {axis} of size {size}")));
        }
        let expanded: usize = self
            .axes
            .iter()
            .filter(|r| matches!(range_kind(r), Some(RangeKind::Upcast | RangeKind::Unroll)))
            .map(range_size)
            .product();
        let locals: usize = self
            .axes
            .iter()
            .filter(|r| matches!(range_kind(r), Some(RangeKind::Local | RangeKind::GroupReduce)))
            .map(range_size)
            .product();
        let has_group = !self.axes_of(RangeKind::GroupReduce).is_empty();
        let (new_kind, top) = match opt {
            OptOp::Upcast { .. } | OptOp::Unroll { .. } => {
                let want = if matches!(opt, OptOp::Upcast { .. }) { RangeKind::Global } else { RangeKind::Reduce };
                if kind != want {
                    return Err(invalid(format!("axis {axis} is {kind:?}, not {want:?}")));
                }
                if amt > MAX_EXPAND || expanded * amt > MAX_EXPAND_TOTAL {
                    return Err(invalid(format!("{amt} more copies exceed the expansion limit")));
                }
                if has_group && matches!(opt, OptOp::Upcast { .. }) {
                    return Err(invalid("a grouped kernel keeps one output per thread".into()));
                }
                (if want == RangeKind::Global { RangeKind::Upcast } else { RangeKind::Unroll }, false)
            }
            OptOp::Local { .. } | OptOp::Group { .. } | OptOp::GroupTop { .. } => {
                let local = matches!(opt, OptOp::Local { .. });
                let want = if local { RangeKind::Global } else { RangeKind::Reduce };
                if !caps.has_local {
                    return Err(invalid("the device has no blocks of threads".into()));
                }
                if kind != want {
                    return Err(invalid(format!("axis {axis} is {kind:?}, not {want:?}")));
                }
                let dims = self
                    .axes
                    .iter()
                    .filter(|r| matches!(range_kind(r), Some(RangeKind::Local | RangeKind::GroupReduce)));
                if dims.count() >= 3 {
                    return Err(invalid("a block has at most 3 dimensions".into()));
                }
                if locals * amt > caps.max_local_total as usize || amt > caps.max_local[0] as usize {
                    return Err(invalid(format!("{} threads per block exceed the device's limit", locals * amt)));
                }
                if !local {
                    if has_group {
                        return Err(invalid("a kernel groups one reduction".into()));
                    }
                    if expanded > 1 && !self.axes_of(RangeKind::Upcast).is_empty() {
                        return Err(invalid("a grouped kernel keeps one output per thread".into()));
                    }
                    let reduces = self.reduces();
                    let over: Vec<&UOp> = reduces.iter().filter(|u| u.src()[1..].contains(r)).collect();
                    let [grouped] = over[..] else {
                        return Err(invalid("grouping needs one reduction over this axis".into()));
                    };
                    // Reductions nested inside the grouped one stay per thread; one enclosing it would
                    // put the barrier inside its loop.
                    if reduces.iter().any(|u| u != grouped && u.toposort().contains(grouped)) {
                        return Err(invalid("the reduction over this axis is nested in another".into()));
                    }
                    if reduces.iter().any(|u| u != grouped && !grouped.toposort().contains(u)) {
                        return Err(invalid("a grouped kernel has one outermost reduction".into()));
                    }
                    let bytes = locals * amt * grouped.dtype().size();
                    if bytes > caps.shared_bytes as usize {
                        return Err(invalid(format!("{bytes} bytes of local memory exceed the device's limit")));
                    }
                }
                let kind = if local { RangeKind::Local } else { RangeKind::GroupReduce };
                (kind, matches!(opt, OptOp::GroupTop { .. }))
            }
            _ => unreachable!("other opts returned above"),
        };
        Ok(self.shift_to(r, amt, new_kind, top))
    }

    /// `r` split into a new range of `amt` and `new_kind` and the rest (see the module doc).
    pub(crate) fn shift_to(&self, r: &UOp, amt: usize, new_kind: RangeKind, top: bool) -> Kernel {
        let mut k = self.clone();
        let size = range_size(r);
        let rest_size = size / amt;
        let new = k.new_range(amt, new_kind);
        let rest =
            if rest_size > 1 { Some(k.new_range(rest_size, range_kind(r).unwrap_or(RangeKind::Global))) } else { None };
        let rest_value = rest.clone().unwrap_or_else(|| UOp::index(0));
        let expr = if top {
            new.mul(&UOp::index(rest_size as i64)).add(&rest_value)
        } else {
            rest_value.mul(&UOp::index(amt as i64)).add(&new)
        };
        let pos = k.axes.iter().position(|a| a == r).unwrap_or(k.axes.len());
        let mut replacement: Vec<UOp> = rest.iter().cloned().collect();
        replacement.push(new.clone());
        k.axes.splice(pos..(pos + 1).min(k.axes.len()), replacement.clone());
        k.sort_axes();
        k.sink = replace_range(&self.sink, r, &expr, &replacement);
        k
    }
}

/// `sink` with range `r` (of `size`) replaced by the longer range `wide`: a load or store whose index
/// changed is gated by `wide < size`, and a `REDUCE` over `wide` takes its identity past `size`.
fn pad_range(sink: &UOp, r: &UOp, wide: &UOp, size: usize) -> UOp {
    let valid = wide.lt(&UOp::index(size as i64));
    let leaves = HashMap::from([(r.clone(), wide.clone())]);
    rebuild(sink, &leaves, |u, src| match u.op() {
        Op::Load | Op::Store if src[1] != u.src()[1] => {
            let slot = if u.op() == Op::Load { 2 } else { 3 };
            let gate = src.get(slot).map_or_else(|| valid.clone(), |g| g.and(&valid));
            src.truncate(slot);
            src.push(simplify(&gate));
            src[1] = simplify(&src[1]);
        }
        Op::Reduce if src[1..].contains(wide) => {
            if let Arg::Reduce(op) = u.arg() {
                let identity = crate::lower::reduce_identity(*op, src[0].dtype());
                src[0] = UOp::select(&valid, &src[0], &identity);
            }
        }
        _ => {}
    })
}

/// `sink` rebuilt bottom-up with each node of `leaves` replaced by its value; a node whose sources
/// changed gets them through `adjust` (which may edit them) before it is rebuilt.
fn rebuild(sink: &UOp, leaves: &HashMap<UOp, UOp>, mut adjust: impl FnMut(&UOp, &mut Vec<UOp>)) -> UOp {
    let mut done: HashMap<UOp, UOp> = HashMap::new();
    for u in sink.toposort() {
        if let Some(value) = leaves.get(&u) {
            done.insert(u, value.clone());
            continue;
        }
        let mut src: Vec<UOp> = u.src().iter().map(|s| done[s].clone()).collect();
        if src.iter().zip(u.src()).all(|(a, b)| a == b) {
            done.insert(u.clone(), u);
            continue;
        }
        adjust(&u, &mut src);
        let rebuilt = if u.op() == Op::Reduce && src.len() == 1 { src[0].clone() } else { u.with_src(src) };
        done.insert(u.clone(), rebuilt);
    }
    done[sink].clone()
}

/// How a range substitution simplifies the indices and gates it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resimplify {
    /// The greedy rules, then the e-graph where div/mod remain: for substitutions that can open new
    /// simplifications (an opt's `outer * amount + inner`, an expanded axis's constant, a flat thread
    /// index split by div/mod).
    Full,
    /// The greedy rules alone: for renaming each range to a hardware index with the range's own bounds
    /// (`gpudims` with local axes). The e-graph ran on these expressions before and has nothing new to
    /// find: every kernel of W9 comes out the same without it (`kiln-bench --codegen-w9`'s digest;
    /// PERFORMANCE.md, "W9 code generation").
    Greedy,
}

/// `sink` with range `r` replaced by `expr`, a `REDUCE` over `r` reducing over `ranges` instead, and
/// the indices and gates of changed loads and stores simplified again.
pub(crate) fn replace_range(sink: &UOp, r: &UOp, expr: &UOp, ranges: &[UOp]) -> UOp {
    let mut map = HashMap::new();
    map.insert(r.clone(), (expr.clone(), ranges.to_vec()));
    rewrite_ranges(sink, &map, Resimplify::Full)
}

/// `sink` with each range of `map` replaced by its expression, a `REDUCE` over it reducing over its
/// list of ranges instead (none when it became a constant), and the indices and gates of changed loads
/// and stores simplified again as `how` says.
pub(crate) fn rewrite_ranges(sink: &UOp, map: &HashMap<UOp, (UOp, Vec<UOp>)>, how: Resimplify) -> UOp {
    let leaves: HashMap<UOp, UOp> = map.iter().map(|(r, (expr, _))| (r.clone(), expr.clone())).collect();
    let simplified = |s: &UOp| match how {
        Resimplify::Full => simplify(s),
        Resimplify::Greedy => simplify_greedy(s),
    };
    rebuild(sink, &leaves, |u, src| match u.op() {
        Op::Reduce => {
            let ranges =
                u.src()[1..].iter().flat_map(|s| map.get(s).map_or_else(|| vec![s.clone()], |(_, r)| r.clone()));
            *src = std::iter::once(src[0].clone()).chain(ranges).collect();
        }
        Op::Load | Op::Store => {
            let gate_slot = if u.op() == Op::Load { 2 } else { 3 };
            for (i, s) in src.iter_mut().enumerate().skip(1) {
                if i == gate_slot || s.dtype() == DType::Index {
                    *s = simplified(s);
                }
            }
        }
        _ => {}
    })
}
