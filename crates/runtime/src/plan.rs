//! Prepare once, run many: [`prepare`] turns a schedule into an [`ExecPlan`] (every unique kernel
//! compiled, in parallel where the memo misses; buffers allocated by lifetime; every launch's
//! arguments resolved). Running the plan does no code generation, no allocation and no hashing of
//! ASTs: untimed it is one batch of launches; under `KILN_DEBUG>=1` or profiling each launch is timed
//! and reported.

use crate::compile::{compile_all, PhaseTimes};
use crate::debug::debug_level;
use crate::device::{Buffer, Device, RawBuffer};
use crate::error::RuntimeError;
use crate::graph::Launch;
use crate::lifetime::plan_buffers;
use crate::profile::{record, LaunchRecord};
use kiln_schedule::{BufferRef, Schedule};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// A schedule ready to run on one device.
pub struct ExecPlan {
    device: Arc<dyn Device>,
    launches: Vec<Launch>,
    /// The buffer behind each of the schedule's `buffers` (buffers whose lifetimes do not overlap share).
    buffers: Vec<Arc<Buffer>>,
    /// The bound buffers the launches read, held while the plan lives.
    inputs: Vec<Arc<Buffer>>,
    times: PhaseTimes,
}

/// Compiles the kernels of `schedule` for `device`, allocates its buffers and resolves every launch.
/// `inputs` binds the existing buffers it reads (by `Op::Buffer` id).
pub fn prepare(
    device: &Arc<dyn Device>,
    schedule: &Schedule,
    inputs: &HashMap<u64, Arc<Buffer>>,
) -> Result<ExecPlan, RuntimeError> {
    let mut times = PhaseTimes::default();
    let asts: Vec<_> = schedule.kernels.iter().map(|k| &k.ast).collect();
    let compiled = compile_all(device, &asts, &mut times)?;
    let (assigned, sizes) = plan_buffers(schedule);
    let physical =
        sizes.iter().map(|&bytes| Buffer::alloc(device, bytes).map(Arc::new)).collect::<Result<Vec<_>, _>>()?;
    let buffers: Vec<Arc<Buffer>> = assigned.iter().map(|&p| Arc::clone(&physical[p])).collect();
    let mut held: HashMap<u64, Arc<Buffer>> = HashMap::new();
    let mut launches = Vec::with_capacity(schedule.kernels.len());
    for (kernel, c) in schedule.kernels.iter().zip(compiled) {
        if c.program.global_size == 0 {
            continue;
        }
        let args = kernel
            .args
            .iter()
            .map(|r| match r {
                BufferRef::Input(id) => {
                    let b = inputs.get(id).ok_or(RuntimeError::MissingBuffer(*id))?;
                    held.entry(*id).or_insert_with(|| Arc::clone(b));
                    Ok(b.raw())
                }
                BufferRef::New(i) => Ok(buffers[*i].raw()),
            })
            .collect::<Result<Vec<RawBuffer>, RuntimeError>>()?;
        launches.push(Launch { kernel: c.kernel.clone(), program: Arc::clone(&c.program), args });
    }
    Ok(ExecPlan { device: Arc::clone(device), launches, buffers, inputs: held.into_values().collect(), times })
}

impl ExecPlan {
    /// Queues every launch (timed one by one under `KILN_DEBUG>=1` or profiling, else as one batch).
    pub fn run(&mut self) -> Result<(), RuntimeError> {
        let t0 = Instant::now();
        if debug_level() >= 1 || crate::profile::enabled() {
            for l in &self.launches {
                let seconds = self.device.launch(&l.kernel, &l.program, &l.args, true)?;
                report(self.device.as_ref(), l, seconds);
            }
        } else {
            self.device.launch_batch(&self.launches)?;
        }
        self.times.launch += t0.elapsed();
        self.times.kernels += self.launches.len();
        if debug_level() >= 2 {
            let t = &self.times;
            eprintln!(
                "*** phases: codegen {:.3} ms, compile {:.3} ms ({} new), launch {:.3} ms, {} kernels",
                t.codegen.as_secs_f64() * 1e3,
                t.compile.as_secs_f64() * 1e3,
                t.compiled,
                t.launch.as_secs_f64() * 1e3,
                self.launches.len()
            );
        }
        Ok(())
    }

    /// The buffer behind each of the schedule's `buffers`, indexed alike.
    pub fn buffers(&self) -> &[Arc<Buffer>] {
        &self.buffers
    }

    /// The device it runs on.
    pub fn device(&self) -> &Arc<dyn Device> {
        &self.device
    }

    /// The launches, in order.
    pub fn launches(&self) -> &[Launch] {
        &self.launches
    }

    /// Every buffer the launches use: the plan's own and the bound inputs.
    pub fn held_buffers(&self) -> impl Iterator<Item = &Arc<Buffer>> {
        self.buffers.iter().chain(&self.inputs)
    }

    /// Time spent preparing and running so far.
    pub fn times(&self) -> PhaseTimes {
        self.times
    }
}

/// Records a timed launch for the profiler and prints it under `KILN_DEBUG>=1`.
fn report(device: &dyn Device, l: &Launch, seconds: Option<f64>) {
    let Some(s) = seconds else { return };
    record(LaunchRecord {
        device: device.name(),
        name: l.program.name.clone(),
        global_size: l.program.global_size,
        seconds: s,
    });
    if debug_level() >= 1 {
        let gflops = l.program.flops as f64 / s.max(1e-12) / 1e9;
        eprintln!(
            "*** {:<8} {:<24} args {:<2} global {:<10} {:>9.3} ms {:>8.2} GFLOP/s",
            device.name(),
            l.program.name,
            l.args.len(),
            l.program.global_size,
            s * 1e3,
            gflops
        );
    }
}

/// Prepares and runs `schedule` on `device` once. The result holds the buffer behind each of
/// `schedule.buffers`, indexed alike.
pub fn run_schedule(
    device: &Arc<dyn Device>,
    schedule: &Schedule,
    inputs: &HashMap<u64, Arc<Buffer>>,
) -> Result<(Vec<Arc<Buffer>>, PhaseTimes), RuntimeError> {
    let mut plan = prepare(device, schedule, inputs)?;
    plan.run()?;
    Ok((plan.buffers.clone(), plan.times))
}
