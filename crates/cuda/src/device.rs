//! The CUDA device: one context and one stream per GPU. Buffers are raw device allocations (stream
//! ordered where the GPU has memory pools); kernels are NVRTC-compiled PTX, cached on disk by source,
//! architecture and NVRTC version, and launched with the program's grid and block; captured launch
//! lists become CUDA graphs (`graph.rs`).

use crate::graph::{Allocations, CudaGraph};
use crate::nvrtc;
use crate::pool::MemPool;
use cudarc::driver::{
    result, sys, CudaContext, CudaEvent, CudaFunction, CudaStream, DriverError, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use kiln_codegen::{Caps, Program, Source, Target};
use kiln_runtime::{
    check_copy, check_launch_args, content_hash, source_text, CompiledKernel, Device, DeviceGraph, DiskCache, Launch,
    RawBuffer, RuntimeError, Timer,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A CUDA GPU driven through the driver API, with kernels compiled by NVRTC.
pub struct CudaDevice {
    /// `CUDA:i`.
    label: String,
    /// `CUDA:i (<GPU name>)`.
    name: String,
    /// NVRTC target, `compute_XY`.
    arch: String,
    /// Kernels are compiled for sm_90 or later, so each opens with `griddepcontrol` and graphs may link
    /// them by programmatic edges.
    dependent_launch: bool,
    /// NVRTC version, part of the PTX cache key.
    nvrtc_version: String,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// Block and grid limits and shared memory, read from the device's attributes.
    caps: Caps,
    /// Live allocations and their sizes in bytes.
    allocations: Allocations,
    /// The pool `cuMemAllocAsync` draws from, kept between allocations (none without async allocation).
    pool: Option<MemPool>,
    cache: DiskCache,
}

/// A loaded kernel; the function keeps its module loaded.
pub(crate) struct CudaKernel {
    pub(crate) function: CudaFunction,
}

/// The start event of a running [`Timer`].
struct StartEvent(CudaEvent);

/// `CUDA_ERROR_X: message` for a driver error.
pub(crate) fn describe(e: DriverError) -> String {
    let name = e.error_name().map_or_else(|_| format!("{:?}", e.0), |n| n.to_string_lossy().into_owned());
    match e.error_string() {
        Ok(s) => format!("{name}: {}", s.to_string_lossy()),
        Err(_) => name,
    }
}

/// The newest architecture NVRTC supports that the device (compute capability `cc`, e.g. 90) runs, as
/// its number (`90` for `compute_90`).
fn pick_arch(cc: i32, supported: &[i32]) -> Option<i32> {
    supported.iter().copied().filter(|&a| a <= cc).max()
}

impl CudaDevice {
    /// Opens CUDA device `index`. Without a driver, without NVRTC, with no GPU or an index out of
    /// range, this returns [`RuntimeError::Unavailable`]; it never panics.
    pub fn new(index: usize) -> Result<CudaDevice, RuntimeError> {
        let label = format!("CUDA:{index}");
        let unavailable = |reason: String| RuntimeError::Unavailable { device: label.clone(), reason };
        // SAFETY: probes candidate library names with dlopen; no symbols are called.
        if !unsafe { sys::is_culib_present() } {
            return Err(unavailable("no CUDA driver (libcuda) found".into()));
        }
        if !nvrtc::nvrtc_available() {
            return Err(unavailable(
                "NVRTC (libnvrtc.so.13) not found: add its folder to LD_LIBRARY_PATH or set KILN_NVRTC_LIB".into(),
            ));
        }
        let count =
            CudaContext::device_count().map_err(|e| unavailable(format!("no usable CUDA driver ({})", describe(e))))?;
        let count = usize::try_from(count).unwrap_or(0);
        if count == 0 {
            return Err(unavailable("no CUDA devices".into()));
        }
        if index >= count {
            return Err(unavailable(format!("index out of range: {count} CUDA device(s) present")));
        }
        let driver = |what: &str| {
            let what = what.to_string();
            let device = label.clone();
            move |e: DriverError| RuntimeError::Device {
                device: device.clone(),
                what: what.clone(),
                detail: describe(e),
            }
        };
        let ctx = CudaContext::new(index).map_err(driver("context creation"))?;
        let stream = ctx.new_stream().map_err(driver("stream creation"))?;
        let (major, minor) = ctx.compute_capability().map_err(driver("compute capability query"))?;
        let gpu = ctx.name().map_err(driver("name query"))?;
        let cc = major * 10 + minor;
        let arch = pick_arch(cc, &nvrtc::supported_archs()?)
            .ok_or_else(|| unavailable(format!("this NVRTC supports no architecture at or below sm_{cc}")))?;
        let (arch, dependent_launch) = (format!("compute_{arch}"), arch >= 90);
        let nvrtc_version = nvrtc::nvrtc_version().map_or_else(|| "unknown".into(), |(a, b)| format!("{a}.{b}"));
        tracing::debug!("{label}: {gpu}, sm_{cc}, NVRTC {nvrtc_version} targeting {arch}");
        let caps = device_caps(&ctx).map_err(driver("attribute query"))?;
        let pool = if ctx.has_async_alloc() {
            ctx.bind_to_thread().map_err(driver("memory pool"))?;
            Some(MemPool::keeping(&ctx).map_err(driver("memory pool"))?)
        } else {
            None
        };
        Ok(CudaDevice {
            caps,
            name: format!("{label} ({gpu})"),
            label,
            arch,
            dependent_launch,
            nvrtc_version,
            ctx,
            stream,
            allocations: Arc::new(Mutex::new(HashMap::new())),
            pool,
            cache: DiskCache::new("cuda", "ptx"),
        })
    }

    /// The NVRTC architecture kernels are compiled for, e.g. `compute_90`.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    fn error(&self, what: &str, e: DriverError) -> RuntimeError {
        RuntimeError::Device { device: self.label.clone(), what: what.into(), detail: describe(e) }
    }

    /// Makes this device's context current on the calling thread.
    fn bind(&self, what: &str) -> Result<(), RuntimeError> {
        self.ctx.bind_to_thread().map_err(|e| self.error(what, e))
    }

    /// One driver allocation of `size` bytes, stream-ordered where the driver has pools.
    fn allocate(&self, size: usize) -> Result<u64, DriverError> {
        // SAFETY: the context is current; the pointer is recorded and freed once, by `free`.
        unsafe {
            if self.ctx.has_async_alloc() {
                result::malloc_async(self.stream.cu_stream(), size)
            } else {
                result::malloc_sync(size)
            }
        }
    }

    fn size_of(&self, buffer: RawBuffer) -> Result<usize, RuntimeError> {
        self.allocations.lock().unwrap_or_else(PoisonError::into_inner).get(&buffer.0).copied().ok_or_else(|| {
            RuntimeError::Device {
                device: self.label.clone(),
                what: "buffer access".into(),
                detail: format!("unknown buffer {:#x}", buffer.0),
            }
        })
    }

    /// Loads PTX text and looks up kernel `name`.
    fn load(&self, name: &str, ptx: Vec<u8>) -> Result<CudaKernel, String> {
        let text = String::from_utf8(ptx).ok().filter(|t| !t.contains('\0')).ok_or("not PTX text")?;
        if name.contains('\0') {
            return Err("kernel name contains a NUL byte".into());
        }
        let module =
            self.ctx.load_module(Ptx::from_src(text)).map_err(|e| format!("cuModuleLoadData: {}", describe(e)))?;
        let function =
            module.load_function(name).map_err(|e| format!("cuModuleGetFunction({name}): {}", describe(e)))?;
        Ok(CudaKernel { function })
    }
}

impl Device for CudaDevice {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn target(&self) -> Target {
        Target { caps: self.caps, ..Target::CUDA }
    }

    fn alloc(&self, bytes: usize) -> Result<RawBuffer, RuntimeError> {
        self.bind("alloc")?;
        // The driver rejects zero-byte allocations; give empty buffers one byte.
        let size = bytes.max(1);
        let ptr = match (self.allocate(size), &self.pool) {
            // Memory the pool keeps from earlier frees goes back to the driver, then one more try.
            (Err(e), Some(pool)) if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => self
                .stream
                .synchronize()
                .and_then(|()| pool.trim())
                .map_err(|e| self.error("memory pool trim", e))
                .map(|()| self.allocate(size))?,
            (first, _) => first,
        }
        .map_err(|e| match e.0 {
            sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => {
                RuntimeError::OutOfMemory { device: self.name.clone(), bytes, detail: describe(e) }
            }
            _ => self.error("cuMemAlloc", e),
        })?;
        self.allocations.lock().unwrap_or_else(PoisonError::into_inner).insert(ptr, size);
        Ok(RawBuffer(ptr))
    }

    fn free(&self, buffer: RawBuffer, _bytes: usize) {
        if self.allocations.lock().unwrap_or_else(PoisonError::into_inner).remove(&buffer.0).is_none() {
            return;
        }
        let freed = self.ctx.bind_to_thread().and_then(|()| {
            // SAFETY: the pointer was allocated by `alloc` and is freed once (removed above). A stream
            // ordered free runs after the queued kernels that use it; otherwise the stream is drained first.
            unsafe {
                if self.ctx.has_async_alloc() {
                    result::free_async(buffer.0, self.stream.cu_stream())
                } else {
                    self.stream.synchronize().and_then(|()| result::free_sync(buffer.0))
                }
            }
        });
        if let Err(e) = freed {
            tracing::warn!("{}: freeing {:#x} failed: {}", self.label, buffer.0, describe(e));
        }
    }

    fn copy_in(&self, dst: RawBuffer, src: &[u8]) -> Result<(), RuntimeError> {
        let size = self.size_of(dst)?;
        if src.len() > size {
            return Err(RuntimeError::SizeMismatch { expected: size, given: src.len() });
        }
        self.bind("copy in")?;
        // SAFETY: `dst` is a live allocation of at least `src.len()` bytes; the stream is synchronised
        // before returning, so `src` outlives the copy.
        unsafe { result::memcpy_htod_async(dst.0, src, self.stream.cu_stream()) }
            .map_err(|e| self.error("cuMemcpyHtoDAsync", e))?;
        self.stream.synchronize().map_err(|e| self.error("copy in", e))
    }

    fn copy_out(&self, src: RawBuffer, dst: &mut [u8]) -> Result<(), RuntimeError> {
        let size = self.size_of(src)?;
        if dst.len() > size {
            return Err(RuntimeError::SizeMismatch { expected: size, given: dst.len() });
        }
        self.bind("copy out")?;
        // SAFETY: as in `copy_in`, with the roles swapped; the copy runs after queued kernels.
        unsafe { result::memcpy_dtoh_async(dst, src.0, self.stream.cu_stream()) }
            .map_err(|e| self.error("cuMemcpyDtoHAsync", e))?;
        self.stream.synchronize().map_err(|e| self.error("copy out", e))
    }

    fn compile(&self, program: &Program, source: &Source) -> Result<CompiledKernel, RuntimeError> {
        let source = source_text(program, source, &self.label)?;
        let key = content_hash(&[source.as_bytes(), self.arch.as_bytes(), self.nvrtc_version.as_bytes()]);
        if let Some(ptx) = self.cache.read(&key) {
            match self.load(&program.name, ptx) {
                Ok(kernel) => return Ok(Arc::new(kernel)),
                Err(e) => {
                    tracing::warn!("PTX cache entry {} is unusable ({e}); rebuilding", self.cache.path(&key).display());
                    self.cache.evict(&key);
                }
            }
        }
        let ptx = nvrtc::compile_ptx(source, &program.name, &self.arch)?;
        let kernel = self.load(&program.name, ptx.clone().into_bytes()).map_err(|log| RuntimeError::Compile {
            name: program.name.clone(),
            log: format!("kernel `{}`: {log}", program.name),
        })?;
        if let Err(e) = self.cache.write(&key, ptx.as_bytes()) {
            tracing::warn!("cannot cache PTX of {}: {e}", program.name);
        }
        Ok(Arc::new(kernel))
    }

    fn launch(
        &self,
        kernel: &CompiledKernel,
        program: &Program,
        args: &[RawBuffer],
        timed: bool,
    ) -> Result<Option<f64>, RuntimeError> {
        let launch_error = |detail: String| RuntimeError::Device {
            device: self.label.clone(),
            what: format!("launch of {}", program.name),
            detail,
        };
        let kernel = kernel
            .downcast_ref::<CudaKernel>()
            .ok_or_else(|| launch_error("kernel was not compiled by a CUDA device".into()))?;
        check_launch_args(program, args, |a| self.size_of(a))?;
        if program.global_size == 0 {
            return Ok(timed.then_some(0.0));
        }
        let [gx, gy, gz] = program.launch.global;
        let [lx, ly, lz] = program.launch.local;
        // Local memory is declared in the source (`__shared__`), so none is requested at launch.
        let config = LaunchConfig { grid_dim: (gx, gy, gz), block_dim: (lx, ly, lz), shared_mem_bytes: 0 };
        let pointers: Vec<u64> = args.iter().map(|a| a.0).collect();
        self.bind("launch")?;
        let mut builder = self.stream.launch_builder(&kernel.function);
        for p in &pointers {
            builder.arg(p);
        }
        if timed {
            builder.record_kernel_launch(sys::CUevent_flags::CU_EVENT_DEFAULT);
        }
        // SAFETY: the kernel was rendered from `program`: one device pointer per parameter slot, each
        // checked above to hold the elements the kernel may touch; threads past the outputs are masked.
        let events = unsafe { builder.launch(config) }.map_err(|e| launch_error(describe(e)))?;
        match events {
            Some((start, end)) => {
                let ms = start.elapsed_ms(&end).map_err(|e| self.error("event timing", e))?;
                Ok(Some(f64::from(ms) / 1e3))
            }
            None => Ok(None),
        }
    }

    fn capture(&self, launches: &[Launch], deps: &[Vec<usize>]) -> Result<Option<Box<dyn DeviceGraph>>, RuntimeError> {
        let graph = CudaGraph::new(
            &self.label,
            &self.ctx,
            &self.stream,
            &self.allocations,
            launches,
            deps,
            self.dependent_launch,
        )?;
        Ok(Some(Box::new(graph)))
    }

    fn synchronize(&self) -> Result<(), RuntimeError> {
        self.bind("synchronize")?;
        self.stream.synchronize().map_err(|e| self.error("synchronize", e))
    }

    fn copy_buffer(&self, dst: RawBuffer, src: RawBuffer, bytes: usize) -> Result<(), RuntimeError> {
        check_copy(dst, src, bytes, |b| self.size_of(b))?;
        if bytes == 0 {
            return Ok(());
        }
        self.bind("copy")?;
        // SAFETY: both are live allocations of at least `bytes` bytes (checked above); the copy is
        // ordered on the stream after earlier launches, and a free is ordered after it.
        unsafe { result::memcpy_dtod_async(dst.0, src.0, bytes, self.stream.cu_stream()) }
            .map_err(|e| self.error("cuMemcpyDtoDAsync", e))
    }

    /// An event recorded on the stream: nothing waits until [`Device::stop_timer`].
    fn start_timer(&self) -> Result<Timer, RuntimeError> {
        self.bind("timer")?;
        let event = self
            .stream
            .record_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| self.error("cuEventRecord", e))?;
        Ok(Timer::Device(Box::new(StartEvent(event))))
    }

    fn stop_timer(&self, timer: Timer) -> Result<f64, RuntimeError> {
        let wrong = || RuntimeError::Device {
            device: self.label.clone(),
            what: "stop_timer".into(),
            detail: "the timer was not started by a CUDA device".into(),
        };
        let Timer::Device(start) = timer else { return Err(wrong()) };
        let start = start.downcast::<StartEvent>().map_err(|_| wrong())?;
        self.bind("timer")?;
        let end = self
            .stream
            .record_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| self.error("cuEventRecord", e))?;
        // `elapsed_ms` waits for both events.
        let ms = start.0.elapsed_ms(&end).map_err(|e| self.error("cuEventElapsedTime", e))?;
        Ok(f64::from(ms) / 1e3)
    }
}

/// What the code generator may use of this GPU: block and grid limits, shared memory per block and the
/// warp's width.
fn device_caps(ctx: &CudaContext) -> Result<Caps, DriverError> {
    use sys::CUdevice_attribute as A;
    let get = |a: A| ctx.attribute(a).map(|v| u32::try_from(v).unwrap_or(0));
    Ok(Caps {
        has_local: true,
        max_local: [
            get(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X)?,
            get(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y)?,
            get(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z)?,
        ],
        max_local_total: get(A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
        max_groups: [
            get(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X)?,
            get(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y)?,
            get(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z)?,
        ],
        // Static `__shared__` memory is limited to 48 KiB whatever the device offers beyond it.
        shared_bytes: get(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)?.min(48 * 1024),
        warp: get(A::CU_DEVICE_ATTRIBUTE_WARP_SIZE)?,
        l2_bytes: get(A::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)?,
        ..Target::CUDA.caps
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_is_the_newest_supported_at_or_below_the_device() {
        assert_eq!(pick_arch(90, &[75, 80, 86, 89, 90, 100, 120]), Some(90));
        assert_eq!(pick_arch(87, &[75, 80, 86, 89, 90]), Some(86));
        assert_eq!(pick_arch(70, &[75, 80]), None);
    }

    /// Without a driver (CI, this machine) opening a device is a clear `Unavailable`, never a panic;
    /// on a GPU machine device 0 opens and is named after the GPU.
    #[test]
    fn opening_reports_unavailable_instead_of_panicking() {
        match CudaDevice::new(0) {
            Ok(device) => assert!(device.name().starts_with("CUDA:0 ("), "{}", device.name()),
            Err(RuntimeError::Unavailable { device, reason }) => {
                assert_eq!(device, "CUDA:0");
                assert!(!reason.is_empty());
                eprintln!("CUDA:0 unavailable, as expected without a GPU: {reason}");
            }
            Err(other) => panic!("expected Unavailable, got {other}"),
        }
    }

    #[test]
    fn an_index_out_of_range_is_unavailable() {
        let Err(RuntimeError::Unavailable { device, .. }) = CudaDevice::new(4096) else { panic!("CUDA:4096 opened") };
        assert_eq!(device, "CUDA:4096");
    }
}
