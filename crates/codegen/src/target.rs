//! What the code is generated for: the dialect and the launch shape it implies.

/// The C-family dialect a renderer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Portable C compiled by the system `cc`; one function per kernel, parallel over its outer loop.
    C,
    /// CUDA C compiled by NVRTC; one thread per output element.
    Cuda,
}

impl Dialect {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::C => "c",
            Dialect::Cuda => "cuda",
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

    /// GPU dialects flatten the output dims into one hardware index; CPU keeps nested loops.
    pub fn flattens_output(&self) -> bool {
        self.dialect != Dialect::C
    }
}
