//! The e-graph rewrite rules, each named, conditions as small named functions on the interval facts.
//!
//! Integer `/` and `%` truncate toward zero, so every rule that splits a dividend requires the sign
//! conditions under which truncation equals floor division. Rules must not compute: new constants are
//! written as expressions (`(* ?c -1)`) that the analysis folds.

use super::analysis::{mul_interval, Facts, IndexGraph, IntervalAnalysis};
use super::language::IndexLang;
use egg::{rewrite as rw, Id, Rewrite, Subst, Var};
use std::sync::LazyLock;

type Rule = Rewrite<IndexLang, IntervalAnalysis>;
type Condition = Box<dyn Fn(&mut IndexGraph, Id, &Subst) -> bool + Send + Sync>;

/// Every rule of the simplifier.
pub fn rules() -> &'static [Rule] {
    &RULES
}

fn var(name: &str) -> Var {
    // Only called with the literal pattern variables below, which are valid `?name`s.
    name.parse().unwrap_or_else(|_| panic!("bad pattern variable {name}"))
}

fn facts(egraph: &IndexGraph, subst: &Subst, v: Var) -> Facts {
    egraph[subst[v]].data
}

/// `?v` is a positive constant.
fn is_positive_const(v: &str) -> Condition {
    let v = var(v);
    Box::new(move |g, _, s| facts(g, s, v).constant().is_some_and(|c| c > 0))
}

/// `?v` is a constant other than zero.
fn is_nonzero_const(v: &str) -> Condition {
    let v = var(v);
    Box::new(move |g, _, s| facts(g, s, v).constant().is_some_and(|c| c != 0))
}

/// `?v` is any constant.
fn is_const(v: &str) -> Condition {
    let v = var(v);
    Box::new(move |g, _, s| facts(g, s, v).constant().is_some())
}

/// `?v >= 0` for every assignment.
fn is_nonneg(v: &str) -> Condition {
    let v = var(v);
    Box::new(move |g, _, s| facts(g, s, v).lo >= 0)
}

/// `?a >= ?b` for every assignment.
fn is_at_least(a: &str, b: &str) -> Condition {
    let (a, b) = (var(a), var(b));
    Box::new(move |g, _, s| facts(g, s, a).lo >= facts(g, s, b).hi)
}

/// `0 <= ?x < ?c` for every assignment, with `?c` constant.
fn lt_const(x: &str, c: &str) -> Condition {
    let (x, c) = (var(x), var(c));
    Box::new(move |g, _, s| {
        let fx = facts(g, s, x);
        facts(g, s, c).constant().is_some_and(|c| fx.lo >= 0 && fx.hi < c)
    })
}

/// `?x / ?c` is the same for every assignment (one block of `?c`), `?c` a positive constant.
fn same_block(x: &str, c: &str) -> Condition {
    let (x, c) = (var(x), var(c));
    Box::new(move |g, _, s| {
        let fx = facts(g, s, x);
        let exact = fx.lo != i64::MIN && fx.hi != i64::MAX;
        facts(g, s, c).constant().is_some_and(|c| c > 0 && exact && fx.lo / c == fx.hi / c)
    })
}

/// `?m` and `?a` are positive constants and `?a` divides `?m`.
fn divides(m: &str, a: &str) -> Condition {
    let (m, a) = (var(m), var(a));
    Box::new(move |g, _, s| match (facts(g, s, m).constant(), facts(g, s, a).constant()) {
        (Some(m), Some(a)) => m > 0 && a > 0 && m % a == 0,
        _ => false,
    })
}

/// `?a * ?c + ?b >= 0` and `?b >= 0` for every assignment.
fn affine_nonneg(a: &str, c: &str, b: &str) -> Condition {
    let (a, c, b) = (var(a), var(c), var(b));
    Box::new(move |g, _, s| {
        let fb = facts(g, s, b);
        let (lo, _) = mul_interval(facts(g, s, a), facts(g, s, c));
        fb.lo >= 0 && lo.saturating_add(fb.lo) >= 0
    })
}

/// `?v` is a constant at most `limit`, or at least it, depending on `at_most`.
fn const_compared(v: &str, limit: i64, at_most: bool) -> Condition {
    let v = var(v);
    Box::new(move |g, _, s| facts(g, s, v).constant().is_some_and(|c| if at_most { c <= limit } else { c >= limit }))
}

fn all(conditions: Vec<Condition>) -> impl Fn(&mut IndexGraph, Id, &Subst) -> bool + Send + Sync {
    move |g, id, s| conditions.iter().all(|c| c(g, id, s))
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // ---- sums and products ----
        rw!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rw!("comm-mul"; "(* ?a ?b)" => "(* ?b ?a)"),
        rw!("assoc-add"; "(+ (+ ?a ?b) ?c)" => "(+ ?a (+ ?b ?c))"),
        rw!("assoc-add-back"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        rw!("assoc-mul"; "(* (* ?a ?b) ?c)" => "(* ?a (* ?b ?c))"),
        rw!("distribute-const"; "(* (+ ?a ?b) ?c)" => "(+ (* ?a ?c) (* ?b ?c))" if is_const("?c")),
        rw!("factor"; "(+ (* ?a ?c) (* ?b ?c))" => "(* (+ ?a ?b) ?c)"),
        rw!("factor-self"; "(+ (* ?a ?c) ?a)" => "(* ?a (+ ?c 1))"),
        rw!("add-zero"; "(+ ?a 0)" => "?a"),
        rw!("mul-one"; "(* ?a 1)" => "?a"),
        rw!("mul-zero"; "(* ?a 0)" => "0"),
        rw!("neg-to-mul"; "(neg ?a)" => "(* ?a -1)"),
        rw!("cancel"; "(+ ?a (* ?a -1))" => "0"),
        rw!("comm-max"; "(max ?a ?b)" => "(max ?b ?a)"),
        rw!("max-decided"; "(max ?a ?b)" => "?a" if is_at_least("?a", "?b")),
        // ---- division and remainder ----
        rw!("div-one"; "(/ ?a 1)" => "?a"),
        rw!("mod-one"; "(% ?a 1)" => "0"),
        rw!("div-of-mul"; "(/ (* ?a ?c) ?c)" => "?a" if is_nonzero_const("?c")),
        rw!("mod-of-mul"; "(% (* ?a ?c) ?c)" => "0" if is_nonzero_const("?c")),
        rw!("div-of-mul-plus"; "(/ (+ (* ?a ?c) ?b) ?c)" => "(+ ?a (/ ?b ?c))"
            if all(vec![is_positive_const("?c"), affine_nonneg("?a", "?c", "?b")])),
        rw!("mod-of-mul-plus"; "(% (+ (* ?a ?c) ?b) ?c)" => "(% ?b ?c)"
            if all(vec![is_positive_const("?c"), affine_nonneg("?a", "?c", "?b")])),
        rw!("mod-below-divisor"; "(% ?x ?c)" => "?x" if lt_const("?x", "?c")),
        rw!("mod-one-block"; "(% ?x ?c)" => "(+ ?x (* (/ ?x ?c) (* ?c -1)))" if same_block("?x", "?c")),
        rw!("div-of-div"; "(/ (/ ?x ?a) ?b)" => "(/ ?x (* ?a ?b))"
            if all(vec![is_positive_const("?a"), is_positive_const("?b")])),
        rw!("div-of-mod"; "(/ (% ?x ?m) ?a)" => "(% (/ ?x ?a) (/ ?m ?a))"
            if all(vec![divides("?m", "?a"), is_nonneg("?x")])),
        rw!("mod-of-mod"; "(% (% ?x ?m) ?c)" => "(% ?x ?c)" if all(vec![divides("?m", "?c"), is_nonneg("?x")])),
        rw!("div-mod-recombine"; "(+ (* (/ ?x ?a) ?a) (% ?x ?a))" => "?x" if is_nonzero_const("?a")),
        rw!("div-mod-merge"; "(+ (* (% (/ ?x ?a) ?b) ?a) (% ?x ?a))" => "(% ?x (* ?a ?b))"
            if all(vec![is_positive_const("?a"), is_positive_const("?b"), is_nonneg("?x")])),
        // ---- comparisons ----
        rw!("lt-move-const"; "(< (+ ?x ?c0) ?c1)" => "(< ?x (+ ?c1 (* ?c0 -1)))"
            if all(vec![is_const("?c0"), is_const("?c1")])),
        rw!("lt-move-const-left"; "(< ?c0 (+ ?x ?c1))" => "(< (+ ?c0 (* ?c1 -1)) ?x)"
            if all(vec![is_const("?c0"), is_const("?c1")])),
        rw!("lt-divide"; "(< (* ?x ?c0) ?c1)" => "(< ?x (/ (+ ?c1 (+ ?c0 -1)) ?c0))"
            if all(vec![is_positive_const("?c0"), const_compared("?c1", 0, false)])),
        rw!("lt-divide-negative"; "(< (* ?x ?c0) ?c1)" => "(< ?x (* (/ (* ?c1 -1) ?c0) -1))"
            if all(vec![is_positive_const("?c0"), const_compared("?c1", 0, true)])),
        rw!("ne-move-const"; "(!= (+ ?x ?c0) ?c1)" => "(!= ?x (+ ?c1 (* ?c0 -1)))"
            if all(vec![is_const("?c0"), is_const("?c1")])),
        rw!("eq-move-const"; "(== (+ ?x ?c0) ?c1)" => "(== ?x (+ ?c1 (* ?c0 -1)))"
            if all(vec![is_const("?c0"), is_const("?c1")])),
        rw!("not-lt"; "(not (< ?a ?b))" => "(< ?b (+ ?a 1))"),
        rw!("comm-ne"; "(!= ?a ?b)" => "(!= ?b ?a)"),
        rw!("comm-eq"; "(== ?a ?b)" => "(== ?b ?a)"),
        // ---- booleans ----
        rw!("comm-and"; "(and ?a ?b)" => "(and ?b ?a)"),
        rw!("comm-or"; "(or ?a ?b)" => "(or ?b ?a)"),
        rw!("and-true"; "(and ?a true)" => "?a"),
        rw!("and-false"; "(and ?a false)" => "false"),
        rw!("or-false"; "(or ?a false)" => "?a"),
        rw!("or-true"; "(or ?a true)" => "true"),
        rw!("and-self"; "(and ?a ?a)" => "?a"),
        rw!("or-self"; "(or ?a ?a)" => "?a"),
        rw!("not-not"; "(not (not ?a))" => "?a"),
        rw!("where-true"; "(where true ?a ?b)" => "?a"),
        rw!("where-false"; "(where false ?a ?b)" => "?b"),
        rw!("where-same"; "(where ?c ?a ?a)" => "?a"),
    ]
});
