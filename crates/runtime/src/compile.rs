//! Compiling the kernels of a schedule: code generation and device compilation, memoised per device
//! and kernel AST in a bounded LRU memo; the kernels missing from the memo are generated in order and
//! compiled by the device in parallel.

use crate::debug::debug_level;
use crate::device::{CompiledKernel, Device};
use crate::error::RuntimeError;
use crate::memo::{memo_capacity, LruMemo};
use kiln_codegen::{compile_kernel, Program};
use kiln_uop::UOp;
use rayon::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wall time spent in each phase of preparing and running one schedule.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhaseTimes {
    /// Lowering, linearizing and rendering (wall time, on the calling thread).
    pub codegen: Duration,
    /// Device compilation, disk cache lookups included (wall time of the parallel compiles).
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

/// Compiled kernels by device and kernel AST, at most [`memo_capacity`] of them.
fn memo() -> &'static Memo {
    static MEMO: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();
    MEMO.get_or_init(|| Memo::new(memo_capacity()))
}

/// Generates the program and source of one kernel (printed under `KILN_DEBUG>=3`).
fn generate(device: &dyn Device, ast: &UOp) -> Result<(Program, kiln_codegen::Source), RuntimeError> {
    let (program, source) = compile_kernel(ast, &device.target())?;
    if debug_level() >= 4 {
        eprintln!("{}", kiln_uop::render_listing(ast));
    }
    if debug_level() >= 3 {
        eprintln!("*** {} opts {:?} launch {:?}\n{source}", program.name, program.opts, program.launch);
    }
    Ok((program, source))
}

/// The compiled form of each of `asts` on `device`: memo hits first, then the unique misses. Code
/// generation runs on this thread (it takes the UOp interner's lock at every node, so threads would
/// only queue on it); device compilation (`cc`, NVRTC, pipelines) runs on rayon's pool, one thread per
/// core.
/// Each result is stored in the memo.
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
    if missing.is_empty() {
        return Ok(found.into_iter().map(|f| f.expect("every kernel was found")).collect());
    }
    let t0 = Instant::now();
    let generated = missing.iter().map(|ast| generate(device.as_ref(), ast)).collect::<Result<Vec<_>, _>>()?;
    times.codegen += t0.elapsed();
    let t1 = Instant::now();
    let kernels: Vec<_> = generated.par_iter().map(|(program, source)| device.compile(program, source)).collect();
    times.compile += t1.elapsed();
    times.compiled += generated.len();
    for ((ast, (program, _)), kernel) in missing.iter().zip(generated).zip(kernels) {
        let c = Arc::new(Compiled { program: Arc::new(program), kernel: kernel? });
        memo().insert((name.clone(), (*ast).clone()), Arc::clone(&c));
        for (a, f) in asts.iter().zip(found.iter_mut()) {
            if f.is_none() && a == ast {
                *f = Some(Arc::clone(&c));
            }
        }
    }
    Ok(found.into_iter().map(|f| f.expect("every kernel is compiled")).collect())
}
