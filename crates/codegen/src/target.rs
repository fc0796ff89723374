//! What the code is generated for: the dialect and the launch shape it implies.

/// The language a renderer writes: a C-family dialect or SPIR-V.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Portable C compiled by the system `cc`; one function per kernel, parallel over its outer loop.
    C,
    /// CUDA C compiled by NVRTC; one thread per output element.
    Cuda,
    /// A SPIR-V compute shader for Vulkan; one invocation per output element.
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

/// Code generation target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Renderer dialect.
    pub dialect: Dialect,
    /// Threads per block for GPU dialects.
    pub local_size: usize,
}

impl Target {
    /// The CPU target.
    pub const CPU: Target = Target { dialect: Dialect::C, local_size: 1 };
    /// The CUDA target.
    pub const CUDA: Target = Target { dialect: Dialect::Cuda, local_size: 256 };
    /// The Vulkan target (128 invocations per workgroup: every device allows at least 128).
    pub const VULKAN: Target = Target { dialect: Dialect::Spirv, local_size: 128 };

    /// GPU dialects flatten the output dims into one hardware index; CPU keeps nested loops.
    pub fn flattens_output(&self) -> bool {
        self.dialect != Dialect::C
    }
}
