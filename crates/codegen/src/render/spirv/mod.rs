//! The SPIR-V renderer: a linear program becomes a Vulkan compute shader (SPIR-V 1.3, words built with
//! `rspirv`). This file lays out the module: capabilities, the entry point and its workgroup size (the
//! program's block), one storage buffer per parameter (set 0, binding = slot; a buffer read or written
//! in 4-lane vectors gets a second variable on its binding, an array of `vec4`s), workgroup memory for
//! local buffers, the built-ins of the block and thread indices (and of subgroups, where a grouped
//! reduction shuffles), and, where the device keeps them, float controls that keep NaN, infinities and
//! signed zeros.
//!
//! Instructions are emitted by `instructions.rs`, conversions by `convert.rs`, types by `types.rs`.

mod convert;
mod instructions;
mod types;

use crate::error::CodegenError;
use crate::program::Program;
use crate::target::{Caps, Dialect};
use kiln_uop::{Op, SpecialKind, UOp};
use rspirv::binary::Assemble;
use rspirv::dr::{Builder, Operand};
use rspirv::spirv::{
    AddressingModel, BuiltIn, Capability, Decoration, ExecutionMode, ExecutionModel, FunctionControl, MemoryModel,
    StorageClass, Word,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use types::Scalar;

impl From<rspirv::dr::Error> for CodegenError {
    fn from(e: rspirv::dr::Error) -> CodegenError {
        CodegenError::Malformed(format!("SPIR-V module construction failed: {e}"))
    }
}

/// A storage buffer bound for one parameter.
struct Binding {
    var: Word,
    /// Pointer to one element (StorageBuffer class).
    elem_ptr: Word,
    storage: Scalar,
    /// The same binding seen as an array of 4-lane vectors, where the kernel reads or writes vectors.
    vectors: Option<VectorView>,
}

/// A second variable on a buffer's binding whose elements are `vec4`s of the buffer's type.
struct VectorView {
    var: Word,
    /// The vector type and a pointer to one (StorageBuffer class).
    ty: Word,
    ptr: Word,
}

/// A local (workgroup) buffer: its variable and the pointer type of one element (compute type).
struct LocalBuffer {
    var: Word,
    elem_ptr: Word,
}

/// An open loop: its blocks and its counter.
struct LoopFrame {
    header: Word,
    cont: Word,
    merge: Word,
    counter: Word,
    next: Word,
}

/// State of one module under construction.
pub(super) struct Emitter {
    b: Builder,
    /// 32 or 64: the width of `Index`.
    index_width: u32,
    capabilities: BTreeSet<Capability>,
    extensions: BTreeSet<&'static str>,
    constants: HashMap<(Scalar, u64), Word>,
    glsl: Word,
    /// SSA value of each emitted node, in its compute type.
    values: HashMap<UOp, Word>,
    /// Buffers by their `DEFINE_GLOBAL` node.
    buffers: HashMap<UOp, Binding>,
    /// Local buffers by their `DEFINE_LOCAL` node.
    locals: HashMap<UOp, LocalBuffer>,
    /// Merge blocks of the open `IF`s.
    ifs: Vec<Word>,
    /// Accumulator variables (Function storage) by their `DEFINE_ACC` node, and the stack of those whose
    /// `REDUCE` has not come yet.
    accs: HashMap<UOp, (Word, Word)>,
    acc_stack: Vec<UOp>,
    /// Float ops computed from an accumulator (decorated `NoContraction`).
    on_accumulator: HashMap<UOp, bool>,
    loops: Vec<LoopFrame>,
    /// Label of the block under construction.
    block: Word,
    /// Ids of the conversion helper functions used, emitted after the kernel.
    helpers: BTreeMap<convert::Helper, Word>,
    /// Types whose layout decorations are already written.
    decorated: HashSet<Word>,
    /// The scalar built-ins of subgroups read so far (part of the entry point's interface).
    subgroup_builtins: BTreeMap<u32, Word>,
}

pub(crate) fn render(program: &Program, caps: &Caps) -> Result<Vec<u32>, CodegenError> {
    let mut b = Builder::new();
    b.set_version(1, 3);
    let glsl = b.ext_inst_import("GLSL.std.450");
    b.memory_model(AddressingModel::Logical, MemoryModel::GLSL450);
    let mut e = Emitter {
        b,
        index_width: if program.index_fits_i32 { 32 } else { 64 },
        capabilities: BTreeSet::new(),
        extensions: BTreeSet::new(),
        constants: HashMap::new(),
        glsl,
        values: HashMap::new(),
        buffers: HashMap::new(),
        locals: HashMap::new(),
        ifs: Vec::new(),
        accs: HashMap::new(),
        acc_stack: Vec::new(),
        on_accumulator: HashMap::new(),
        loops: Vec::new(),
        block: 0,
        helpers: BTreeMap::new(),
        decorated: HashSet::new(),
        subgroup_builtins: BTreeMap::new(),
    };
    e.require(Capability::Shader);
    let interface = e.kernel(program)?;
    e.emit_helpers()?;
    // Float widths whose NaN, infinities and signed zeros the driver must keep (f16 and bf16 are
    // computed in f32).
    let preserved: Vec<u32> = if caps.preserve_nan {
        e.require(Capability::SignedZeroInfNanPreserve);
        e.extensions.insert("SPV_KHR_float_controls");
        std::iter::once(32).chain(e.capabilities.contains(&Capability::Float64).then_some(64)).collect()
    } else {
        Vec::new()
    };
    let Emitter { mut b, capabilities, extensions, subgroup_builtins, .. } = e;
    for cap in capabilities {
        b.capability(cap);
    }
    for ext in extensions {
        b.extension(ext);
    }
    let (main, group_id, local_id) = interface;
    let inputs: Vec<Word> = [group_id, local_id].into_iter().chain(subgroup_builtins.into_values()).collect();
    b.entry_point(ExecutionModel::GLCompute, main, program.name.clone(), inputs);
    b.execution_mode(main, ExecutionMode::LocalSize, program.launch.local);
    for width in preserved {
        b.execution_mode(main, ExecutionMode::SignedZeroInfNanPreserve, [width]);
    }
    Ok(b.module().assemble())
}

impl Emitter {
    fn unsupported(&self, u: &UOp) -> CodegenError {
        CodegenError::Unsupported { op: u.op(), dtype: u.dtype(), dialect: Dialect::Spirv.name() }
    }

    /// Declares the buffers, local buffers and built-ins, then emits the kernel function. Returns the
    /// function and the two built-in input variables of its interface (block id, thread id).
    fn kernel(&mut self, program: &Program) -> Result<(Word, Word, Word), CodegenError> {
        for u in &program.instructions {
            if let (Op::DefineGlobal, kiln_uop::Arg::Buffer { id, .. }) = (u.op(), u.arg()) {
                let vectors = program.instructions.iter().any(|v| {
                    v.src().first() == Some(u)
                        && ((v.op() == Op::Load && matches!(v.arg(), kiln_uop::Arg::Lanes(_)))
                            || (v.op() == Op::Store && v.src()[2].op() == Op::Vectorize))
                });
                let binding = self.buffer(u, *id, vectors)?;
                self.buffers.insert(u.clone(), binding);
            }
        }
        for u in &program.instructions {
            if let (Op::DefineLocal, kiln_uop::Arg::Buffer { numel, .. }) = (u.op(), u.arg()) {
                let ty = self.compute_ty(u.dtype(), u)?;
                let len =
                    u32::try_from(*numel).map_err(|_| CodegenError::Malformed(format!("local buffer of {numel}")))?;
                let len = self.constant_bits(Scalar::U32, u64::from(len));
                let array = self.b.type_array(ty, len);
                let ptr = self.pointer(StorageClass::Workgroup, array);
                let var = self.b.variable(ptr, None, StorageClass::Workgroup, None);
                let elem_ptr = self.pointer(StorageClass::Workgroup, ty);
                self.locals.insert(u.clone(), LocalBuffer { var, elem_ptr });
            }
        }
        for u in &program.instructions {
            if let (Op::Special, kiln_uop::Arg::Special(kind)) = (u.op(), u.arg()) {
                self.subgroup_builtin(*kind);
            }
        }
        let group_id = self.builtin(BuiltIn::WorkgroupId, "gl_WorkGroupID");
        let local_id = self.builtin(BuiltIn::LocalInvocationId, "gl_LocalInvocationID");
        let void = self.b.type_void();
        let fn_ty = self.b.type_function(void, []);
        let main = self.b.begin_function(void, None, FunctionControl::NONE, fn_ty)?;
        self.b.name(main, program.name.clone());
        self.block = self.b.begin_block(None)?;
        // Function-storage variables must open the first block.
        for u in &program.instructions {
            if u.op() == Op::DefineAcc {
                let ty = self.compute_ty(u.dtype(), u)?;
                let ptr = self.pointer(StorageClass::Function, ty);
                let var = self.b.variable(ptr, None, StorageClass::Function, None);
                self.accs.insert(u.clone(), (var, ty));
            }
        }
        for u in &program.instructions {
            self.instruction(u, group_id, local_id)?;
        }
        if !self.loops.is_empty() || !self.ifs.is_empty() {
            return Err(CodegenError::Malformed("a loop or an IF is never closed".into()));
        }
        self.b.ret()?;
        self.b.end_function()?;
        Ok((main, group_id, local_id))
    }

    /// The storage buffer of parameter `slot`: a `Block` struct holding a runtime array of elements,
    /// and with `vectors` a second variable on the same binding holding an array of `vec4`s.
    fn buffer(&mut self, u: &UOp, slot: u64, vectors: bool) -> Result<Binding, CodegenError> {
        let storage = self.storage_scalar(u.dtype(), u)?;
        let elem = self.storage_ty(storage);
        let array = self.b.type_runtime_array(elem);
        let block = self.b.type_struct([array]);
        if self.decorated.insert(array) {
            let stride = match storage {
                Scalar::Bool => 1,
                Scalar::Int { width, .. } | Scalar::Float { width } => width / 8,
            };
            self.b.decorate(array, Decoration::ArrayStride, [Operand::LiteralBit32(stride)]);
        }
        if self.decorated.insert(block) {
            self.b.decorate(block, Decoration::Block, []);
            self.b.member_decorate(block, 0, Decoration::Offset, [Operand::LiteralBit32(0)]);
        }
        let slot = u32::try_from(slot).map_err(|_| CodegenError::Malformed(format!("parameter slot {slot}")))?;
        let var = self.bound_variable(block, slot, format!("data{slot}"));
        let elem_ptr = self.pointer(StorageClass::StorageBuffer, elem);
        let vectors = if vectors {
            let stride = match storage {
                Scalar::Int { width: 32, .. } | Scalar::Float { width: 32 } => 16,
                _ => return Err(self.unsupported(u)),
            };
            let ty = self.b.type_vector(elem, 4);
            let array = self.b.type_runtime_array(ty);
            let block = self.b.type_struct([array]);
            if self.decorated.insert(array) {
                self.b.decorate(array, Decoration::ArrayStride, [Operand::LiteralBit32(stride)]);
            }
            if self.decorated.insert(block) {
                self.b.decorate(block, Decoration::Block, []);
                self.b.member_decorate(block, 0, Decoration::Offset, [Operand::LiteralBit32(0)]);
            }
            let var = self.bound_variable(block, slot, format!("data{slot}_vec4"));
            let ptr = self.pointer(StorageClass::StorageBuffer, ty);
            Some(VectorView { var, ty, ptr })
        } else {
            None
        };
        Ok(Binding { var, elem_ptr, storage, vectors })
    }

    /// A storage-buffer variable of `block` on set 0, binding `slot`.
    fn bound_variable(&mut self, block: Word, slot: u32, name: String) -> Word {
        let ptr = self.pointer(StorageClass::StorageBuffer, block);
        let var = self.b.variable(ptr, None, StorageClass::StorageBuffer, None);
        self.b.decorate(var, Decoration::DescriptorSet, [Operand::LiteralBit32(0)]);
        self.b.decorate(var, Decoration::Binding, [Operand::LiteralBit32(slot)]);
        self.b.name(var, name);
        var
    }

    /// The input variable (a `u32`) of the subgroup built-in behind `kind` (a subgroup's lane or
    /// number), declared at its first use, which comes before the kernel's function.
    pub(super) fn subgroup_builtin(&mut self, kind: SpecialKind) -> Option<Word> {
        let (which, name) = match kind {
            SpecialKind::SubgroupLane => (BuiltIn::SubgroupLocalInvocationId, "gl_SubgroupInvocationID"),
            SpecialKind::SubgroupId => (BuiltIn::SubgroupId, "gl_SubgroupID"),
            SpecialKind::GroupIdx(_) | SpecialKind::LocalIdx(_) => return None,
        };
        if let Some(&var) = self.subgroup_builtins.get(&(which as u32)) {
            return Some(var);
        }
        self.require(Capability::GroupNonUniform);
        let u32_ty = self.ty(Scalar::U32);
        let ptr = self.pointer(StorageClass::Input, u32_ty);
        let var = self.b.variable(ptr, None, StorageClass::Input, None);
        self.b.decorate(var, Decoration::BuiltIn, [Operand::BuiltIn(which)]);
        self.b.name(var, name);
        self.subgroup_builtins.insert(which as u32, var);
        Some(var)
    }

    /// An input variable decorated as the built-in `which` (a uvec3).
    fn builtin(&mut self, which: BuiltIn, name: &str) -> Word {
        let u32_ty = self.ty(Scalar::U32);
        let uvec3 = self.b.type_vector(u32_ty, 3);
        let ptr = self.pointer(StorageClass::Input, uvec3);
        let var = self.b.variable(ptr, None, StorageClass::Input, None);
        self.b.decorate(var, Decoration::BuiltIn, [Operand::BuiltIn(which)]);
        self.b.name(var, name);
        var
    }
}
