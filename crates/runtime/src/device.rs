//! The `Device` interface every backend implements, and `Buffer`, an owned allocation on a device.
//!
//! The interface is small: alloc, free, copy in/out, device-to-device copy, compile, launch (one, a
//! batch, or a captured graph), synchronize, and a timer around a whole call. Devices that are not present report themselves
//! unavailable at construction; they never panic.

use crate::error::RuntimeError;
use crate::graph::{DeviceGraph, Launch};
use crate::timer::Timer;
use kiln_codegen::{Program, Source, Target};
use std::any::Any;
use std::sync::Arc;

/// An opaque device allocation handle (a pointer on CPU and CUDA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RawBuffer(pub u64);

/// A compiled kernel; each device downcasts to its own type.
pub type CompiledKernel = Arc<dyn Any + Send + Sync>;

/// A compute device.
pub trait Device: Send + Sync {
    /// Name as shown in logs, e.g. `CPU` or `CUDA:0 (NVIDIA H100)`.
    fn name(&self) -> String;
    /// What code generation targets for this device.
    fn target(&self) -> Target;
    /// Allocates `bytes` (zeroed is not promised).
    fn alloc(&self, bytes: usize) -> Result<RawBuffer, RuntimeError>;
    /// Frees an allocation made by this device.
    fn free(&self, buffer: RawBuffer, bytes: usize);
    /// Copies host bytes into the buffer.
    fn copy_in(&self, dst: RawBuffer, src: &[u8]) -> Result<(), RuntimeError>;
    /// Copies the buffer into host bytes.
    fn copy_out(&self, src: RawBuffer, dst: &mut [u8]) -> Result<(), RuntimeError>;
    /// Queues a copy of the first `bytes` of `src` into `dst` with the device's own copy (memcpy, a copy
    /// command), ordered after earlier launches like a launch is.
    fn copy_buffer(&self, dst: RawBuffer, src: RawBuffer, bytes: usize) -> Result<(), RuntimeError>;
    /// Compiles rendered source for `program` (each device takes the kind of [`Source`] its target
    /// renders, and rejects the other with [`RuntimeError::Compile`]).
    fn compile(&self, program: &Program, source: &Source) -> Result<CompiledKernel, RuntimeError>;
    /// Launches a compiled kernel on `args` (one per parameter slot); with `timed`, waits for it and
    /// returns its device time in seconds.
    fn launch(
        &self,
        kernel: &CompiledKernel,
        program: &Program,
        args: &[RawBuffer],
        timed: bool,
    ) -> Result<Option<f64>, RuntimeError>;
    /// Queues `launches` in order, untimed. Devices that can submit a batch at once (one command buffer)
    /// override this; the default launches one by one.
    fn launch_batch(&self, launches: &[Launch]) -> Result<(), RuntimeError> {
        for l in launches {
            self.launch(&l.kernel, &l.program, &l.args, false)?;
        }
        Ok(())
    }
    /// Captures `launches` (with `deps[i]` the earlier launches launch `i` must wait for) as the device's
    /// own replayable graph, or `None` where the device has none (then the launches replay through
    /// [`Device::launch_batch`]).
    fn capture(&self, launches: &[Launch], deps: &[Vec<usize>]) -> Result<Option<Box<dyn DeviceGraph>>, RuntimeError> {
        let _ = (launches, deps);
        Ok(None)
    }
    /// Waits for all queued work.
    fn synchronize(&self) -> Result<(), RuntimeError>;
    /// Called once at process exit while the device is still open (see [`crate::close_at_exit`]):
    /// waits for queued work and saves what the device keeps on disk. The default waits.
    fn close_at_exit(&self) {
        if let Err(e) = self.synchronize() {
            tracing::warn!("{}: waiting for queued work at exit failed: {e}", self.name());
        }
    }
    /// Starts a timer that marks the point after all work queued so far. The default waits for the
    /// device and reads the host clock; devices with queue timers mark the queue instead and do not wait.
    fn start_timer(&self) -> Result<Timer, RuntimeError> {
        self.synchronize()?;
        Ok(Timer::Host(std::time::Instant::now()))
    }
    /// Marks the point after all work queued since `timer` started, waits for it, and returns the
    /// seconds between the two marks.
    fn stop_timer(&self, timer: Timer) -> Result<f64, RuntimeError> {
        self.synchronize()?;
        match timer {
            Timer::Host(start) => Ok(start.elapsed().as_secs_f64()),
            Timer::Device(_) => Err(RuntimeError::Device {
                device: self.name(),
                what: "stop_timer".into(),
                detail: "the timer was started by another device".into(),
            }),
        }
    }
}

/// Checks that a device-to-device copy of `bytes` fits both buffers (`size_of` gives a buffer's size).
pub fn check_copy(
    dst: RawBuffer,
    src: RawBuffer,
    bytes: usize,
    size_of: impl Fn(RawBuffer) -> Result<usize, RuntimeError>,
) -> Result<(), RuntimeError> {
    let smaller = size_of(dst)?.min(size_of(src)?);
    if bytes > smaller {
        return Err(RuntimeError::SizeMismatch { expected: smaller, given: bytes });
    }
    Ok(())
}

/// Checks that `args` bind exactly the parameters of `program`, each with a buffer large enough
/// (`size_of` gives a buffer's size in bytes). Every device calls it before a launch: a kernel handed a
/// missing or short buffer would read or write out of bounds.
pub fn check_launch_args(
    program: &Program,
    args: &[RawBuffer],
    size_of: impl Fn(RawBuffer) -> Result<usize, RuntimeError>,
) -> Result<(), RuntimeError> {
    if args.len() != program.params.len() {
        return Err(RuntimeError::ArgumentCount {
            kernel: program.name.clone(),
            expected: program.params.len(),
            given: args.len(),
        });
    }
    for (arg, param) in args.iter().zip(&program.params) {
        let (have, need) = (size_of(*arg)?, param.numel * param.dtype.size());
        if have < need {
            return Err(RuntimeError::SizeMismatch { expected: need, given: have });
        }
    }
    Ok(())
}

/// The text of a C-family `source`, or a compile error naming `device` and the kind it got instead.
pub fn source_text<'a>(program: &Program, source: &'a Source, device: &str) -> Result<&'a str, RuntimeError> {
    source.text().ok_or_else(|| RuntimeError::Compile {
        name: program.name.clone(),
        log: format!("{device} compiles C-family text, but was given {}", source.kind()),
    })
}

/// An owned allocation; freed when dropped.
pub struct Buffer {
    device: Arc<dyn Device>,
    raw: RawBuffer,
    bytes: usize,
}

impl Buffer {
    /// Allocates `bytes` on `device`.
    pub fn alloc(device: &Arc<dyn Device>, bytes: usize) -> Result<Buffer, RuntimeError> {
        let raw = device.alloc(bytes)?;
        LIVE_BUFFERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Buffer { device: Arc::clone(device), raw, bytes })
    }
    /// The device handle.
    pub fn raw(&self) -> RawBuffer {
        self.raw
    }
    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// The device it lives on.
    pub fn device(&self) -> &Arc<dyn Device> {
        &self.device
    }
    /// Copies `data` (exactly `bytes()` long) in.
    pub fn copy_in(&self, data: &[u8]) -> Result<(), RuntimeError> {
        if data.len() != self.bytes {
            return Err(RuntimeError::SizeMismatch { expected: self.bytes, given: data.len() });
        }
        self.device.copy_in(self.raw, data)
    }
    /// Copies the contents out.
    pub fn to_host(&self) -> Result<Vec<u8>, RuntimeError> {
        let mut out = vec![0u8; self.bytes];
        self.device.copy_out(self.raw, &mut out)?;
        Ok(out)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.device.free(self.raw, self.bytes);
        LIVE_BUFFERS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

static LIVE_BUFFERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Buffers allocated and not yet freed, on every device (for memory tests and `KILN_DEBUG`).
pub fn live_buffers() -> usize {
    LIVE_BUFFERS.load(std::sync::atomic::Ordering::Relaxed)
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({} bytes on {})", self.bytes, self.device.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_codegen::Param;
    use kiln_uop::DType;

    fn program() -> Program {
        Program {
            name: "E_4".into(),
            instructions: vec![],
            params: vec![Param { dtype: DType::F32, numel: 4, written: true, streamed: false }],
            global_size: 4,
            launch: kiln_codegen::LaunchDims::SINGLE,
            parallel_extent: 4,
            index_fits_i32: true,
            flops: 0,
            opts: vec![],
        }
    }

    #[test]
    fn launch_args_must_match_the_parameters() {
        let p = program();
        assert!(check_launch_args(&p, &[RawBuffer(1)], |_| Ok(16)).is_ok());
        let short = check_launch_args(&p, &[RawBuffer(1)], |_| Ok(8));
        assert!(matches!(short, Err(RuntimeError::SizeMismatch { expected: 16, given: 8 })));
        let missing = check_launch_args(&p, &[], |_| Ok(16));
        assert!(matches!(missing, Err(RuntimeError::ArgumentCount { expected: 1, given: 0, .. })));
    }

    #[test]
    fn text_devices_reject_spirv_clearly() {
        let p = program();
        assert_eq!(source_text(&p, &Source::Text("x".into()), "CPU").unwrap(), "x");
        let Err(RuntimeError::Compile { name, log }) = source_text(&p, &Source::Spirv(vec![0x0723_0203]), "CPU") else {
            panic!("SPIR-V accepted as text")
        };
        assert_eq!(name, "E_4");
        assert!(log.contains("CPU compiles C-family text") && log.contains("SPIR-V"), "{log}");
    }
}
