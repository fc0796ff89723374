//! Errors of devices and execution.

/// Why a device operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The device is not present or cannot be opened.
    #[error("device {device} is unavailable: {reason}")]
    Unavailable {
        /// Device name.
        device: String,
        /// Why.
        reason: String,
    },
    /// An allocation the device cannot satisfy.
    #[error("out of memory on {device}: cannot allocate {bytes} bytes ({detail})")]
    OutOfMemory {
        /// Device name.
        device: String,
        /// Requested size.
        bytes: usize,
        /// The device's own message.
        detail: String,
    },
    /// A copy whose size does not match the buffer.
    #[error("copy of {given} bytes into or out of a buffer of {expected} bytes")]
    SizeMismatch {
        /// Bytes in the buffer.
        expected: usize,
        /// Bytes offered.
        given: usize,
    },
    /// A launch with a different number of buffers than the kernel has parameters.
    #[error("kernel {kernel} takes {expected} buffers, {given} given")]
    ArgumentCount {
        /// Kernel name.
        kernel: String,
        /// Its parameter count.
        expected: usize,
        /// Buffers passed.
        given: usize,
    },
    /// The device compiler rejected a kernel.
    #[error("kernel {name} failed to compile:\n{log}")]
    Compile {
        /// Kernel name.
        name: String,
        /// Compiler output.
        log: String,
    },
    /// A launch or device call failed.
    #[error("{device}: {what} failed: {detail}")]
    Device {
        /// Device name.
        device: String,
        /// The call.
        what: String,
        /// The device's message.
        detail: String,
    },
    /// Code generation failed.
    #[error(transparent)]
    Codegen(#[from] kiln_codegen::CodegenError),
    /// A captured graph was replayed with arguments it cannot take.
    #[error("graph replay: {0}")]
    Replay(String),
    /// A schedule referenced a buffer that does not exist.
    #[error("schedule reads buffer {0}, which is not bound")]
    MissingBuffer(u64),
    /// Filesystem trouble in the kernel cache.
    #[error("kernel cache at {path}: {source}")]
    Cache {
        /// Path involved.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
