//! Compiling the kernels of a schedule: code generation and device compilation, memoised per device
//! and kernel AST in a bounded LRU memo, with the kernels missing from the memo compiled in parallel.

use crate::debug::debug_level;
use crate::device::{CompiledKernel, Device};
use crate::error::RuntimeError;
use crate::memo::{memo_capacity, LruMemo};
use kiln_codegen::{compile_kernel, Program};
use kiln_uop::UOp;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Wall time spent in each phase of preparing and running one schedule.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhaseTimes {
    /// Lowering, linearizing and rendering: wall time (with several compiling threads, their wall time
    /// split between this and `compile` in proportion to the time each thread spent in each).
    pub codegen: Duration,
    /// Device compilation, disk cache lookups included: wall time, split as for `codegen`.
    pub compile: Duration,
    /// Launching (and, when timed, running) kernels.
    pub launch: Duration,
    /// Kernels launched.
    pub kernels: usize,
    /// Kernels generated and compiled (not found in the in-process memo).
    pub compiled: usize,
}

/// A kernel ready to launch: its program and the device's compiled form.
pub(crate) struct Compiled {
    pub program: Arc<Program>,
    pub kernel: CompiledKernel,
}

type Memo = LruMemo<(String, UOp), Arc<Compiled>>;

/// Where a compiling thread leaves one kernel's result.
type Slot = Mutex<Option<Result<Arc<Compiled>, RuntimeError>>>;

/// Compiled kernels by device and kernel AST, at most [`memo_capacity`] of them.
fn memo() -> &'static Memo {
    static MEMO: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();
    MEMO.get_or_init(|| Memo::new(memo_capacity()))
}

/// Generates and compiles one kernel (no memo lookup), adding its times to `times`.
fn build(device: &dyn Device, ast: &UOp, times: &Mutex<PhaseTimes>) -> Result<Arc<Compiled>, RuntimeError> {
    let t0 = Instant::now();
    let (program, source) = compile_kernel(ast, &device.target())?;
    let codegen = t0.elapsed();
    if debug_level() >= 4 {
        eprintln!("{}", kiln_uop::render_listing(ast));
    }
    if debug_level() >= 3 {
        eprintln!("*** {} opts {:?} launch {:?}\n{source}", program.name, program.opts, program.launch);
    }
    let t1 = Instant::now();
    let kernel = device.compile(&program, &source)?;
    let mut t = times.lock().unwrap_or_else(PoisonError::into_inner);
    t.codegen += codegen;
    t.compile += t1.elapsed();
    t.compiled += 1;
    Ok(Arc::new(Compiled { program: Arc::new(program), kernel }))
}

/// The compiled form of each of `asts` on `device`: memo hits first, then the unique misses compiled
/// on up to one thread per core, each stored in the memo.
pub(crate) fn compile_all(
    device: &Arc<dyn Device>,
    asts: &[&UOp],
    times: &mut PhaseTimes,
) -> Result<Vec<Arc<Compiled>>, RuntimeError> {
    let name = device.name();
    let mut found: Vec<Option<Arc<Compiled>>> =
        asts.iter().map(|a| memo().get(&(name.clone(), (*a).clone()))).collect();
    let mut missing: Vec<&UOp> = Vec::new();
    for (ast, f) in asts.iter().zip(&found) {
        if f.is_none() && !missing.contains(ast) {
            missing.push(ast);
        }
    }
    if !missing.is_empty() {
        let wall = Instant::now();
        let shared = Mutex::new(PhaseTimes::default());
        let workers = std::thread::available_parallelism().map_or(1, usize::from).min(missing.len());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Slot> = missing.iter().map(|_| Mutex::new(None)).collect();
        let work = || loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(ast) = missing.get(i) else { break };
            let r = build(device.as_ref(), ast, &shared);
            *results[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        };
        if workers <= 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 1..workers {
                    s.spawn(work);
                }
                work();
            });
        }
        let summed = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
        let wall = wall.elapsed();
        let busy = (summed.codegen + summed.compile).as_secs_f64();
        let share = if busy > 0.0 { summed.codegen.as_secs_f64() / busy } else { 1.0 };
        times.codegen += wall.mul_f64(share);
        times.compile += wall.mul_f64(1.0 - share);
        times.compiled += summed.compiled;
        for (ast, r) in missing.iter().zip(results) {
            let built = r.into_inner().unwrap_or_else(PoisonError::into_inner);
            let c = built.ok_or_else(|| RuntimeError::Replay("a compiling thread left a kernel unbuilt".into()))??;
            memo().insert((name.clone(), (*ast).clone()), Arc::clone(&c));
            for (a, f) in asts.iter().zip(found.iter_mut()) {
                if f.is_none() && a == ast {
                    *f = Some(Arc::clone(&c));
                }
            }
        }
    }
    Ok(found.into_iter().map(|f| f.expect("every kernel is compiled")).collect())
}
