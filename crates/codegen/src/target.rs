//! What the code is generated for: the dialect, and the capabilities of the device that decide which
//! optimisations apply and how a kernel's axes map to the launch (`Caps`). Codegen never asks a device
//! anything else.

/// The language a renderer writes: a C-family dialect or SPIR-V.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Portable C compiled by the system `cc`; one function per kernel, parallel over its outer loop.
    C,
    /// CUDA C compiled by NVRTC.
    Cuda,
    /// A SPIR-V compute shader for Vulkan.
    Spirv,
}

impl Dialect {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::C => "c",
            Dialect::Cuda => "cuda",
            Dialect::Spirv => "spirv",
        }
    }
}

/// What a device offers the code generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caps {
    /// Threads grouped in blocks (workgroups) that share memory and barriers.
    pub has_local: bool,
    /// Most threads per block along each dimension.
    pub max_local: [u32; 3],
    /// Most threads per block in all.
    pub max_local_total: u32,
    /// Most blocks along each dimension of a launch.
    pub max_groups: [u32; 3],
    /// Bytes of memory shared by a block.
    pub shared_bytes: u32,
    /// Threads per block of a kernel whose axes name no local dimension (its outputs are numbered
    /// flat across blocks of this size).
    pub flat_local: u32,
    /// Runs of consecutive, aligned loads and stores become vector accesses (`float4` in CUDA, `vec4`
    /// in SPIR-V; the C compiler vectorises loops itself), so an upcast of a contiguous axis pays.
    pub vector_loads: bool,
    /// 16-bit elements (f16, bf16) load eight to a vector too (CUDA); SPIR-V stores them as `u16`
    /// and keeps them scalar.
    pub vector_halves: bool,
    /// CPU threads a kernel's outermost loop is cut across (1 where the device has blocks instead).
    pub threads: u32,
    /// Threads of a block that exchange registers without memory or barriers (a CUDA warp), numbered
    /// consecutively along the block's `x` dimension; 0 where there is no such exchange (the CPU, and
    /// Vulkan, whose subgroups need not follow the invocation index).
    pub warp: u32,
    /// Threads per subgroup where the device's subgroups can shuffle but number their lanes its own
    /// way (Vulkan: `subgroupSize`, where compute shaders have shuffles and every subgroup of a block
    /// whose `x` size is a multiple of it can be launched full); 0 elsewhere. A block that is one
    /// grouped reduction along `x`, a multiple of this wide, combines by shuffles within each subgroup,
    /// whatever threads the device puts together.
    pub subgroup: u32,
    /// Kernels declare that their float operations keep NaN, infinities and signed zeros (SPIR-V float
    /// controls' `SignedZeroInfNanPreserve`, for 32-bit floats and for 64-bit ones where a kernel has
    /// them), so a driver's compiler may not fold a NaN-propagating max into a min/max instruction that
    /// drops NaN. False where nothing need be declared (C and CUDA compile without fast math) or the
    /// device cannot keep them.
    pub preserve_nan: bool,
    /// Bytes of the device's last-level cache shared by all blocks (CUDA's L2); 0 where kernels get
    /// no cache hints (the CPU, Vulkan). A buffer larger than this cannot stay cached between kernels.
    pub l2_bytes: u32,
}

impl Caps {
    /// A device without blocks (the CPU).
    pub const NONE: Caps = Caps {
        has_local: false,
        max_local: [1, 1, 1],
        max_local_total: 1,
        max_groups: [1, 1, 1],
        shared_bytes: 0,
        flat_local: 1,
        vector_loads: false,
        vector_halves: false,
        threads: 1,
        warp: 0,
        subgroup: 0,
        preserve_nan: false,
        l2_bytes: 0,
    };
}

/// Code generation target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Renderer dialect.
    pub dialect: Dialect,
    /// The device's capabilities.
    pub caps: Caps,
}

impl Target {
    /// The CPU target.
    pub const CPU: Target = Target { dialect: Dialect::C, caps: Caps::NONE };
    /// A CUDA target with the limits of every GPU since compute capability 3.0 (devices report their
    /// own).
    pub const CUDA: Target = Target {
        dialect: Dialect::Cuda,
        caps: Caps {
            has_local: true,
            max_local: [1024, 1024, 64],
            max_local_total: 1024,
            max_groups: [i32::MAX as u32, 65_535, 65_535],
            shared_bytes: 48 * 1024,
            flat_local: 256,
            vector_loads: true,
            vector_halves: true,
            threads: 1,
            warp: 32,
            subgroup: 0,
            preserve_nan: false,
            l2_bytes: 0,
        },
    };
    /// A Vulkan target with the limits every Vulkan device guarantees (devices report their own).
    pub const VULKAN: Target = Target {
        dialect: Dialect::Spirv,
        caps: Caps {
            has_local: true,
            max_local: [128, 128, 64],
            max_local_total: 128,
            max_groups: [65_535, 65_535, 65_535],
            shared_bytes: 16 * 1024,
            flat_local: 128,
            vector_loads: true,
            vector_halves: false,
            threads: 1,
            warp: 0,
            subgroup: 0,
            preserve_nan: false,
            l2_bytes: 0,
        },
    };
}
