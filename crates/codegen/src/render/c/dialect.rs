//! Dialect hooks of the C-family renderer: type names, literals, conversions of 16-bit floats, the
//! kernel signature and hardware indices. Everything that differs between C and CUDA C lives here.

use crate::program::Program;
use crate::target::Dialect;
use kiln_uop::{Arg, DType, Op, SpecialKind};

/// Helpers for 16-bit floats in portable C: storage is `unsigned short`, arithmetic is `float`.
/// `exp2` of a float without a libm call, so loops over it vectorise: 2^n by the exponent bits times a
/// degree-6 polynomial of the fraction in [-0.5, 0.5] (at most 9.7e-8 relative error against f64 over
/// [-126, 128); NaN stays NaN, overflow is inf, results below 2^-126 are 0).
const C_EXP2F: &str = "\
static inline float kiln_exp2f(float x) {
  float c = x < -127.0f ? -127.0f : (x > 128.0f ? 128.0f : x);
  c = (x != x) ? 0.0f : c;
  float n = rintf(c), f = c - n, p = 1.535336188319500e-4f;
  p = p * f + 1.339887440266574e-3f;
  p = p * f + 9.618437357674640e-3f;
  p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f;
  p = p * f + 6.931472028550421e-1f;
  p = p * f + 1.0f;
  int e = ((int)n + 127) << 23;
  float s;
  __builtin_memcpy(&s, &e, 4);
  float r = (n == 128.0f) ? (p * 2.0f) * 1.7014118346046923e38f : p * s;
  return (x != x) ? x : r;
}
";

const C_HALF_HELPERS: &str = "\
static inline float kiln_f16_to_f32(unsigned short h) {
  unsigned int sign = (unsigned int)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
  if (exp == 0x1fu) bits = sign | 0x7f800000u | (man << 13);
  else if (exp != 0) bits = sign | ((exp + 112u) << 23) | (man << 13);
  else if (man == 0) bits = sign;
  else { exp = 113u; while (!(man & 0x400u)) { man <<= 1; exp--; } bits = sign | (exp << 23) | ((man & 0x3ffu) << 13); }
  float f; __builtin_memcpy(&f, &bits, 4); return f;
}
static inline unsigned short kiln_f32_to_f16(float f) {
  unsigned int x; __builtin_memcpy(&x, &f, 4);
  unsigned int sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
  if (exp == 0xffu) return (unsigned short)(sign | 0x7c00u | (man ? 0x200u : 0u));
  int e = (int)exp - 112;
  if (e >= 0x1f) return (unsigned short)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (unsigned short)sign;
    man |= 0x800000u; unsigned int shift = (unsigned int)(14 - e), half = man >> shift, rem = man & ((1u << shift) - 1u), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) half++;
    return (unsigned short)(sign | half);
  }
  unsigned int h = sign | ((unsigned int)e << 10) | (man >> 13), rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
  return (unsigned short)h;
}
static inline float kiln_bf16_to_f32(unsigned short h) { unsigned int x = (unsigned int)h << 16; float f; __builtin_memcpy(&f, &x, 4); return f; }
static inline unsigned short kiln_f32_to_bf16(float f) {
  unsigned int x; __builtin_memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((x >> 16) | 0x40u);
  return (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
";

/// The first lines of every CUDA kernel, on sm_90 and later: let the grids that depend on this one
/// launch as soon as all of its blocks have started (`griddepcontrol.launch_dependents`; their blocks
/// then sit in the same wait), then wait until the grids this one depends on have finished and their
/// writes are visible (`griddepcontrol.wait`). Both do nothing unless the launch came through a CUDA
/// graph's programmatic edge, which the CUDA device adds only when it compiles for sm_90 or later.
/// Triggering before the wait is safe, as every dependant waits for this grid's completion itself.
const CUDA_DEPENDENT_LAUNCH: &str = "\
#if __CUDA_ARCH__ >= 900
asm volatile(\"griddepcontrol.launch_dependents;\");
asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");
#endif";

impl Dialect {
    /// Type of a value held in a register (16-bit floats compute as `float`).
    pub(crate) fn compute_type(self, dtype: DType, index: &'static str) -> &'static str {
        match dtype {
            DType::F16 | DType::BF16 => "float",
            DType::Bool => match self {
                Dialect::Cuda => "bool",
                _ => "_Bool",
            },
            DType::Index => index,
            other => self.storage_type(other),
        }
    }

    /// Type of an element in a buffer.
    pub(crate) fn storage_type(self, dtype: DType) -> &'static str {
        match (self, dtype) {
            (Dialect::Cuda, DType::F16) => "half",
            (Dialect::Cuda, DType::BF16) => "__nv_bfloat16",
            (Dialect::Cuda, DType::Bool) => "bool",
            (_, DType::F16 | DType::BF16) => "unsigned short",
            (_, DType::Bool | DType::U8) => "unsigned char",
            (_, DType::I8) => "signed char",
            (_, DType::I16) => "short",
            (_, DType::U16) => "unsigned short",
            (_, DType::I32) => "int",
            (_, DType::U32) => "unsigned int",
            (_, DType::I64 | DType::Index) => "long long",
            (_, DType::U64) => "unsigned long long",
            (_, DType::F32) => "float",
            (_, DType::F64) => "double",
            (_, DType::Void) => "void",
        }
    }

    /// Converts a loaded element to its compute type.
    pub(crate) fn widen_loaded(self, dtype: DType, expr: &str) -> String {
        match (self, dtype) {
            (Dialect::C, DType::F16) => format!("kiln_f16_to_f32({expr})"),
            (Dialect::C, DType::BF16) => format!("kiln_bf16_to_f32({expr})"),
            (Dialect::Cuda, DType::F16) => format!("__half2float({expr})"),
            (Dialect::Cuda, DType::BF16) => format!("__bfloat162float({expr})"),
            _ => expr.to_string(),
        }
    }

    /// The vector type of `lanes` elements of `dtype` (CUDA only): the built-in 16-byte ones for
    /// 32-bit elements (lanes `.x` to `.w`), the preamble's aligned structs of eight or four f16 or
    /// bf16 (lanes `.v[0]` on).
    pub(crate) fn vector_type(self, dtype: DType, lanes: usize) -> Option<&'static str> {
        if self != Dialect::Cuda {
            return None;
        }
        match (dtype, lanes) {
            (DType::F32, 4) => Some("float4"),
            (DType::I32, 4) => Some("int4"),
            (DType::U32, 4) => Some("uint4"),
            (DType::F16, 8) => Some("kiln_half8"),
            (DType::BF16, 8) => Some("kiln_bfloat8"),
            (DType::F16, 4) => Some("kiln_half4"),
            (DType::BF16, 4) => Some("kiln_bfloat4"),
            _ => None,
        }
    }

    /// Lane `lane` of the vector `name` of `dtype`.
    pub(crate) fn lane(self, dtype: DType, name: &str, lane: usize) -> Option<String> {
        match dtype {
            DType::F16 | DType::BF16 => Some(format!("{name}.v[{lane}]")),
            _ => ["x", "y", "z", "w"].get(lane).map(|field| format!("{name}.{field}")),
        }
    }

    /// A vector of `dtype` built from its lanes' values.
    pub(crate) fn vector_value(self, ty: &str, dtype: DType, lanes: &[String]) -> String {
        let lanes = lanes.join(", ");
        match dtype {
            DType::F16 | DType::BF16 => format!("{ty}{{{{{lanes}}}}}"),
            _ => format!("{ty}{{{lanes}}}"),
        }
    }

    /// Whether an access of `element`s that asks for it (`wanted`) carries the evict-first hint: CUDA's
    /// `__ldcs`/`__stcs` take 32-bit elements and their vectors.
    fn evict_first(self, element: DType, wanted: bool) -> bool {
        self == Dialect::Cuda && wanted && matches!(element, DType::F32 | DType::I32 | DType::U32)
    }

    /// The expression reading `buf[idx]`, or with `vector` (its type) the vector at `buf + idx`. A
    /// streamed buffer (`Param::streamed`) is read with the evict-first hint where it exists (`__ldcs`).
    pub(crate) fn load(self, element: DType, streamed: bool, vector: Option<&str>, place: (&str, &str)) -> String {
        let (buf, idx) = place;
        match (vector, self.evict_first(element, streamed)) {
            (None, false) => format!("{buf}[{idx}]"),
            (None, true) => format!("__ldcs(&{buf}[{idx}])"),
            (Some(ty), false) => format!("*((const {ty}*)({buf}+{idx}))"),
            (Some(ty), true) => format!("__ldcs((const {ty}*)({buf}+{idx}))"),
        }
    }

    /// The statement storing `value` to `buf[idx]` (a global buffer where `global`, else local memory),
    /// or with `vector` (its type) the vector at `buf + idx`. CUDA stores 32-bit elements and their
    /// vectors to global buffers with the evict-first hint (`__stcs`): a kernel writes its outputs once
    /// and never reads them back, so they should not push its inputs out of L2 (measured on the H200:
    /// `a*b+c` over 2^26 f32, 4310 -> 4343 GB/s).
    pub(crate) fn store(
        self,
        element: DType,
        global: bool,
        vector: Option<&str>,
        place: (&str, &str),
        value: &str,
    ) -> String {
        let (buf, idx) = place;
        match (vector, self.evict_first(element, global)) {
            (None, false) => format!("{buf}[{idx}] = {value};"),
            (None, true) => format!("__stcs(&{buf}[{idx}], {value});"),
            (Some(ty), false) => format!("*(({ty}*)({buf}+{idx})) = {value};"),
            (Some(ty), true) => format!("__stcs(({ty}*)({buf}+{idx}), {value});"),
        }
    }

    /// Converts a computed value to the element type of a buffer.
    pub(crate) fn narrow_for_store(self, dtype: DType, expr: &str) -> String {
        match (self, dtype) {
            (Dialect::C, DType::F16) => format!("kiln_f32_to_f16({expr})"),
            (Dialect::C, DType::BF16) => format!("kiln_f32_to_bf16({expr})"),
            (Dialect::Cuda, DType::F16) => format!("__float2half({expr})"),
            (Dialect::Cuda, DType::BF16) => format!("__float2bfloat16({expr})"),
            _ => expr.to_string(),
        }
    }

    /// A float literal of `dtype`'s compute type.
    pub(crate) fn float_literal(self, dtype: DType, v: f64) -> String {
        let single = dtype != DType::F64;
        if v.is_nan() {
            return match self {
                Dialect::Cuda => {
                    if single { "__int_as_float(0x7fc00000)" } else { "__longlong_as_double(0x7ff8000000000000LL)" }
                        .into()
                }
                _ => "NAN".into(),
            };
        }
        if v.is_infinite() {
            let inf = match (self, single) {
                (Dialect::Cuda, true) => "__int_as_float(0x7f800000)",
                (Dialect::Cuda, false) => "__longlong_as_double(0x7ff0000000000000LL)",
                _ => "INFINITY",
            };
            return if v < 0.0 { format!("(-{inf})") } else { inf.into() };
        }
        if single {
            format!("{:?}f", v as f32)
        } else {
            format!("{v:?}")
        }
    }

    /// Text before the kernel: includes and helpers the program needs.
    pub(crate) fn preamble(self, program: &Program) -> String {
        let uses = |d: DType| {
            program.instructions.iter().any(|u| u.dtype() == d) || program.params.iter().any(|p| p.dtype == d)
        };
        let sixteen = uses(DType::F16) || uses(DType::BF16);
        match self {
            Dialect::Cuda => {
                let mut s = String::new();
                if uses(DType::F16) {
                    s.push_str("#include <cuda_fp16.h>\n");
                }
                if uses(DType::BF16) {
                    s.push_str("#include <cuda_bf16.h>\n");
                }
                let vectors = |d: DType, n: usize| {
                    program.instructions.iter().any(|u| {
                        (u.op() == Op::Load && u.dtype() == d && *u.arg() == Arg::Lanes(n))
                            || (u.op() == Op::Vectorize && u.dtype() == d && u.src().len() == n)
                    })
                };
                for (d, name, element) in
                    [(DType::F16, "kiln_half", "half"), (DType::BF16, "kiln_bfloat", "__nv_bfloat16")]
                {
                    for n in [8, 4] {
                        if vectors(d, n) {
                            let align = n * 2;
                            s.push_str(&format!("struct __align__({align}) {name}{n} {{ {element} v[{n}]; }};\n"));
                        }
                    }
                }
                s
            }
            _ => {
                let exp2f = program.instructions.iter().any(|u| u.op() == Op::Exp2 && u.dtype() != DType::F64);
                format!(
                    "#include <math.h>\n{}{}",
                    if sixteen { C_HALF_HELPERS } else { "" },
                    if exp2f { C_EXP2F } else { "" }
                )
            }
        }
    }

    /// The kernel's opening line(s); the C dialect binds its parameters from a pointer array.
    pub(crate) fn signature(self, program: &Program) -> (String, Vec<String>) {
        match self {
            Dialect::Cuda => {
                let params: Vec<String> = program
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let c = if p.written { "" } else { "const " };
                        format!("{c}{}* __restrict__ data{i}", self.storage_type(p.dtype))
                    })
                    .collect();
                (
                    format!(
                        "extern \"C\" __global__ void __launch_bounds__({}) {}({}) {{",
                        program.launch.threads_per_block(),
                        program.name,
                        params.join(", ")
                    ),
                    CUDA_DEPENDENT_LAUNCH.lines().map(str::to_string).collect(),
                )
            }
            _ => {
                let binds = program
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let t = self.storage_type(p.dtype);
                        let c = if p.written { "" } else { "const " };
                        format!("{c}{t}* restrict data{i} = ({c}{t}*)bufs[{i}];")
                    })
                    .collect();
                (
                    format!("void {}(void** restrict bufs, long long core_start, long long core_end) {{", program.name),
                    binds,
                )
            }
        }
    }

    /// Declaration of a hardware index (GPU dialects): a block or thread index along an axis.
    pub(crate) fn special(self, kind: SpecialKind, name: &str, index: &str) -> Option<String> {
        const AXES: [&str; 3] = ["x", "y", "z"];
        match (self, kind) {
            (Dialect::Cuda, SpecialKind::GroupIdx(axis)) => {
                Some(format!("{index} {name} = ({index})blockIdx.{};", AXES.get(usize::from(axis))?))
            }
            (Dialect::Cuda, SpecialKind::LocalIdx(axis)) => {
                Some(format!("{index} {name} = ({index})threadIdx.{};", AXES.get(usize::from(axis))?))
            }
            _ => None,
        }
    }

    /// Declaration of memory shared by a block (GPU dialects).
    pub(crate) fn local_buffer(self, storage: &str, name: &str, numel: usize) -> Option<String> {
        (self == Dialect::Cuda).then(|| format!("__shared__ {storage} {name}[{numel}];"))
    }

    /// A block-wide barrier over local memory (GPU dialects).
    pub(crate) fn barrier(self) -> Option<&'static str> {
        (self == Dialect::Cuda).then_some("__syncthreads();")
    }

    /// The value `value` of the warp's lane `lane ^ distance` (CUDA; the whole warp takes part).
    pub(crate) fn shuffle_xor(self, value: &str, distance: &str) -> Option<String> {
        (self == Dialect::Cuda).then(|| format!("__shfl_xor_sync(0xffffffffu, {value}, {distance})"))
    }

    /// Name of a float math function for the compute type of `dtype`.
    pub(crate) fn math(self, name: &str, dtype: DType) -> String {
        if dtype == DType::F64 {
            name.to_string()
        } else if self == Dialect::C && name == "exp2" {
            "kiln_exp2f".into()
        } else {
            format!("{name}f")
        }
    }
}
