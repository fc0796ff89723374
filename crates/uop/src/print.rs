//! Printing: a one-line `Display` for a node and a numbered listing of a whole graph, as
//! `KILN_DEBUG=4` shows them.

use crate::op::{Arg, Op};
use crate::uop::UOp;
use std::fmt::{self, Write};

fn write_arg(f: &mut impl Write, arg: &Arg) -> fmt::Result {
    match arg {
        Arg::None => Ok(()),
        Arg::Const(c) => write!(f, " {c}"),
        Arg::Slot(s) => write!(f, " #{s}"),
        Arg::Var { name, min, max } => write!(f, " {name}[{min}..={max}]"),
        Arg::Range { id, kind } => write!(f, " r{id}:{kind:?}"),
        Arg::Special(k) => write!(f, " {k:?}"),
        Arg::Buffer { id, numel } => write!(f, " buf{id}[{numel}]"),
        Arg::ReduceAxis(op, axes) => write!(f, " {op:?}{axes:?}"),
        Arg::Reduce(op) => write!(f, " {op:?}"),
        Arg::Shape(s) | Arg::Axes(s) => write!(f, " {s:?}"),
        Arg::Pairs(p) => write!(f, " {p:?}"),
        Arg::Lanes(n) => write!(f, " x{n}"),
    }
}

impl fmt::Display for UOp {
    /// Index expressions print infix (`(r0*4+r1)`), everything else as `OP dtype arg (srcs)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let infix = match self.op() {
            Op::Add => Some("+"),
            Op::Mul => Some("*"),
            Op::Idiv => Some("/"),
            Op::Mod => Some("%"),
            Op::CmpLt => Some("<"),
            Op::CmpNe => Some("!="),
            Op::CmpEq => Some("=="),
            Op::And => Some("&"),
            Op::Or => Some("|"),
            _ => None,
        };
        match (self.op(), self.arg()) {
            (Op::Const, Arg::Const(c)) => write!(f, "{c}"),
            (Op::DefineVar, Arg::Var { name, .. }) => write!(f, "{name}"),
            (Op::Range, Arg::Range { id, .. }) => write!(f, "r{id}"),
            (Op::Special, Arg::Special(k)) => write!(f, "{k:?}"),
            _ if infix.is_some() && self.src().len() == 2 => {
                write!(f, "({}{}{})", self.src()[0], infix.unwrap_or_default(), self.src()[1])
            }
            _ => {
                write!(f, "{}", self.op().name())?;
                write_arg(f, self.arg())?;
                f.write_char('(')?;
                for (i, s) in self.src().iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{s}")?;
                }
                f.write_char(')')
            }
        }
    }
}

/// A numbered listing of every node under `root`, children first:
/// `%12 ADD f32 (%10, %11)`.
pub fn render_listing(root: &UOp) -> String {
    let mut out = String::new();
    for u in root.toposort() {
        let _ = write!(out, "%{:<5} {:<12} {:<6}", u.id(), u.op().name(), u.dtype().name());
        let _ = write_arg(&mut out, u.arg());
        if !u.src().is_empty() {
            let srcs: Vec<String> = u.src().iter().map(|s| format!("%{}", s.id())).collect();
            let _ = write!(out, " ({})", srcs.join(", "));
        }
        if let Some(shape) = u.shape().filter(|s| !s.is_empty()) {
            let _ = write!(out, " shape={shape:?}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{render_listing, RangeKind, UOp};

    #[test]
    fn index_expressions_print_infix() {
        let r = UOp::range(4, 0, RangeKind::Global);
        let e = r.mul(&UOp::index(4)).add(&UOp::var("x", 0, 3));
        assert_eq!(e.to_string(), "((r0*4)+x)");
        let listing = render_listing(&e);
        // The range end and the multiplier are one interned `4`.
        assert_eq!(listing.lines().count(), 5);
        assert!(listing.lines().last().unwrap_or_default().contains("ADD"));
    }
}
