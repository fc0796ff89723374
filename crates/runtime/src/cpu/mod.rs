//! The CPU device: buffers are aligned host allocations, kernels are C compiled by the system `cc`
//! into shared objects, and a launch splits the kernel's outer loop across threads.

mod compiler;
mod launch;

use crate::device::{check_copy, check_launch_args, source_text, CompiledKernel, Device, RawBuffer};
use crate::error::RuntimeError;
use crate::recycle::Recycler;
use kiln_codegen::{Caps, Program, Source, Target};
use std::alloc::Layout;
use std::collections::HashMap;
use std::sync::Mutex;

const ALIGN: usize = 64;

/// The CPU device.
pub struct CpuDevice {
    allocations: Mutex<HashMap<u64, Layout>>,
    /// Freed allocations kept for reuse (their pages already faulted in), by size.
    recycler: Recycler<(u64, Layout)>,
    compiler: compiler::CCompiler,
}

impl CpuDevice {
    /// Opens the CPU device; fails if no C compiler is found.
    pub fn new() -> Result<CpuDevice, RuntimeError> {
        Ok(CpuDevice {
            allocations: Mutex::new(HashMap::new()),
            recycler: Recycler::default(),
            compiler: compiler::CCompiler::detect()?,
        })
    }

    fn layout_of(&self, buffer: RawBuffer) -> Result<Layout, RuntimeError> {
        self.allocations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&buffer.0).copied().ok_or_else(
            || RuntimeError::Device {
                device: "CPU".into(),
                what: "buffer access".into(),
                detail: format!("unknown buffer {:#x}", buffer.0),
            },
        )
    }
}

impl Drop for CpuDevice {
    fn drop(&mut self) {
        for (handle, layout) in self.recycler.drain() {
            // SAFETY: kept allocations came from `alloc_zeroed` with their layout; nothing uses them.
            unsafe { std::alloc::dealloc(handle as *mut u8, layout) };
        }
    }
}

impl Device for CpuDevice {
    fn name(&self) -> String {
        "CPU".into()
    }

    fn target(&self) -> Target {
        // The pool's threads, so the heuristics can give a kernel with a short outer loop a thread axis.
        let threads = u32::try_from(rayon::current_num_threads()).unwrap_or(u32::MAX);
        Target { caps: Caps { threads, ..Target::CPU.caps }, ..Target::CPU }
    }

    fn alloc(&self, bytes: usize) -> Result<RawBuffer, RuntimeError> {
        let oom = |detail: &str| RuntimeError::OutOfMemory { device: "CPU".into(), bytes, detail: detail.into() };
        let layout = Layout::from_size_align(bytes.max(ALIGN), ALIGN).map_err(|e| oom(&e.to_string()))?;
        let handle = match self.recycler.take(layout.size() as u64) {
            Some((handle, _)) => handle,
            None => {
                // SAFETY: the layout has a non-zero size.
                let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
                if ptr.is_null() {
                    return Err(oom("the allocator returned null"));
                }
                ptr as u64
            }
        };
        self.allocations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(handle, layout);
        Ok(RawBuffer(handle))
    }

    fn free(&self, buffer: RawBuffer, _bytes: usize) {
        let layout = self.allocations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&buffer.0);
        if let Some(layout) = layout {
            // Launches run to completion before returning, so no kernel uses a freed buffer.
            for (pointer, layout) in self.recycler.give(layout.size() as u64, (buffer.0, layout)) {
                // SAFETY: the pointer came from `alloc_zeroed` with this layout and is freed once
                // (handed back by the recycler, which no longer keeps it).
                unsafe { std::alloc::dealloc(pointer as *mut u8, layout) };
            }
        }
    }

    fn copy_in(&self, dst: RawBuffer, src: &[u8]) -> Result<(), RuntimeError> {
        let layout = self.layout_of(dst)?;
        if src.len() > layout.size() {
            return Err(RuntimeError::SizeMismatch { expected: layout.size(), given: src.len() });
        }
        // SAFETY: `dst` is a live allocation of at least `src.len()` bytes that no kernel is running on
        // (CPU launches complete before returning).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.0 as *mut u8, src.len()) };
        Ok(())
    }

    fn copy_out(&self, src: RawBuffer, dst: &mut [u8]) -> Result<(), RuntimeError> {
        let layout = self.layout_of(src)?;
        if dst.len() > layout.size() {
            return Err(RuntimeError::SizeMismatch { expected: layout.size(), given: dst.len() });
        }
        // SAFETY: as in `copy_in`, with the roles swapped.
        unsafe { std::ptr::copy_nonoverlapping(src.0 as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn compile(&self, program: &Program, source: &Source) -> Result<CompiledKernel, RuntimeError> {
        let text = source_text(program, source, "CPU")?;
        Ok(std::sync::Arc::new(self.compiler.compile(&program.name, text)?))
    }

    fn launch(
        &self,
        kernel: &CompiledKernel,
        program: &Program,
        args: &[RawBuffer],
        timed: bool,
    ) -> Result<Option<f64>, RuntimeError> {
        let kernel = kernel.downcast_ref::<compiler::CKernel>().ok_or_else(|| RuntimeError::Device {
            device: "CPU".into(),
            what: "launch".into(),
            detail: "kernel was not compiled by the CPU device".into(),
        })?;
        check_launch_args(program, args, |a| self.layout_of(a).map(|l| l.size()))?;
        let start = std::time::Instant::now();
        launch::run(kernel, program, args);
        Ok(timed.then(|| start.elapsed().as_secs_f64()))
    }

    fn copy_buffer(&self, dst: RawBuffer, src: RawBuffer, bytes: usize) -> Result<(), RuntimeError> {
        check_copy(dst, src, bytes, |b| self.layout_of(b).map(|l| l.size()))?;
        if dst == src {
            return Ok(());
        }
        // SAFETY: both are live allocations of at least `bytes` bytes (checked above), distinct, so
        // they do not overlap; no kernel runs on them (CPU launches complete before returning).
        unsafe { std::ptr::copy_nonoverlapping(src.0 as *const u8, dst.0 as *mut u8, bytes) };
        Ok(())
    }

    fn synchronize(&self) -> Result<(), RuntimeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Option<CpuDevice> {
        CpuDevice::new().map_err(|e| eprintln!("no C compiler, CPU device tests skipped: {e}")).ok()
    }

    #[test]
    fn copy_buffer_copies_and_rejects_oversized_copies() {
        let Some(cpu) = device() else { return };
        let (a, b) = (cpu.alloc(256).unwrap(), cpu.alloc(128).unwrap());
        cpu.copy_in(a, &[7u8; 256]).unwrap();
        cpu.copy_buffer(b, a, 128).unwrap();
        let mut out = [0u8; 128];
        cpu.copy_out(b, &mut out).unwrap();
        assert_eq!(out, [7u8; 128]);
        assert!(matches!(cpu.copy_buffer(b, a, 256), Err(RuntimeError::SizeMismatch { expected: 128, given: 256 })));
        cpu.free(a, 256);
        cpu.free(b, 128);
    }

    #[test]
    fn the_host_timer_measures_the_time_between_its_marks() {
        let Some(cpu) = device() else { return };
        let timer = cpu.start_timer().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let seconds = cpu.stop_timer(timer).unwrap();
        assert!((0.005..1.0).contains(&seconds), "{seconds}");
        assert!(cpu.stop_timer(crate::Timer::Device(Box::new(()))).is_err());
    }
}
