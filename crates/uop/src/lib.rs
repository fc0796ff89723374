//! kiln-uop: the one IR of kiln.
//!
//! A [`UOp`] is a node `(op, dtype, src, arg)`. Nodes are hash-consed: building the same node twice gives
//! the same id, so structural equality is an integer compare. The same node type describes tensor graphs,
//! kernel ASTs, index expressions and linear programs. This crate knows nothing about rewriting or devices.

mod dtype;
mod eval;
mod interval;
mod op;
mod print;
mod shape;
mod uop;

pub use dtype::{ConstValue, DType};
pub use eval::{eval, EvalError, Value};
pub use op::{Arg, Op, RangeKind, ReduceOp, SpecialKind};
pub use print::render_listing;
pub use uop::{live_uops, UOp, UOpId, WeakUOp};
