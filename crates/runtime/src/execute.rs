//! Running a schedule on a device: code generation and compilation (both memoised per device and
//! kernel AST, in a bounded LRU memo), buffer allocation, launches, and `KILN_DEBUG` output.

use crate::debug::debug_level;
use crate::device::{Buffer, CompiledKernel, Device, RawBuffer};
use crate::error::RuntimeError;
use crate::memo::{memo_capacity, LruMemo};
use crate::profile::{record, LaunchRecord};
use kiln_codegen::{compile_kernel, Program};
use kiln_schedule::{BufferRef, Schedule};
use kiln_uop::UOp;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wall time spent in each phase of one `run_schedule`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhaseTimes {
    /// Lowering, linearizing and rendering.
    pub codegen: Duration,
    /// Device compilation (including disk cache lookups).
    pub compile: Duration,
    /// Launching (and, when timed, running) kernels.
    pub launch: Duration,
    /// Kernels launched.
    pub kernels: usize,
    /// Kernels generated and compiled (not found in the in-process memo).
    pub compiled: usize,
}

struct Compiled {
    program: Program,
    kernel: CompiledKernel,
}

type Memo = LruMemo<(String, UOp), Arc<Compiled>>;

/// Compiled kernels by device and kernel AST, at most [`memo_capacity`] of them.
fn memo() -> &'static Memo {
    static MEMO: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();
    MEMO.get_or_init(|| Memo::new(memo_capacity()))
}

fn compiled(device: &Arc<dyn Device>, ast: &UOp, times: &mut PhaseTimes) -> Result<Arc<Compiled>, RuntimeError> {
    let key = (device.name(), ast.clone());
    if let Some(c) = memo().get(&key) {
        return Ok(c);
    }
    let t0 = Instant::now();
    let (program, source) = compile_kernel(ast, &device.target())?;
    times.codegen += t0.elapsed();
    if debug_level() >= 4 {
        eprintln!("{}", kiln_uop::render_listing(ast));
    }
    if debug_level() >= 3 {
        eprintln!("*** {} opts {:?} launch {:?}", program.name, program.opts, program.launch);
        eprintln!("{source}");
    }
    let t1 = Instant::now();
    let kernel = device.compile(&program, &source)?;
    times.compile += t1.elapsed();
    times.compiled += 1;
    let c = Arc::new(Compiled { program, kernel });
    memo().insert(key, Arc::clone(&c));
    Ok(c)
}

/// Runs `schedule` on `device`. `inputs` binds the existing buffers it reads (by `Op::Buffer` id);
/// the result holds the newly allocated buffers, indexed like `schedule.buffers`.
pub fn run_schedule(
    device: &Arc<dyn Device>,
    schedule: &Schedule,
    inputs: &HashMap<u64, Arc<Buffer>>,
) -> Result<(Vec<Arc<Buffer>>, PhaseTimes), RuntimeError> {
    let mut times = PhaseTimes::default();
    let fresh = schedule
        .buffers
        .iter()
        .map(|spec| Buffer::alloc(device, spec.numel * spec.dtype.size()).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let resolve = |r: &BufferRef| -> Result<RawBuffer, RuntimeError> {
        match r {
            BufferRef::Input(id) => inputs.get(id).map(|b| b.raw()).ok_or(RuntimeError::MissingBuffer(*id)),
            BufferRef::New(i) => Ok(fresh[*i].raw()),
        }
    };
    let timed = debug_level() >= 1 || crate::profile::enabled();
    for kernel in &schedule.kernels {
        let c = compiled(device, &kernel.ast, &mut times)?;
        if c.program.global_size == 0 {
            continue;
        }
        let args = kernel.args.iter().map(resolve).collect::<Result<Vec<_>, _>>()?;
        let t0 = Instant::now();
        let seconds = device.launch(&c.kernel, &c.program, &args, timed)?;
        times.launch += t0.elapsed();
        times.kernels += 1;
        if let Some(s) = seconds {
            record(LaunchRecord {
                device: device.name(),
                name: c.program.name.clone(),
                global_size: c.program.global_size,
                seconds: s,
            });
            if debug_level() >= 1 {
                let gflops = c.program.flops as f64 / s.max(1e-12) / 1e9;
                eprintln!(
                    "*** {:<8} {:<24} args {:<2} global {:<10} {:>9.3} ms {:>8.2} GFLOP/s",
                    device.name(),
                    c.program.name,
                    args.len(),
                    c.program.global_size,
                    s * 1e3,
                    gflops
                );
            }
        }
    }
    if debug_level() >= 2 {
        eprintln!(
            "*** phases: codegen {:.3} ms, compile {:.3} ms, launch {:.3} ms, {} kernels",
            times.codegen.as_secs_f64() * 1e3,
            times.compile.as_secs_f64() * 1e3,
            times.launch.as_secs_f64() * 1e3,
            times.kernels
        );
    }
    Ok((fresh, times))
}
