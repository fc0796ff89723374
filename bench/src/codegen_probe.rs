//! Code generation speed for a GPU target on any machine (`--codegen-w9 cuda|vulkan|cpu`): the W9
//! graph (the GPU suite's shape; the quick suite's with `--quick`) built over weights on the default device and scheduled, then each
//! kernel compiled to source for the target with its default caps, as a device of that kind would
//! (no device needed: nothing is compiled further or run). Prints the time of each phase summed over
//! the kernels: lowering (movement ops to indices, every index simplified), the hand-coded
//! heuristics (each opt re-simplifies the indices it changes), and the rest (late passes,
//! linearization, rendering). Round 1 is what a fresh process pays (every UOp new to the interner);
//! the best of the later rounds is the steady cost. A digest of the sources shows whether a change to
//! code generation changed any of them.

use crate::suite::Suite;
use kiln_codegen::{finish, hand_coded_optimizations, lower, Source, Target};
use std::time::{Duration, Instant};

/// Rounds over the whole set of kernels.
const ROUNDS: usize = 5;

/// Phase times of one round, summed over the kernels.
#[derive(Clone, Copy, Default)]
struct Round {
    lower: Duration,
    heuristics: Duration,
    total: Duration,
}

impl Round {
    fn print(&self, what: &str, kernels: usize) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let rest = self.total.saturating_sub(self.lower + self.heuristics);
        eprintln!(
            "{what}: {:.1} ms for {kernels} kernels: lowering with index simplification {:.1}, heuristics {:.1}, \
             late passes, linearize and render {:.1}",
            ms(self.total),
            ms(self.lower),
            ms(self.heuristics),
            ms(rest)
        );
    }
}

/// The target a device of kind `name` compiles for, with the caps every device of that kind has.
fn target(name: &str) -> Result<Target, String> {
    match name.to_ascii_lowercase().as_str() {
        "cuda" => Ok(Target::CUDA),
        "vulkan" => Ok(Target::VULKAN),
        "cpu" => Ok(Target::CPU),
        other => Err(format!("--codegen-w9: unknown target `{other}` (expected cuda, vulkan or cpu)")),
    }
}

/// Runs the probe for the target named `name` on `suite`'s W9 (the GPU suite's unless `--quick`),
/// printing round 1 and the best later round.
pub fn run(name: &str, suite: Suite) -> Result<bool, String> {
    let target = target(name)?;
    let g = suite.sizes().w9.ok_or(format!("suite {} has no W9", suite.name()))?;
    let model = crate::gpt::Model::random(g);
    let tensors = model.upload().map_err(|e| e.to_string())?;
    let graph = crate::gpt::forward(g, &tensors).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let schedule = kiln_schedule::schedule(&[graph.uop()]).map_err(|e| e.to_string())?;
    let schedule_time = t0.elapsed();
    let asts: Vec<_> = schedule.kernels.iter().map(|k| k.ast.clone()).collect();
    let mut rounds = Vec::with_capacity(ROUNDS);
    let mut sources: Vec<Vec<u8>> = Vec::new();
    for round in 0..ROUNDS {
        let mut r = Round::default();
        for ast in &asts {
            let t0 = Instant::now();
            let kernel = lower(ast).map_err(|e| e.to_string())?;
            let t1 = Instant::now();
            let (optimised, opts) = hand_coded_optimizations(&kernel, &target.caps);
            let t2 = Instant::now();
            let (_, source) = finish(&optimised, opts, &target).map_err(|e| e.to_string())?;
            let t3 = Instant::now();
            if round == 0 {
                sources.push(match &source {
                    Source::Text(t) => t.as_bytes().to_vec(),
                    Source::Spirv(words) => words.iter().flat_map(|w| w.to_le_bytes()).collect(),
                });
            }
            r.lower += t1 - t0;
            r.heuristics += t2 - t1;
            r.total += t3 - t0;
        }
        rounds.push(r);
    }
    eprintln!(
        "W9 ({}x{}x{}, {} layers) for {name}: schedule {:.1} ms, {} kernels, sources digest {}",
        g.batch,
        g.tokens,
        g.width,
        g.layers,
        schedule_time.as_secs_f64() * 1e3,
        asts.len(),
        &kiln_runtime::content_hash(&sources.iter().map(Vec::as_slice).collect::<Vec<_>>())[..16]
    );
    rounds[0].print("round 1 (fresh process)", asts.len());
    let best = rounds[1..].iter().min_by_key(|r| r.total).copied().unwrap_or(rounds[0]);
    best.print(&format!("best of rounds 2-{ROUNDS}"), asts.len());
    Ok(true)
}

#[cfg(test)]
mod tests {
    /// The probe runs for every target on the quick suite's W9, and an unknown target is an error.
    #[test]
    fn the_codegen_probe_runs_for_every_target() {
        for target in ["cuda", "vulkan", "cpu"] {
            assert_eq!(super::run(target, crate::suite::Suite::Quick), Ok(true), "{target}");
        }
        assert!(super::run("metal", crate::suite::Suite::Quick).is_err());
    }
}
