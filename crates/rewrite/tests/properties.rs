//! Property tests of `simplify`: on random index and gate expressions over 1–3 bounded variables
//! (lowering shapes like `(a*c+b)//c` included), the result evaluates equal to the input at sampled
//! assignments in range and never has more nodes than the input.

// `UOp` hashes by node id only; its cached bounds do not affect the key.
#![allow(clippy::mutable_key_type)]

use kiln_rewrite::{simplify, size};
use kiln_uop::{eval, RangeKind, UOp, Value};
use proptest::prelude::*;
use std::collections::HashMap;

/// A random index expression over variables `0..3`.
#[derive(Clone, Debug)]
enum Expr {
    Var(usize),
    Const(i64),
    Add(Box<Expr>, Box<Expr>),
    Scale(Box<Expr>, i64),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, i64),
    Mod(Box<Expr>, i64),
    Max(Box<Expr>, Box<Expr>),
    /// `(a*c + b) // c` when `div`, else `(a*c + b) % c`.
    Affine {
        a: Box<Expr>,
        c: i64,
        b: Box<Expr>,
        div: bool,
    },
}

/// A random gate over index expressions.
#[derive(Clone, Debug)]
enum Gate {
    Lt(Expr, i64),
    NotLt(Expr, i64),
    Ne(Expr, i64),
    And(Box<Gate>, Box<Gate>),
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![(0usize..3).prop_map(Expr::Var), (-8i64..17).prop_map(Expr::Const)];
    leaf.prop_recursive(4, 24, 2, |inner| {
        let b = || inner.clone().prop_map(Box::new);
        prop_oneof![
            (b(), b()).prop_map(|(x, y)| Expr::Add(x, y)),
            (b(), -4i64..9).prop_map(|(x, c)| Expr::Scale(x, c)),
            (b(), b()).prop_map(|(x, y)| Expr::Mul(x, y)),
            (b(), 1i64..10).prop_map(|(x, c)| Expr::Div(x, c)),
            (b(), 1i64..10).prop_map(|(x, c)| Expr::Mod(x, c)),
            (b(), b()).prop_map(|(x, y)| Expr::Max(x, y)),
            (b(), 1i64..10, b(), any::<bool>()).prop_map(|(a, c, b, div)| Expr::Affine { a, c, b, div }),
        ]
    })
}

fn gate() -> impl Strategy<Value = Gate> {
    let leaf = prop_oneof![
        (expr(), -4i64..20).prop_map(|(e, c)| Gate::Lt(e, c)),
        (expr(), -4i64..20).prop_map(|(e, c)| Gate::NotLt(e, c)),
        (expr(), -4i64..20).prop_map(|(e, c)| Gate::Ne(e, c)),
    ];
    leaf.prop_recursive(2, 4, 2, |inner| (inner.clone(), inner).prop_map(|(a, b)| Gate::And(Box::new(a), Box::new(b))))
}

fn build(e: &Expr, vars: &[UOp]) -> UOp {
    let i = UOp::index;
    match e {
        Expr::Var(k) => vars[k % vars.len()].clone(),
        Expr::Const(c) => i(*c),
        Expr::Add(a, b) => build(a, vars).add(&build(b, vars)),
        Expr::Scale(a, c) => build(a, vars).mul(&i(*c)),
        Expr::Mul(a, b) => build(a, vars).mul(&build(b, vars)),
        Expr::Div(a, c) => build(a, vars).idiv(&i(*c)),
        Expr::Mod(a, c) => build(a, vars).modulo(&i(*c)),
        Expr::Max(a, b) => build(a, vars).max(&build(b, vars)),
        Expr::Affine { a, c, b, div } => {
            let x = build(a, vars).mul(&i(*c)).add(&build(b, vars));
            if *div {
                x.idiv(&i(*c))
            } else {
                x.modulo(&i(*c))
            }
        }
    }
}

fn build_gate(g: &Gate, vars: &[UOp]) -> UOp {
    match g {
        Gate::Lt(e, c) => build(e, vars).lt(&UOp::index(*c)),
        Gate::NotLt(e, c) => build(e, vars).lt(&UOp::index(*c)).ne(&UOp::boolean(true)),
        Gate::Ne(e, c) => build(e, vars).ne(&UOp::index(*c)),
        Gate::And(a, b) => build_gate(a, vars).and(&build_gate(b, vars)),
    }
}

/// 1–3 variables: `(lo, width)` each; a variable starting at 0 is a loop `Range`, others `DefineVar`s.
fn variables() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((prop_oneof![4 => Just(0i64), 1 => -6i64..6], 0i64..40), 1..=3)
}

fn make_vars(spec: &[(i64, i64)]) -> Vec<UOp> {
    spec.iter()
        .enumerate()
        .map(|(k, &(lo, width))| {
            if lo == 0 {
                UOp::range(width + 1, u32::try_from(k).unwrap_or(0), RangeKind::Global)
            } else {
                UOp::var(&format!("x{k}"), lo, lo + width)
            }
        })
        .collect()
}

/// Checks `simplify(e)` against `e` at the corners of the variable box and at `samples`.
fn check(e: &UOp, vars: &[UOp], spec: &[(i64, i64)], samples: &[u32]) -> Result<(), TestCaseError> {
    let s = simplify(e);
    prop_assert!(size(&s) <= size(e), "{} grew to {}", e, s);
    let mut assignments: Vec<Vec<i64>> =
        vec![spec.iter().map(|v| v.0).collect(), spec.iter().map(|v| v.0 + v.1).collect()];
    for chunk in samples.chunks(3) {
        assignments.push(spec.iter().zip(chunk).map(|(v, r)| v.0 + i64::from(*r) % (v.1 + 1)).collect());
    }
    for values in assignments {
        let env: HashMap<UOp, Value> = vars.iter().cloned().zip(values.iter().map(|v| Value::Int(*v))).collect();
        let Ok(expected) = eval(e, &env) else {
            continue;
        };
        prop_assert_eq!(eval(&s, &env), Ok(expected), "{} simplified to {} at {:?}", e, s, values);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6_000))]

    #[test]
    fn index_expressions_keep_their_value(spec in variables(), e in expr(), samples in prop::collection::vec(any::<u32>(), 18)) {
        let vars = make_vars(&spec);
        check(&build(&e, &vars), &vars, &spec, &samples)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn gates_keep_their_value(spec in variables(), g in gate(), samples in prop::collection::vec(any::<u32>(), 18)) {
        let vars = make_vars(&spec);
        check(&build_gate(&g, &vars), &vars, &spec, &samples)?;
    }
}
