//! Conversion between UOps and e-graph expressions. Index arithmetic, comparisons and boolean logic
//! become `IndexLang` nodes; any other `Index`/`Bool` subgraph becomes a leaf symbol carrying its
//! bounds and maps back to the very same UOp. It must not simplify anything itself.

use super::analysis::Facts;
use super::language::IndexLang;
use egg::{Id, RecExpr, Symbol};
use kiln_uop::{DType, Op, UOp};
use std::collections::HashMap;

/// An expression ready for the e-graph, with the UOps its leaf symbols stand for.
pub struct Converted {
    /// The expression.
    pub expr: RecExpr<IndexLang>,
    /// Leaf symbol -> (original UOp, its facts).
    pub leaves: HashMap<Symbol, (UOp, Facts)>,
}

fn is_index(u: &UOp) -> bool {
    u.dtype() == DType::Index
}

fn is_bool(u: &UOp) -> bool {
    u.dtype() == DType::Bool
}

/// How one UOp enters the language: which sources it needs and how to build its node from their ids.
enum Shape {
    Leaf,
    Node(Vec<UOp>),
}

fn shape_of(u: &UOp) -> Shape {
    let s = u.src();
    let all = |pred: fn(&UOp) -> bool| s.iter().all(pred);
    let node = || Shape::Node(s.to_vec());
    match u.op() {
        Op::Const if is_index(u) || is_bool(u) => Shape::Node(vec![]),
        Op::Add | Op::Mul | Op::Idiv | Op::Mod | Op::Max if is_index(u) && all(is_index) => node(),
        Op::Neg if is_index(u) && all(is_index) => node(),
        Op::CmpLt | Op::CmpNe | Op::CmpEq if all(is_index) => node(),
        // Boolean != / == against a constant are negations or the value itself.
        Op::CmpNe | Op::CmpEq if all(is_bool) && s[1].op() == Op::Const => Shape::Node(vec![s[0].clone()]),
        Op::And | Op::Or if is_bool(u) && all(is_bool) => node(),
        Op::Where if is_bool(&s[0]) && (is_index(u) || is_bool(u)) && s[1].dtype() == u.dtype() => node(),
        _ => Shape::Leaf,
    }
}

/// Converts `root` (an `Index` or `Bool` expression), or `None` for other dtypes.
pub fn to_expr(root: &UOp) -> Option<Converted> {
    if !is_index(root) && !is_bool(root) {
        return None;
    }
    let mut expr = RecExpr::default();
    let mut ids: HashMap<UOp, Id> = HashMap::new();
    let mut leaves = HashMap::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((u, expanded)) = stack.pop() {
        if ids.contains_key(&u) {
            continue;
        }
        let shape = shape_of(&u);
        let Shape::Node(src) = shape else {
            let name = Symbol::from(format!("{}{}", if is_bool(&u) { "b" } else { "v" }, leaves.len()));
            let facts = Facts { lo: u.vmin(), hi: u.vmax(), is_bool: is_bool(&u) };
            leaves.insert(name, (u.clone(), facts));
            ids.insert(u, expr.add(IndexLang::Symbol(name)));
            continue;
        };
        if !expanded {
            stack.push((u, true));
            stack.extend(src.into_iter().filter(|s| !ids.contains_key(s)).map(|s| (s, false)));
            continue;
        }
        let id = |i: usize| ids[&src[i]];
        let node = match u.op() {
            Op::Const if is_bool(&u) => IndexLang::Bool(u.const_int()? != 0),
            Op::Const => IndexLang::Num(u.const_int()?),
            Op::Add => IndexLang::Add([id(0), id(1)]),
            Op::Mul => IndexLang::Mul([id(0), id(1)]),
            Op::Idiv => IndexLang::Div([id(0), id(1)]),
            Op::Mod => IndexLang::Mod([id(0), id(1)]),
            Op::Max => IndexLang::Max([id(0), id(1)]),
            Op::Neg => IndexLang::Neg([id(0)]),
            Op::CmpLt => IndexLang::Lt([id(0), id(1)]),
            Op::CmpNe | Op::CmpEq if src.len() == 1 => {
                // x != false and x == true are x; x != true and x == false are not x.
                let truth = u.src()[1].const_int()? != 0;
                if truth == (u.op() == Op::CmpEq) {
                    ids.insert(u, id(0));
                    continue;
                }
                IndexLang::Not([id(0)])
            }
            Op::CmpNe => IndexLang::Ne([id(0), id(1)]),
            Op::CmpEq => IndexLang::Eq([id(0), id(1)]),
            Op::And => IndexLang::And([id(0), id(1)]),
            Op::Or => IndexLang::Or([id(0), id(1)]),
            Op::Where => IndexLang::Where([id(0), id(1), id(2)]),
            _ => return None,
        };
        ids.insert(u, expr.add(node));
    }
    Some(Converted { expr, leaves })
}

/// Converts an extracted expression back, or `None` if it mixes booleans and integers in a way the
/// UOp graph cannot type (then the caller keeps its own result).
pub fn from_expr(expr: &RecExpr<IndexLang>, leaves: &HashMap<Symbol, (UOp, Facts)>) -> Option<UOp> {
    let mut built: Vec<UOp> = Vec::with_capacity(expr.as_ref().len());
    for node in expr.as_ref() {
        let get = |id: &Id| built[usize::from(*id)].clone();
        let ints = |ids: &[Id]| ids.iter().all(|i| is_index(&built[usize::from(*i)]));
        let bools = |ids: &[Id]| ids.iter().all(|i| is_bool(&built[usize::from(*i)]));
        let binary = |op: Op, [a, b]: &[Id; 2]| UOp::alu(op, vec![get(a), get(b)]);
        let u = match node {
            IndexLang::Num(n) => UOp::index(*n),
            IndexLang::Bool(b) => UOp::boolean(*b),
            IndexLang::Symbol(s) => leaves.get(s)?.0.clone(),
            IndexLang::Add(ab) if ints(ab) => binary(Op::Add, ab),
            IndexLang::Mul(ab) if ints(ab) => binary(Op::Mul, ab),
            IndexLang::Div(ab) if ints(ab) => binary(Op::Idiv, ab),
            IndexLang::Mod(ab) if ints(ab) => binary(Op::Mod, ab),
            IndexLang::Max(ab) if ints(ab) => binary(Op::Max, ab),
            IndexLang::Lt(ab) if ints(ab) => binary(Op::CmpLt, ab),
            IndexLang::Ne(ab) if ints(ab) => binary(Op::CmpNe, ab),
            IndexLang::Eq(ab) if ints(ab) => binary(Op::CmpEq, ab),
            IndexLang::And(ab) if bools(ab) => binary(Op::And, ab),
            IndexLang::Or(ab) if bools(ab) => binary(Op::Or, ab),
            IndexLang::Neg([a]) if ints(&[*a]) => get(a).mul(&UOp::index(-1)),
            IndexLang::Not([a]) if bools(&[*a]) => get(a).ne(&UOp::boolean(true)),
            IndexLang::Where([c, a, b]) if bools(&[*c]) && get(a).dtype() == get(b).dtype() => {
                UOp::select(&get(c), &get(a), &get(b))
            }
            _ => return None,
        };
        built.push(u);
    }
    built.pop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_uop::RangeKind;

    #[test]
    fn round_trip_keeps_leaves_and_negations() {
        let r = UOp::range(18, 1, RangeKind::Global);
        let gate = r.lt(&UOp::index(1)).ne(&UOp::boolean(true)).and(&r.add(&UOp::index(-1)).lt(&UOp::index(16)));
        let converted = to_expr(&gate).expect("index gates convert");
        assert_eq!(converted.expr.to_string(), "(and (not (< v0 1)) (< (+ v0 -1) 16))");
        assert_eq!(from_expr(&converted.expr, &converted.leaves), Some(gate));
        let float = UOp::constant(DType::F32, kiln_uop::ConstValue::Float(1.0));
        assert!(to_expr(&float).is_none());
    }
}
