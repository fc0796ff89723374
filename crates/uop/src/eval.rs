//! Reference evaluator of scalar and index UOp programs.
//!
//! It gives the meaning every rewrite must preserve: tests of the simplifier, lowering and renderers
//! compare against it. Integers are exact i64 (overflow is an error, never a silent wrap); floats are
//! f64 rounded to the node's dtype; `Idiv`/`Mod` truncate like C.

use crate::dtype::{ConstValue, DType};
use crate::op::Op;
use crate::uop::UOp;
use std::collections::HashMap;

/// A scalar value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// Integer (any int dtype or `Index`).
    Int(i64),
    /// Float (any float dtype).
    Float(f64),
    /// Boolean.
    Bool(bool),
}

impl Value {
    /// Numeric value as f64.
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            Value::Bool(b) => f64::from(u8::from(b)),
        }
    }
    /// Numeric value as i64 (floats truncate).
    pub fn as_i64(self) -> i64 {
        match self {
            Value::Int(i) => i,
            Value::Float(f) => f as i64,
            Value::Bool(b) => i64::from(b),
        }
    }
    fn of_const(c: ConstValue) -> Value {
        match c {
            ConstValue::Bool(b) => Value::Bool(b),
            ConstValue::Int(i) => Value::Int(i),
            ConstValue::Float(f) => Value::Float(f),
        }
    }
}

/// Why an expression could not be evaluated.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EvalError {
    /// A variable, range or special index has no value in the environment.
    #[error("no value bound for {0}")]
    Unbound(String),
    /// Integer division or remainder by zero.
    #[error("integer division by zero in {0}")]
    DivisionByZero(String),
    /// An integer result left the i64 range.
    #[error("integer overflow in {0}")]
    Overflow(String),
    /// The op is not a scalar op (loads, stores, tensor-level ops).
    #[error("op {0:?} is not evaluable by the reference evaluator")]
    Unsupported(Op),
}

/// Evaluates `root`, with leaves (variables, ranges, specials) bound by `env`.
pub fn eval(root: &UOp, env: &HashMap<UOp, Value>) -> Result<Value, EvalError> {
    let mut memo: HashMap<UOp, Value> = HashMap::new();
    for u in root.toposort() {
        let v = eval_node(&u, env, &memo)?;
        memo.insert(u, v);
    }
    Ok(memo[root])
}

fn round_to(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F32 => f64::from(v as f32),
        DType::F16 => f64::from(half::f16::from_f64(v)),
        DType::BF16 => f64::from(half::bf16::from_f64(v)),
        _ => v,
    }
}

fn eval_node(u: &UOp, env: &HashMap<UOp, Value>, memo: &HashMap<UOp, Value>) -> Result<Value, EvalError> {
    let arg = |i: usize| memo[&u.src()[i]];
    let dtype = u.dtype();
    let int_op = |f: fn(i64, i64) -> Option<i64>| -> Result<Value, EvalError> {
        f(arg(0).as_i64(), arg(1).as_i64()).map(Value::Int).ok_or_else(|| EvalError::Overflow(format!("{u}")))
    };
    let float_un = |f: fn(f64) -> f64| Ok(Value::Float(round_to(dtype, f(arg(0).as_f64()))));
    let float_bin = |f: fn(f64, f64) -> f64| Ok(Value::Float(round_to(dtype, f(arg(0).as_f64(), arg(1).as_f64()))));
    let is_float = dtype.is_float();
    let is_bool = dtype == DType::Bool;
    match u.op() {
        Op::Const => Ok(Value::of_const(u.const_value().ok_or(EvalError::Unsupported(Op::Const))?)),
        Op::DefineVar | Op::Range | Op::Special => {
            env.get(u).copied().ok_or_else(|| EvalError::Unbound(format!("{u}")))
        }
        Op::Neg if is_float => float_un(|a| -a),
        Op::Neg => Ok(Value::Int(arg(0).as_i64().checked_neg().ok_or_else(|| EvalError::Overflow(format!("{u}")))?)),
        Op::Exp2 => float_un(f64::exp2),
        Op::Log2 => float_un(f64::log2),
        Op::Sin => float_un(f64::sin),
        Op::Sqrt => float_un(f64::sqrt),
        Op::Recip => float_un(|a| 1.0 / a),
        Op::Trunc if is_float => float_un(f64::trunc),
        Op::Trunc => Ok(arg(0)),
        Op::Add if is_float => float_bin(|a, b| a + b),
        Op::Add => int_op(i64::checked_add),
        Op::Mul if is_float => float_bin(|a, b| a * b),
        Op::Mul => int_op(i64::checked_mul),
        Op::Fdiv => float_bin(|a, b| a / b),
        Op::Idiv | Op::Mod => {
            if arg(1).as_i64() == 0 {
                return Err(EvalError::DivisionByZero(format!("{u}")));
            }
            if u.op() == Op::Idiv {
                int_op(i64::checked_div)
            } else {
                int_op(i64::checked_rem)
            }
        }
        Op::Max if is_float => float_bin(f64::max),
        Op::Max if is_bool => Ok(Value::Bool(arg(0).as_i64().max(arg(1).as_i64()) != 0)),
        Op::Max => int_op(|a, b| Some(a.max(b))),
        Op::CmpLt | Op::CmpNe | Op::CmpEq => {
            let (a, b) = (arg(0), arg(1));
            let floaty = matches!(a, Value::Float(_)) || matches!(b, Value::Float(_));
            let ord = if floaty { a.as_f64().partial_cmp(&b.as_f64()) } else { Some(a.as_i64().cmp(&b.as_i64())) };
            Ok(Value::Bool(match u.op() {
                Op::CmpLt => ord == Some(std::cmp::Ordering::Less),
                Op::CmpNe => ord != Some(std::cmp::Ordering::Equal),
                _ => ord == Some(std::cmp::Ordering::Equal),
            }))
        }
        Op::And if is_bool => Ok(Value::Bool(arg(0).as_i64() != 0 && arg(1).as_i64() != 0)),
        Op::Or if is_bool => Ok(Value::Bool(arg(0).as_i64() != 0 || arg(1).as_i64() != 0)),
        Op::Xor if is_bool => Ok(Value::Bool((arg(0).as_i64() != 0) ^ (arg(1).as_i64() != 0))),
        Op::And => int_op(|a, b| Some(a & b)),
        Op::Or => int_op(|a, b| Some(a | b)),
        Op::Xor => int_op(|a, b| Some(a ^ b)),
        Op::Shl => int_op(|a, b| u32::try_from(b).ok().and_then(|b| a.checked_shl(b))),
        Op::Shr => int_op(|a, b| u32::try_from(b).ok().and_then(|b| a.checked_shr(b))),
        Op::Where => Ok(if arg(0).as_i64() != 0 { arg(1) } else { arg(2) }),
        Op::MulAcc if is_float => {
            Ok(Value::Float(round_to(dtype, arg(0).as_f64() * arg(1).as_f64() + arg(2).as_f64())))
        }
        Op::MulAcc => arg(0)
            .as_i64()
            .checked_mul(arg(1).as_i64())
            .and_then(|p| p.checked_add(arg(2).as_i64()))
            .map(Value::Int)
            .ok_or_else(|| EvalError::Overflow(format!("{u}"))),
        Op::Cast => {
            let v = arg(0);
            Ok(if is_bool {
                Value::Bool(v.as_f64() != 0.0)
            } else if is_float {
                Value::Float(round_to(dtype, v.as_f64()))
            } else {
                Value::Int(v.as_i64())
            })
        }
        op => Err(EvalError::Unsupported(op)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RangeKind;

    #[test]
    fn evaluates_index_arithmetic_with_c_semantics() {
        let x = UOp::var("x", -10, 10);
        let r = UOp::range(8, 0, RangeKind::Reduce);
        let e = x.idiv(&UOp::index(3)).add(&r.modulo(&UOp::index(4)));
        let env = HashMap::from([(x.clone(), Value::Int(-7)), (r, Value::Int(6))]);
        assert_eq!(eval(&e, &env), Ok(Value::Int(-2 + 2)));
        assert_eq!(eval(&x.modulo(&UOp::index(3)), &env), Ok(Value::Int(-1)));
    }

    #[test]
    fn errors_name_the_problem() {
        let x = UOp::var("x", 0, 1);
        assert!(matches!(eval(&x, &HashMap::new()), Err(EvalError::Unbound(_))));
        let env = HashMap::from([(x.clone(), Value::Int(0))]);
        assert!(matches!(eval(&UOp::index(1).idiv(&x), &env), Err(EvalError::DivisionByZero(_))));
        let big = UOp::index(i64::MAX).add(&UOp::index(1));
        assert!(matches!(eval(&big, &env), Err(EvalError::Overflow(_))));
    }
}
