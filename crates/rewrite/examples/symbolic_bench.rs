//! Micro-benchmark of index simplification over `symbolic_corpus.txt` (typical matmul, conv, reshape
//! and pad index expressions): microseconds per expression for the greedy rules alone, for `simplify`
//! cold (memo cleared, e-graph included) and for `simplify` memoised, and the div/mod left by each.

use kiln_rewrite::{clear_memo, count_div_mod, simplify, simplify_greedy};
use kiln_uop::{RangeKind, UOp};
use std::collections::HashMap;
use std::time::Instant;

const CORPUS: &str = include_str!("symbolic_corpus.txt");
const REPEATS: u32 = 20;

/// Parses one corpus line: declarations, `;`, an s-expression.
fn parse_line(line: &str) -> Result<UOp, String> {
    let (decls, body) = line.split_once(';').ok_or("missing ';'")?;
    let mut vars = HashMap::new();
    for (id, decl) in decls.split_whitespace().enumerate() {
        let number = |s: &str| s.trim().parse::<i64>().map_err(|e| format!("{s}: {e}"));
        let var = if let Some((name, end)) = decl.split_once(':') {
            (name, UOp::range(number(end)?, u32::try_from(id).map_err(|e| e.to_string())?, RangeKind::Global))
        } else {
            let (name, range) = decl.split_once('=').ok_or(format!("bad declaration {decl}"))?;
            let (lo, hi) = range.split_once("..").ok_or(format!("bad range {range}"))?;
            (name, UOp::var(name, number(lo)?, number(hi)?))
        };
        vars.insert(var.0.to_string(), var.1);
    }
    let tokens: Vec<String> =
        body.replace('(', " ( ").replace(')', " ) ").split_whitespace().map(String::from).collect();
    let mut pos = 0;
    let expr = parse_expr(&tokens, &mut pos, &vars)?;
    if pos != tokens.len() {
        return Err(format!("trailing tokens in {body}"));
    }
    Ok(expr)
}

fn parse_expr(tokens: &[String], pos: &mut usize, vars: &HashMap<String, UOp>) -> Result<UOp, String> {
    let token = tokens.get(*pos).ok_or("unexpected end")?.clone();
    *pos += 1;
    if token != "(" {
        return match token.as_str() {
            "true" => Ok(UOp::boolean(true)),
            "false" => Ok(UOp::boolean(false)),
            t => t.parse::<i64>().map(UOp::index).or_else(|_| vars.get(t).cloned().ok_or(format!("unknown {t}"))),
        };
    }
    let op = tokens.get(*pos).ok_or("missing operator")?.clone();
    *pos += 1;
    let mut args = Vec::new();
    while tokens.get(*pos).map(String::as_str) != Some(")") {
        args.push(parse_expr(tokens, pos, vars)?);
    }
    *pos += 1;
    let binary = |f: fn(&UOp, &UOp) -> UOp| match args.as_slice() {
        [a, b] => Ok(f(a, b)),
        _ => Err(format!("{op} takes two operands")),
    };
    match op.as_str() {
        "+" => binary(UOp::add),
        "*" => binary(UOp::mul),
        "/" => binary(UOp::idiv),
        "%" => binary(UOp::modulo),
        "max" => binary(UOp::max),
        "<" => binary(UOp::lt),
        "!=" => binary(UOp::ne),
        "==" => binary(UOp::eq),
        "and" => binary(UOp::and),
        "or" => binary(UOp::or),
        "not" => match args.as_slice() {
            [a] => Ok(a.ne(&UOp::boolean(true))),
            _ => Err("not takes one operand".into()),
        },
        "where" => match args.as_slice() {
            [c, a, b] => Ok(UOp::select(c, a, b)),
            _ => Err("where takes three operands".into()),
        },
        other => Err(format!("unknown operator {other}")),
    }
}

fn micros_per_expr(exprs: &[UOp], mut f: impl FnMut(&UOp) -> UOp, before_each_pass: impl Fn()) -> f64 {
    let mut total = 0.0;
    for _ in 0..REPEATS {
        before_each_pass();
        let start = Instant::now();
        for e in exprs {
            std::hint::black_box(f(e));
        }
        total += start.elapsed().as_secs_f64();
    }
    total * 1e6 / f64::from(REPEATS) / exprs.len() as f64
}

fn main() -> Result<(), String> {
    let exprs: Vec<UOp> = CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| parse_line(l).map_err(|e| format!("{l}: {e}")))
        .collect::<Result<_, _>>()?;
    let with_div_mod = |f: &dyn Fn(&UOp) -> UOp| exprs.iter().filter(|e| count_div_mod(&f(e)) > 0).count();
    let greedy_us = micros_per_expr(&exprs, simplify_greedy, || {});
    let cold_us = micros_per_expr(&exprs, simplify, clear_memo);
    clear_memo();
    exprs.iter().for_each(|e| drop(simplify(e)));
    let memo_us = micros_per_expr(&exprs, simplify, || {});
    println!("symbolic bench: {} expressions, {REPEATS} passes each", exprs.len());
    println!("{:<28} {:>12} {:>16}", "mode", "us/expr", "left with div/mod");
    println!("{:<28} {:>12} {:>16}", "input", "-", with_div_mod(&|e| e.clone()));
    println!("{:<28} {:>12.2} {:>16}", "greedy rules only", greedy_us, with_div_mod(&simplify_greedy));
    println!("{:<28} {:>12.2} {:>16}", "simplify cold (memo cleared)", cold_us, with_div_mod(&simplify));
    println!("{:<28} {:>12.2} {:>16}", "simplify memoised", memo_us, with_div_mod(&simplify));
    if std::env::var_os("KILN_BENCH_VERBOSE").is_some() {
        for e in &exprs {
            println!("{e}  ->  {}", simplify(e));
        }
    }
    Ok(())
}
