//! SPIR-V for each instruction of the linear program, in order: block and thread indices, loops as
//! structured control flow (`OpLoopMerge`, the counter a phi), `IF` blocks and gated loads and stores
//! as selections, local memory and barriers, subgroup lanes and shuffles, accumulators as Function variables, and ALU ops
//! (GLSL.std.450 for the math functions).

use super::types::Scalar;
use super::{Emitter, LoopFrame};
use crate::error::CodegenError;
use kiln_uop::{Arg, DType, Op, SpecialKind, UOp};
use rspirv::dr::Operand;
use rspirv::spirv::{Capability, Decoration};
use rspirv::spirv::{GlslStd450Op as GLOp, LoopControl, MemorySemantics, Scope, SelectionControl, Word};

impl Emitter {
    /// The value of `u`: a constant, the current value of an accumulator, or an emitted node.
    pub(super) fn value(&mut self, u: &UOp) -> Result<Word, CodegenError> {
        if let Some(c) = u.const_value() {
            let s = self.compute_scalar(u.dtype(), u)?;
            return Ok(self.literal(s, c));
        }
        if let Some(&(var, ty)) = self.accs.get(u) {
            return Ok(self.b.load(ty, None, var, None, [])?);
        }
        self.values
            .get(u)
            .copied()
            .ok_or_else(|| CodegenError::Malformed(format!("{} used before it was defined", u.op().name())))
    }

    pub(super) fn instruction(&mut self, u: &UOp, group_id: Word, local_id: Word) -> Result<(), CodegenError> {
        match (u.op(), u.arg()) {
            (Op::DefineGlobal | Op::DefineLocal | Op::Const, _) => {}
            (Op::Special, Arg::Special(kind)) => {
                let idx = match kind {
                    SpecialKind::GroupIdx(axis) => self.hardware_index(group_id, Some(u32::from(*axis)))?,
                    SpecialKind::LocalIdx(axis) => self.hardware_index(local_id, Some(u32::from(*axis)))?,
                    SpecialKind::SubgroupLane | SpecialKind::SubgroupId => {
                        let var = self.subgroup_builtin(*kind).ok_or_else(|| self.unsupported(u))?;
                        self.hardware_index(var, None)?
                    }
                };
                self.values.insert(u.clone(), idx);
            }
            (Op::Shuffle, _) => {
                let distance = u.src()[1].const_int().ok_or_else(|| self.unsupported(u))?;
                let mask = u64::try_from(distance).map_err(|_| self.unsupported(u))?;
                let mask = self.constant_bits(Scalar::U32, mask);
                let value = self.value(&u.src()[0])?;
                let ty = self.compute_ty(u.dtype(), u)?;
                let scope = self.constant_bits(Scalar::U32, Scope::Subgroup as u64);
                self.require(Capability::GroupNonUniformShuffle);
                let v = self.b.group_non_uniform_shuffle_xor(ty, None, scope, value, mask)?;
                self.values.insert(u.clone(), v);
            }
            (Op::Range, _) => self.open_loop(u)?,
            (Op::EndRange, _) => self.close_loop()?,
            (Op::If, _) => {
                let cond = self.value(&u.src()[0])?;
                let (then, merge) = (self.b.id(), self.b.id());
                self.b.selection_merge(merge, SelectionControl::NONE)?;
                self.b.branch_conditional(cond, then, merge, [])?;
                self.block = self.b.begin_block(Some(then))?;
                self.ifs.push(merge);
            }
            (Op::EndIf, _) => {
                let merge = self.ifs.pop().ok_or_else(|| CodegenError::Malformed("END_IF without IF".into()))?;
                self.b.branch(merge)?;
                self.block = self.b.begin_block(Some(merge))?;
            }
            (Op::Barrier, _) => {
                let scope = self.constant_bits(Scalar::U32, Scope::Workgroup as u64);
                let semantics = MemorySemantics::ACQUIRE_RELEASE | MemorySemantics::WORKGROUP_MEMORY;
                let semantics = self.constant_bits(Scalar::U32, u64::from(semantics.bits()));
                self.b.control_barrier(scope, scope, semantics)?;
            }
            (Op::Load, Arg::Lanes(_)) => {
                let v = self.vector_load(u)?;
                self.values.insert(u.clone(), v);
            }
            (Op::Gep, Arg::Slot(lane)) => {
                let vector = self.value(&u.src()[0])?;
                let ty = self.compute_ty(u.dtype(), u)?;
                let lane = u32::try_from(*lane).map_err(|_| self.unsupported(u))?;
                let v = self.b.composite_extract(ty, None, vector, [lane])?;
                self.values.insert(u.clone(), v);
            }
            // Only a vector store's value: the store builds the vector from the lanes.
            (Op::Vectorize, _) => {}
            (Op::Load, _) => {
                let v = self.load(u)?;
                self.values.insert(u.clone(), v);
            }
            (Op::Store, _) => self.store(u)?,
            (Op::DefineAcc, _) => {
                let init = self.value(&u.src()[0])?;
                let (var, _) = self.accs[u];
                self.b.store(var, init, None, [])?;
                // A compensating accumulator (second source: the one it corrects) is not read by REDUCE.
                if u.src().len() == 1 {
                    self.acc_stack.push(u.clone());
                }
            }
            (Op::Assign, _) => {
                let acc = self.accs.get(&u.src()[0]).map(|&(var, _)| var);
                let var =
                    acc.ok_or_else(|| CodegenError::Malformed("ASSIGN to something not an accumulator".into()))?;
                let v = self.alu(&u.src()[1])?;
                self.b.store(var, v, None, [])?;
            }
            (Op::Reduce, _) => {
                let acc =
                    self.acc_stack.pop().ok_or_else(|| CodegenError::Malformed("REDUCE without accumulator".into()))?;
                let v = self.value(&acc)?;
                self.values.insert(u.clone(), v);
            }
            (op, _) if op.is_alu() || op == Op::Cast => {
                let v = self.alu(u)?;
                self.values.insert(u.clone(), v);
            }
            _ => return Err(self.unsupported(u)),
        }
        Ok(())
    }

    /// Component `axis` of the built-in uvec3 `var` (block or thread id), or the built-in `u32` `var`
    /// itself (subgroup lane and number) where `axis` is `None`, as an `Index`.
    fn hardware_index(&mut self, var: Word, axis: Option<u32>) -> Result<Word, CodegenError> {
        let u32_ty = self.ty(Scalar::U32);
        let mut part = match axis {
            Some(axis) => {
                let uvec3 = self.b.type_vector(u32_ty, 3);
                let id = self.b.load(uvec3, None, var, None, [])?;
                self.b.composite_extract(u32_ty, None, id, [axis])?
            }
            None => self.b.load(u32_ty, None, var, None, [])?,
        };
        if self.index_width == 64 {
            let wide_ty = self.ty(Scalar::Int { width: 64, signed: false });
            part = self.b.u_convert(wide_ty, None, part)?;
        }
        let index_ty = self.ty(Scalar::Int { width: self.index_width, signed: true });
        Ok(self.b.bitcast(index_ty, None, part)?)
    }

    fn open_loop(&mut self, range: &UOp) -> Result<(), CodegenError> {
        let end = self.value(&range.src()[0])?;
        let index = Scalar::Int { width: self.index_width, signed: true };
        let index_ty = self.ty(index);
        let zero = self.constant(index, 0.0);
        let bool_ty = self.ty(Scalar::Bool);
        let [header, body, cont, merge, counter, next] = std::array::from_fn(|_| self.b.id());
        let entry = self.block;
        self.b.branch(header)?;
        self.b.begin_block(Some(header))?;
        self.b.phi(index_ty, Some(counter), [(zero, entry), (next, cont)])?;
        let more = self.b.s_less_than(bool_ty, None, counter, end)?;
        self.b.loop_merge(merge, cont, LoopControl::NONE, [])?;
        self.b.branch_conditional(more, body, merge, [])?;
        self.block = self.b.begin_block(Some(body))?;
        self.values.insert(range.clone(), counter);
        self.loops.push(LoopFrame { header, cont, merge, counter, next });
        Ok(())
    }

    fn close_loop(&mut self) -> Result<(), CodegenError> {
        let frame = self.loops.pop().ok_or_else(|| CodegenError::Malformed("END_RANGE without a loop".into()))?;
        let index = Scalar::Int { width: self.index_width, signed: true };
        let index_ty = self.ty(index);
        let one = self.constant(index, 1.0);
        self.b.branch(frame.cont)?;
        self.b.begin_block(Some(frame.cont))?;
        self.b.i_add(index_ty, Some(frame.next), frame.counter, one)?;
        self.b.branch(frame.header)?;
        self.block = self.b.begin_block(Some(frame.merge))?;
        Ok(())
    }

    /// A pointer to element `index` of the buffer `buf`.
    /// A pointer to element `index` of a local buffer (or of the local buffer behind a barrier).
    fn local_element(&mut self, buf: &UOp, index: &UOp) -> Result<Option<Word>, CodegenError> {
        let local = if buf.op() == Op::Barrier { &buf.src()[0] } else { buf };
        let Some(l) = self.locals.get(local) else { return Ok(None) };
        let (var, elem_ptr) = (l.var, l.elem_ptr);
        let idx = self.value(index)?;
        Ok(Some(self.b.access_chain(elem_ptr, None, var, [idx])?))
    }

    fn element(&mut self, buf: &UOp, index: &UOp) -> Result<(Word, Scalar), CodegenError> {
        let idx = self.value(index)?;
        let member = self.constant(Scalar::Int { width: 32, signed: true }, 0.0);
        let binding = self.buffers.get(buf).ok_or_else(|| CodegenError::Malformed("LOAD/STORE of no buffer".into()))?;
        let (var, elem_ptr, storage) = (binding.var, binding.elem_ptr, binding.storage);
        Ok((self.b.access_chain(elem_ptr, None, var, [member, idx])?, storage))
    }

    /// A load, widened to its compute type; a gated load reads memory only where its gate holds and
    /// is zero elsewhere.
    fn load(&mut self, u: &UOp) -> Result<Word, CodegenError> {
        let Some(gate) = u.src().get(2) else {
            return self.load_element(u);
        };
        let ty = self.compute_ty(u.dtype(), u)?;
        let s = self.compute_scalar(u.dtype(), u)?;
        let zero = self.constant(s, 0.0);
        self.gated(gate, ty, zero, |e| e.load_element(u))
    }

    /// `read`'s value where `gate` holds (`read` runs only there), `zero` elsewhere: a selection and a
    /// phi of type `ty`.
    fn gated(
        &mut self,
        gate: &UOp,
        ty: Word,
        zero: Word,
        read: impl FnOnce(&mut Self) -> Result<Word, CodegenError>,
    ) -> Result<Word, CodegenError> {
        let cond = self.value(gate)?;
        let entry = self.block;
        let (then, merge) = (self.b.id(), self.b.id());
        self.b.selection_merge(merge, SelectionControl::NONE)?;
        self.b.branch_conditional(cond, then, merge, [])?;
        self.block = self.b.begin_block(Some(then))?;
        let v = read(self)?;
        let loaded_in = self.block;
        self.b.branch(merge)?;
        self.block = self.b.begin_block(Some(merge))?;
        Ok(self.b.phi(ty, None, [(v, loaded_in), (zero, entry)])?)
    }

    fn load_element(&mut self, u: &UOp) -> Result<Word, CodegenError> {
        if let Some(ptr) = self.local_element(&u.src()[0], &u.src()[1])? {
            let ty = self.compute_ty(u.dtype(), u)?;
            return Ok(self.b.load(ty, None, ptr, None, [])?);
        }
        let (ptr, storage) = self.element(&u.src()[0], &u.src()[1])?;
        let storage_ty = self.storage_ty(storage);
        // The element's compute type declares the capabilities of arithmetic on it (Int8 for i8, ...).
        self.compute_ty(u.dtype(), u)?;
        let raw = self.b.load(storage_ty, None, ptr, None, [])?;
        self.widen(u.dtype(), raw)
    }

    /// The vector type of the buffer that vector access `u` reads or writes.
    fn vector_ty(&self, u: &UOp) -> Result<Word, CodegenError> {
        let binding = self.buffers.get(&u.src()[0]).and_then(|b| b.vectors.as_ref());
        binding.map(|v| v.ty).ok_or_else(|| self.unsupported(u))
    }

    /// A pointer to the 4-lane vector of buffer `buf` that starts at element `index` (a multiple of 4).
    fn vector_element(&mut self, u: &UOp, buf: &UOp, index: &UOp) -> Result<(Word, Word), CodegenError> {
        let idx = self.value(index)?;
        let scalar = Scalar::Int { width: self.index_width, signed: true };
        let index_ty = self.ty(scalar);
        let two = self.constant(scalar, 2.0);
        let quarter = self.b.shift_right_arithmetic(index_ty, None, idx, two)?;
        let member = self.constant(Scalar::Int { width: 32, signed: true }, 0.0);
        let binding = self.buffers.get(buf).ok_or_else(|| CodegenError::Malformed("LOAD/STORE of no buffer".into()))?;
        let view = binding.vectors.as_ref().ok_or_else(|| self.unsupported(u))?;
        let (var, ty, ptr) = (view.var, view.ty, view.ptr);
        Ok((self.b.access_chain(ptr, None, var, [member, quarter])?, ty))
    }

    /// A vector load of four 32-bit lanes; gated, it reads memory only where the gate holds and is
    /// zero elsewhere.
    fn vector_load(&mut self, u: &UOp) -> Result<Word, CodegenError> {
        let read = |e: &mut Self| -> Result<Word, CodegenError> {
            let (ptr, ty) = e.vector_element(u, &u.src()[0], &u.src()[1])?;
            Ok(e.b.load(ty, None, ptr, None, [])?)
        };
        let Some(gate) = u.src().get(2) else { return read(self) };
        let ty = self.vector_ty(u)?;
        let zero = self.b.constant_null(ty);
        self.gated(gate, ty, zero, read)
    }

    /// A store; a gated store writes only where its gate holds.
    fn store(&mut self, u: &UOp) -> Result<(), CodegenError> {
        let dtype = u.src()[0].dtype();
        if u.src()[2].dtype() != dtype {
            return Err(CodegenError::Malformed(format!("store of {} into a {dtype} buffer", u.src()[2].dtype())));
        }
        let merge = match u.src().get(3) {
            Some(gate) => {
                let cond = self.value(gate)?;
                let (then, merge) = (self.b.id(), self.b.id());
                self.b.selection_merge(merge, SelectionControl::NONE)?;
                self.b.branch_conditional(cond, then, merge, [])?;
                self.block = self.b.begin_block(Some(then))?;
                Some(merge)
            }
            None => None,
        };
        if u.src()[2].op() == Op::Vectorize {
            let lanes = u.src()[2].src().iter().map(|l| self.value(l)).collect::<Result<Vec<_>, _>>()?;
            let (ptr, ty) = self.vector_element(u, &u.src()[0], &u.src()[1])?;
            let vector = self.b.composite_construct(ty, None, lanes)?;
            self.b.store(ptr, vector, None, [])?;
        } else if let Some(ptr) = self.local_element(&u.src()[0], &u.src()[1])? {
            let v = self.value(&u.src()[2])?;
            self.b.store(ptr, v, None, [])?;
        } else {
            let v = self.value(&u.src()[2])?;
            let (ptr, _) = self.element(&u.src()[0], &u.src()[1])?;
            let stored = self.narrow(dtype, v)?;
            self.b.store(ptr, stored, None, [])?;
        }
        if let Some(merge) = merge {
            self.b.branch(merge)?;
            self.block = self.b.begin_block(Some(merge))?;
        }
        Ok(())
    }

    /// The GLSL.std.450 function `op` of `x`.
    fn glsl(&mut self, ty: Word, op: GLOp, args: &[Word]) -> Result<Word, CodegenError> {
        let operands = args.iter().map(|&a| Operand::IdRef(a));
        Ok(self.b.ext_inst(ty, None, self.glsl, op as u32, operands)?)
    }

    /// The value of ALU (or cast) node `u` from its sources' values.
    pub(super) fn alu(&mut self, u: &UOp) -> Result<Word, CodegenError> {
        let s = u.src().iter().map(|x| self.value(x)).collect::<Result<Vec<_>, _>>()?;
        if u.op() == Op::Cast {
            return self.cast(&u.src()[0], u.dtype(), s[0]);
        }
        let d = u.dtype();
        let ty = self.compute_ty(d, u)?;
        let bool_ty = self.ty(Scalar::Bool);
        let (float, boolean) = (d.is_float(), d == DType::Bool);
        let operand = u.src()[0].dtype();
        let signed = operand.is_signed_int();
        let b = &mut self.b;
        let v = match u.op() {
            Op::Neg if boolean => b.logical_not(ty, None, s[0])?,
            Op::Neg if float => b.f_negate(ty, None, s[0])?,
            Op::Neg => b.s_negate(ty, None, s[0])?,
            Op::Exp2 | Op::Log2 | Op::Sin if d == DType::F64 => return Err(self.unsupported(u)),
            Op::Exp2 if float => self.glsl(ty, GLOp::Exp2, &s)?,
            Op::Log2 if float => self.glsl(ty, GLOp::Log2, &s)?,
            Op::Sin if float => self.glsl(ty, GLOp::Sin, &s)?,
            Op::Sqrt if float => self.glsl(ty, GLOp::Sqrt, &s)?,
            Op::Trunc if float => self.glsl(ty, GLOp::Trunc, &s)?,
            Op::Trunc if !boolean => s[0],
            Op::Add if boolean => b.logical_or(ty, None, s[0], s[1])?,
            Op::Add if float => b.f_add(ty, None, s[0], s[1])?,
            Op::Add => b.i_add(ty, None, s[0], s[1])?,
            Op::Mul if boolean => b.logical_and(ty, None, s[0], s[1])?,
            Op::Mul if float => b.f_mul(ty, None, s[0], s[1])?,
            Op::Mul => b.i_mul(ty, None, s[0], s[1])?,
            Op::Fdiv if float => b.f_div(ty, None, s[0], s[1])?,
            Op::Idiv if !float && !boolean && signed => b.s_div(ty, None, s[0], s[1])?,
            Op::Idiv if !float && !boolean => b.u_div(ty, None, s[0], s[1])?,
            Op::Mod if !float && !boolean && signed => b.s_rem(ty, None, s[0], s[1])?,
            Op::Mod if !float && !boolean => b.u_mod(ty, None, s[0], s[1])?,
            Op::CmpLt if operand == DType::Bool => {
                let not_a = b.logical_not(bool_ty, None, s[0])?;
                b.logical_and(bool_ty, None, not_a, s[1])?
            }
            Op::CmpLt if operand.is_float() => b.f_ord_less_than(bool_ty, None, s[0], s[1])?,
            Op::CmpLt if signed => b.s_less_than(bool_ty, None, s[0], s[1])?,
            Op::CmpLt => b.u_less_than(bool_ty, None, s[0], s[1])?,
            Op::CmpNe if operand == DType::Bool => b.logical_not_equal(bool_ty, None, s[0], s[1])?,
            // A float unequal to itself is the NaN test (a decomposed max's): `OpIsNan`, which NVIDIA's
            // Vulkan driver keeps where it folds `x != x` to false (on devices without float controls).
            Op::CmpNe if operand.is_float() && u.src()[0] == u.src()[1] => b.is_nan(bool_ty, None, s[0])?,
            Op::CmpNe if operand.is_float() => b.f_unord_not_equal(bool_ty, None, s[0], s[1])?,
            Op::CmpNe => b.i_not_equal(bool_ty, None, s[0], s[1])?,
            Op::CmpEq if operand == DType::Bool => b.logical_equal(bool_ty, None, s[0], s[1])?,
            Op::CmpEq if operand.is_float() => b.f_ord_equal(bool_ty, None, s[0], s[1])?,
            Op::CmpEq => b.i_equal(bool_ty, None, s[0], s[1])?,
            Op::And if boolean => b.logical_and(ty, None, s[0], s[1])?,
            Op::Or if boolean => b.logical_or(ty, None, s[0], s[1])?,
            Op::Xor if boolean => b.logical_not_equal(ty, None, s[0], s[1])?,
            Op::And if !float => b.bitwise_and(ty, None, s[0], s[1])?,
            Op::Or if !float => b.bitwise_or(ty, None, s[0], s[1])?,
            Op::Xor if !float => b.bitwise_xor(ty, None, s[0], s[1])?,
            Op::Shl if !float && !boolean => b.shift_left_logical(ty, None, s[0], s[1])?,
            Op::Shr if !float && !boolean && signed => b.shift_right_arithmetic(ty, None, s[0], s[1])?,
            Op::Shr if !float && !boolean => b.shift_right_logical(ty, None, s[0], s[1])?,
            Op::Where => b.select(ty, None, s[0], s[1], s[2])?,
            _ => return Err(self.unsupported(u)),
        };
        // Float arithmetic on an accumulator (a sum and its Kahan compensation) must run as written:
        // `NoContraction` forbids fusing and the algebraic rewrites (Mesa's `exact`) that would cancel
        // `(t - acc) - y` to zero.
        if float && matches!(u.op(), Op::Add | Op::Mul) && self.touches_accumulator(u) {
            self.b.decorate(v, Decoration::NoContraction, []);
        }
        Ok(v)
    }

    /// Whether `u` reads an accumulator directly or through arithmetic that does (cached).
    fn touches_accumulator(&mut self, u: &UOp) -> bool {
        if let Some(&t) = self.on_accumulator.get(u) {
            return t;
        }
        let t = u.src().iter().any(|s| s.op() == Op::DefineAcc || self.on_accumulator.get(s).copied().unwrap_or(false));
        self.on_accumulator.insert(u.clone(), t);
        t
    }
}
