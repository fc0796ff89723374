//! The C-family renderer: walks a linear program and prints one statement per instruction. Index
//! arithmetic and gates are printed inline as expressions; values get numbered variables.

mod dialect;

use crate::error::CodegenError;
use crate::program::Program;
use crate::target::Dialect;
use kiln_uop::{Arg, ConstValue, DType, Op, RangeKind, SpecialKind, UOp};
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

pub(crate) fn render(program: &Program, dialect: Dialect) -> Result<String, CodegenError> {
    let index = if dialect == Dialect::Cuda && program.index_fits_i32 { "int" } else { "long long" };
    let mut r = Renderer {
        dialect,
        index,
        names: HashMap::new(),
        body: String::new(),
        depth: 1,
        vars: 0,
        accs: Vec::new(),
        parallel_loop: None,
        streamed: program
            .instructions
            .iter()
            .filter(|u| u.op() == Op::DefineGlobal)
            .zip(&program.params)
            .filter(|(_, p)| p.streamed)
            .map(|(u, _)| u.clone())
            .collect(),
    };
    r.parallel_loop = (dialect == Dialect::C)
        .then(|| {
            program
                .instructions
                .iter()
                .find(|u| matches!(u.arg(), Arg::Range { kind: RangeKind::Thread | RangeKind::Global, .. }))
                .cloned()
        })
        .flatten();
    for u in &program.instructions {
        r.instruction(u)?;
    }
    let (signature, binds) = dialect.signature(program);
    let mut out = dialect.preamble(program);
    let _ = writeln!(out, "{signature}");
    for b in binds {
        let _ = writeln!(out, "  {b}");
    }
    out.push_str(&r.body);
    out.push_str("}\n");
    Ok(out)
}

struct Renderer {
    dialect: Dialect,
    index: &'static str,
    names: HashMap<UOp, String>,
    body: String,
    depth: usize,
    vars: usize,
    accs: Vec<String>,
    parallel_loop: Option<UOp>,
    /// The globals whose loads carry the evict-first hint (`Param::streamed`).
    streamed: HashSet<UOp>,
}

/// The unsigned type whose arithmetic a signed value type wraps through (32 and 64 bits; `Index`
/// arithmetic is bounded by construction and stays signed).
fn wrapping_unsigned(d: DType) -> Option<DType> {
    match d {
        DType::I32 => Some(DType::U32),
        DType::I64 => Some(DType::U64),
        _ => None,
    }
}

fn unsupported(u: &UOp, dialect: Dialect) -> CodegenError {
    CodegenError::Unsupported { op: u.op(), dtype: u.dtype(), dialect: dialect.name() }
}

impl Renderer {
    fn line(&mut self, text: &str) {
        for l in text.lines() {
            let _ = writeln!(self.body, "{}{l}", "  ".repeat(self.depth));
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.vars += 1;
        format!("{prefix}{}", self.vars - 1)
    }

    fn name(&self, u: &UOp) -> Result<String, CodegenError> {
        if let Some(n) = self.names.get(u) {
            return Ok(n.clone());
        }
        if let Some(c) = u.const_value() {
            return Ok(self.literal(u.dtype(), c));
        }
        if is_inline(u) {
            return self.expression(u);
        }
        Err(CodegenError::Malformed(format!("{} used before it was defined", u.op().name())))
    }

    fn literal(&self, dtype: DType, c: ConstValue) -> String {
        match dtype {
            d if d.is_float() => self.dialect.float_literal(d, c.as_f64()),
            DType::Bool => if c.as_i64() != 0 { "1" } else { "0" }.into(),
            DType::I64 | DType::Index => match c.as_i64() {
                i if i == i64::MIN => "(-9223372036854775807LL-1)".into(),
                i if i32::try_from(i).is_ok() => i.to_string(),
                i => format!("{i}LL"),
            },
            DType::U64 => format!("{}ULL", c.as_i64() as u64),
            DType::U32 => format!("{}u", c.as_i64() as u32),
            DType::U16 => (c.as_i64() as u16).to_string(),
            DType::U8 => (c.as_i64() as u8).to_string(),
            DType::I32 if c.as_i64() == i64::from(i32::MIN) => "(-2147483647-1)".into(),
            _ => c.as_i64().to_string(),
        }
    }

    /// The C expression computing ALU node `u` from its sources' names.
    fn expression(&self, u: &UOp) -> Result<String, CodegenError> {
        let s = u.src().iter().map(|x| self.name(x)).collect::<Result<Vec<_>, _>>()?;
        let d = u.dtype();
        let float = d.is_float();
        let math = |f: &str| format!("{}({})", self.dialect.math(f, d), s[0]);
        // Signed 32/64-bit arithmetic wraps (two's complement) like SPIR-V's: computed unsigned, so the
        // C has no undefined overflow. Narrower ints are promoted to int and cannot overflow.
        if let Some(unsigned) = wrapping_unsigned(d) {
            let ty = self.dialect.compute_type(d, self.index);
            let uty = self.dialect.compute_type(unsigned, self.index);
            let wrapped = |op: &str, a: &str, b: &str| format!("(({ty})(({uty}){a}{op}({uty}){b}))");
            match u.op() {
                Op::Neg => return Ok(wrapped("-", "0", &s[0])),
                Op::Add => return Ok(wrapped("+", &s[0], &s[1])),
                Op::Mul => return Ok(wrapped("*", &s[0], &s[1])),
                _ => {}
            }
        }
        Ok(match u.op() {
            Op::Neg if d == DType::Bool => format!("(!{})", s[0]),
            Op::Neg => format!("(-{})", s[0]),
            Op::Exp2 if float => math("exp2"),
            Op::Log2 if float => math("log2"),
            Op::Sin if float => math("sin"),
            Op::Sqrt if float => math("sqrt"),
            Op::Trunc if float => math("trunc"),
            Op::Trunc => s[0].clone(),
            Op::Add => {
                match (u.src()[1].op(), u.src()[1].src().get(1).and_then(UOp::const_int), u.src()[1].const_int()) {
                    (Op::Mul, Some(-1), _) if !float => format!("({}-{})", s[0], self.name(&u.src()[1].src()[0])?),
                    (Op::Const, _, Some(c)) if c < 0 && c != i64::MIN => format!("({}-{})", s[0], -c),
                    _ => format!("({}+{})", s[0], s[1]),
                }
            }
            Op::Mul => format!("({}*{})", s[0], s[1]),
            Op::Idiv | Op::Fdiv => format!("({}/{})", s[0], s[1]),
            Op::Mod => format!("({}%{})", s[0], s[1]),
            Op::CmpLt => format!("({}<{})", s[0], s[1]),
            Op::CmpNe => format!("({}!={})", s[0], s[1]),
            Op::CmpEq => format!("({}=={})", s[0], s[1]),
            // `||` on booleans: GCC if-converts the NaN-propagating max `(a!=a || b<a) ? a : b` into
            // vector selects where it leaves `|` of the two comparisons scalar (a row max measured 4x
            // slower on the CPU). Gates keep `&`, whose loads vectorise as they are.
            Op::Or if d == DType::Bool => format!("({}||{})", s[0], s[1]),
            Op::And => format!("({}&{})", s[0], s[1]),
            Op::Or => format!("({}|{})", s[0], s[1]),
            Op::Xor => format!("({}^{})", s[0], s[1]),
            Op::Shl => format!("({}<<{})", s[0], s[1]),
            Op::Shr => format!("({}>>{})", s[0], s[1]),
            Op::Where => format!("({}?{}:{})", s[0], s[1], s[2]),
            Op::Cast => self.cast(&u.src()[0], d, &s[0]),
            _ => return Err(unsupported(u, self.dialect)),
        })
    }

    fn cast(&self, from: &UOp, to: DType, x: &str) -> String {
        let ty = self.dialect.compute_type(to, self.index);
        match to {
            DType::Bool => format!("({x}!=0)"),
            DType::F16 | DType::BF16 => {
                let stored = self.dialect.narrow_for_store(to, &format!("(float)({x})"));
                self.dialect.widen_loaded(to, &stored)
            }
            _ if from.dtype() == to => x.to_string(),
            _ => format!("(({ty})({x}))"),
        }
    }

    fn define(&mut self, u: &UOp, expr: &str) {
        let name = self.fresh("val");
        let ty = self.dialect.compute_type(u.dtype(), self.index);
        self.line(&format!("{ty} {name} = {expr};"));
        self.names.insert(u.clone(), name);
    }

    fn instruction(&mut self, u: &UOp) -> Result<(), CodegenError> {
        match (u.op(), u.arg()) {
            (Op::DefineGlobal, Arg::Buffer { id, .. }) => {
                self.names.insert(u.clone(), format!("data{id}"));
            }
            (Op::Const, _) => {}
            (Op::Special, Arg::Special(kind)) => {
                let name = match kind {
                    SpecialKind::GroupIdx(axis) => format!("gidx{axis}"),
                    SpecialKind::LocalIdx(axis) => format!("lidx{axis}"),
                    SpecialKind::SubgroupLane => "sglane".into(),
                    SpecialKind::SubgroupId => "sgid".into(),
                };
                let decl =
                    self.dialect.special(*kind, &name, self.index).ok_or_else(|| unsupported(u, self.dialect))?;
                self.line(&decl);
                self.names.insert(u.clone(), name);
            }
            (Op::DefineLocal, Arg::Buffer { id, numel }) => {
                let name = format!("temp{id}");
                let decl = self
                    .dialect
                    .local_buffer(self.dialect.storage_type(u.dtype()), &name, *numel)
                    .ok_or_else(|| unsupported(u, self.dialect))?;
                self.line(&decl);
                self.names.insert(u.clone(), name);
            }
            (Op::Barrier, _) => {
                let barrier = self.dialect.barrier().ok_or_else(|| unsupported(u, self.dialect))?;
                self.line(barrier);
                let buffer = self.name(&u.src()[0])?;
                self.names.insert(u.clone(), buffer);
            }
            (Op::Shuffle, _) => {
                let value = self.name(&u.src()[0])?;
                let distance = self.name(&u.src()[1])?;
                let expr = self.dialect.shuffle_xor(&value, &distance).ok_or_else(|| unsupported(u, self.dialect))?;
                self.define(u, &expr);
            }
            (Op::If, _) => {
                let cond = self.name(&u.src()[0])?;
                self.line(&format!("if ({cond}) {{"));
                self.depth += 1;
            }
            (Op::EndIf, _) => {
                self.depth = self.depth.saturating_sub(1);
                self.line("}");
            }
            (Op::Range, Arg::Range { id, .. }) => {
                let name = format!("ridx{id}");
                let end = self.name(&u.src()[0])?;
                if self.parallel_loop.as_ref() == Some(u) {
                    self.line(&format!("for (long long {name} = core_start; {name} < core_end; {name}++) {{"));
                } else {
                    self.line(&format!("for ({} {name} = 0; {name} < {end}; {name}++) {{", self.index));
                }
                self.depth += 1;
                self.names.insert(u.clone(), name);
            }
            (Op::EndRange, _) => {
                self.depth = self.depth.saturating_sub(1);
                self.line("}");
            }
            (Op::Load, Arg::Lanes(n)) => {
                let buf = self.name(&u.src()[0])?;
                let idx = self.name(&u.src()[1])?;
                let ty = self.dialect.vector_type(u.dtype(), *n).ok_or_else(|| unsupported(u, self.dialect))?;
                let name = self.fresh("vec");
                let streamed = self.streamed.contains(&u.src()[0]);
                let read = self.dialect.load(u.dtype(), streamed, Some(ty), (&buf, &idx));
                match u.src().get(2) {
                    Some(gate) => {
                        let zero =
                            self.dialect.narrow_for_store(u.dtype(), &self.literal(u.dtype(), ConstValue::Int(0)));
                        let zeros = vec![zero; *n].join(", ");
                        self.line(&format!("{ty} {name} = {ty}{{{zeros}}};"));
                        self.line(&format!("if ({}) {name} = {read};", self.name(gate)?));
                    }
                    None => self.line(&format!("{ty} {name} = {read};")),
                }
                self.names.insert(u.clone(), name);
            }
            (Op::Gep, Arg::Slot(lane)) => {
                let vector = self.name(&u.src()[0])?;
                let field = self.dialect.lane(u.dtype(), &vector, *lane).ok_or_else(|| unsupported(u, self.dialect))?;
                let expr = self.dialect.widen_loaded(u.dtype(), &field);
                self.define(u, &expr);
            }
            // Only a vector store's value: the store writes its lanes.
            (Op::Vectorize, _) => {}
            (Op::Store, _) if u.src()[2].op() == Op::Vectorize => {
                let buf = self.name(&u.src()[0])?;
                let idx = self.name(&u.src()[1])?;
                let dtype = u.src()[0].dtype();
                let lanes = &u.src()[2];
                let ty =
                    self.dialect.vector_type(dtype, lanes.src().len()).ok_or_else(|| unsupported(u, self.dialect))?;
                let values = lanes
                    .src()
                    .iter()
                    .map(|l| Ok(self.dialect.narrow_for_store(dtype, &self.name(l)?)))
                    .collect::<Result<Vec<_>, CodegenError>>()?;
                let global = u.src()[0].op() == Op::DefineGlobal;
                let value = self.dialect.vector_value(ty, dtype, &values);
                let write = self.dialect.store(dtype, global, Some(ty), (&buf, &idx), &value);
                match u.src().get(3) {
                    Some(gate) => self.line(&format!("if ({}) {write}", self.name(gate)?)),
                    None => self.line(&write),
                }
            }
            (Op::Load, _) => {
                let buf = self.name(&u.src()[0])?;
                let idx = self.name(&u.src()[1])?;
                let streamed = self.streamed.contains(&u.src()[0]);
                let read = self.dialect.load(u.dtype(), streamed, None, (&buf, &idx));
                let value = self.dialect.widen_loaded(u.dtype(), &read);
                let expr = match u.src().get(2) {
                    Some(gate) => {
                        let zero = self.literal(u.dtype(), ConstValue::Int(0));
                        format!("({}?{value}:{zero})", self.name(gate)?)
                    }
                    None => value,
                };
                self.define(u, &expr);
            }
            (Op::Store, _) => {
                let buf = self.name(&u.src()[0])?;
                let idx = self.name(&u.src()[1])?;
                let value = self.name(&u.src()[2])?;
                let dtype = u.src()[0].dtype();
                let value = if dtype == DType::Bool { format!("({value}!=0)") } else { value };
                let global = u.src()[0].op() == Op::DefineGlobal;
                let value = self.dialect.narrow_for_store(dtype, &value);
                let write = self.dialect.store(dtype, global, None, (&buf, &idx), &value);
                match u.src().get(3) {
                    Some(gate) => self.line(&format!("if ({}) {write}", self.name(gate)?)),
                    None => self.line(&write),
                }
            }
            (Op::DefineAcc, _) => {
                let name = self.fresh("acc");
                let init = self.name(&u.src()[0])?;
                let ty = self.dialect.compute_type(u.dtype(), self.index);
                self.line(&format!("{ty} {name} = {init};"));
                self.names.insert(u.clone(), name.clone());
                // A compensating accumulator (second source: the one it corrects) is not read by REDUCE.
                if u.src().len() == 1 {
                    self.accs.push(name);
                }
            }
            (Op::Assign, _) => {
                let acc = self.name(&u.src()[0])?;
                let value = self.expression(&u.src()[1])?;
                self.line(&format!("{acc} = {value};"));
            }
            (Op::Reduce, _) => {
                let acc =
                    self.accs.pop().ok_or_else(|| CodegenError::Malformed("REDUCE without accumulator".into()))?;
                self.names.insert(u.clone(), acc);
            }
            (op, _) if op.is_alu() || op == Op::Cast => {
                if is_inline(u) {
                    return Ok(());
                }
                let expr = self.expression(u)?;
                self.define(u, &expr);
            }
            _ => return Err(unsupported(u, self.dialect)),
        }
        Ok(())
    }
}

/// Printed inline at each use, never stored: index arithmetic, and every comparison or logic on
/// booleans (gates, a decomposed max's NaN test), so the C compiler sees one conditional expression it
/// can turn into a vector select instead of `_Bool` temporaries.
fn is_inline(u: &UOp) -> bool {
    is_index_logic(u) || (u.dtype() == DType::Bool && u.op().is_alu())
}

/// Index arithmetic and the gates built from it.
fn is_index_logic(u: &UOp) -> bool {
    matches!(u.dtype(), DType::Index | DType::Bool)
        && match u.op() {
            Op::Const | Op::Range | Op::Special | Op::DefineVar => true,
            op if op.is_alu() => u.src().iter().all(is_index_logic),
            _ => false,
        }
}
