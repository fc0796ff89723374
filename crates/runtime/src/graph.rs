//! Recorded launches and their replay. A [`Launch`] is one kernel with its resolved arguments; a list of
//! them, captured once, becomes a [`DeviceGraph`] (a CUDA graph, a recorded Vulkan command buffer, or
//! on other devices the list itself, launched in one batch) that later replays with some arguments
//! swapped ([`Patch`]). [`dependencies`] finds the real hazards between launches (read after write,
//! write after read, write after write), which devices use to order only what must be ordered, and
//! [`reduced`] keeps of them only the edges no longer path implies (what a captured graph is built from).

use crate::device::{CompiledKernel, Device, RawBuffer};
use crate::error::RuntimeError;
use kiln_codegen::Program;
use std::collections::HashMap;
use std::sync::Arc;

/// One kernel launch with its arguments (one buffer per parameter slot).
#[derive(Clone)]
pub struct Launch {
    /// The device's compiled kernel.
    pub kernel: CompiledKernel,
    /// The program it was compiled from (parameters, launch dimensions).
    pub program: Arc<Program>,
    /// The buffer of each parameter slot.
    pub args: Vec<RawBuffer>,
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Launch({} {:?})", self.program.name, self.args)
    }
}

/// At replay, launch `launch` takes `buffer` in parameter slot `slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patch {
    /// Index of the launch in the captured list.
    pub launch: usize,
    /// Parameter slot of that launch.
    pub slot: usize,
    /// The buffer it takes from now on.
    pub buffer: RawBuffer,
}

/// A captured list of launches that replays as one unit, in order, after the work queued before it.
/// The caller keeps every buffer the launches use alive while the graph may run.
pub trait DeviceGraph: Send {
    /// Applies `patches` (they persist into later replays) and queues the whole list once.
    fn replay(&mut self, patches: &[Patch]) -> Result<(), RuntimeError>;
}

/// For each launch, the earlier launches it must wait for: the last writer of each buffer it reads or
/// writes, and the readers since that write of each buffer it writes.
pub fn dependencies(launches: &[Launch]) -> Vec<Vec<usize>> {
    let mut last_write: HashMap<RawBuffer, usize> = HashMap::new();
    let mut reads_since: HashMap<RawBuffer, Vec<usize>> = HashMap::new();
    launches
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut deps = Vec::new();
            for (arg, param) in l.args.iter().zip(&l.program.params) {
                deps.extend(last_write.get(arg).copied());
                if param.written {
                    deps.extend(reads_since.get(arg).into_iter().flatten().copied());
                }
            }
            for (arg, param) in l.args.iter().zip(&l.program.params) {
                if param.written {
                    last_write.insert(*arg, i);
                    reads_since.remove(arg);
                } else {
                    reads_since.entry(*arg).or_default().push(i);
                }
            }
            deps.retain(|&d| d != i);
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect()
}

/// `deps` (as from [`dependencies`]: each launch's list of earlier launches) without the edges a longer
/// path already implies (the transitive reduction): launch `i` keeps a dependency `d` only if no other
/// launch it waits for already (directly or not) waits for `d`. Orders the same launches with fewer
/// edges, which a CUDA graph needs for a chain to overlap its launches. The search from each launch
/// goes back no further than its earliest dependency, so a chain costs a few steps per launch.
pub fn reduced(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::with_capacity(deps.len());
    let mut seen = vec![usize::MAX; deps.len()];
    let mut stack = Vec::new();
    for (i, direct) in deps.iter().enumerate() {
        let low = direct.iter().copied().min().unwrap_or(i);
        // Everything reachable backwards from a direct dependency (the dependency itself not counted).
        for &d in direct {
            stack.extend(out[d].iter().copied().filter(|&a| a >= low));
        }
        while let Some(a) = stack.pop() {
            if seen[a] != i {
                seen[a] = i;
                stack.extend(out[a].iter().copied().filter(|&b| b >= low && seen[b] != i));
            }
        }
        out.push(direct.iter().copied().filter(|&d| seen[d] != i).collect());
    }
    out
}

/// Applies `patches` to `launches`, checking that each names an existing launch and slot.
pub fn apply_patches(launches: &mut [Launch], patches: &[Patch]) -> Result<(), RuntimeError> {
    for p in patches {
        let count = launches.len();
        let launch = launches
            .get_mut(p.launch)
            .ok_or_else(|| RuntimeError::Replay(format!("patch of launch {} of {count}", p.launch)))?;
        let slots = launch.args.len();
        let arg = launch.args.get_mut(p.slot).ok_or_else(|| {
            RuntimeError::Replay(format!("patch of slot {} of launch {} ({slots} slots)", p.slot, p.launch))
        })?;
        *arg = p.buffer;
    }
    Ok(())
}

/// The graph of a device without a native one: the list, launched in one batch at each replay.
struct LaunchList {
    device: Arc<dyn Device>,
    launches: Vec<Launch>,
}

impl DeviceGraph for LaunchList {
    fn replay(&mut self, patches: &[Patch]) -> Result<(), RuntimeError> {
        apply_patches(&mut self.launches, patches)?;
        self.device.launch_batch(&self.launches)
    }
}

/// Captures `launches` as the device's own graph, or as a list launched in one batch where the device
/// has none. An empty list is an error: there is nothing to replay.
pub fn capture(device: &Arc<dyn Device>, launches: Vec<Launch>) -> Result<Box<dyn DeviceGraph>, RuntimeError> {
    if launches.is_empty() {
        return Err(RuntimeError::Replay("nothing was captured: the step launched no kernels".into()));
    }
    let deps = reduced(&dependencies(&launches));
    match device.capture(&launches, &deps)? {
        Some(graph) => Ok(graph),
        None => Ok(Box::new(LaunchList { device: Arc::clone(device), launches })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_codegen::{LaunchDims, Param};
    use kiln_uop::DType;

    fn launch(args: &[(u64, bool)]) -> Launch {
        let params =
            args.iter().map(|&(_, written)| Param { dtype: DType::F32, numel: 1, written, streamed: false }).collect();
        Launch {
            kernel: Arc::new(()),
            program: Arc::new(Program {
                name: "k".into(),
                instructions: vec![],
                params,
                global_size: 1,
                launch: LaunchDims::SINGLE,
                parallel_extent: 1,
                index_fits_i32: true,
                flops: 0,
                opts: vec![],
            }),
            args: args.iter().map(|&(b, _)| RawBuffer(b)).collect(),
        }
    }

    #[test]
    fn hazards_are_raw_war_and_waw_only() {
        let list = [
            launch(&[(1, true), (9, false)]), // 0 writes 1 (reads 9)
            launch(&[(2, true), (9, false)]), // 1 independent of 0
            launch(&[(3, true), (1, false)]), // 2 reads 1: after 0
            launch(&[(1, true), (2, false)]), // 3 rewrites 1: after 0 (WAW), 2 (WAR), reads 2: after 1
        ];
        assert_eq!(dependencies(&list), vec![vec![], vec![], vec![0], vec![0, 1, 2]]);
    }

    #[test]
    fn reduction_keeps_only_edges_no_path_implies() {
        // 3 waits for 0 (implied through 2), 1 and 2; 4 waits for 3 and 0 (implied through 3).
        let deps = vec![vec![], vec![], vec![0], vec![0, 1, 2], vec![0, 3]];
        assert_eq!(reduced(&deps), vec![vec![], vec![], vec![0], vec![1, 2], vec![3]]);
        // A chain whose buffers alternate: each launch also waits for the one two back (WAW), implied.
        let list: Vec<Launch> = (0..6u64)
            .map(|k| launch(&[(2 + k % 2, true), (if k == 0 { 9 } else { 2 + (k + 1) % 2 }, false)]))
            .collect();
        let deps = dependencies(&list);
        assert!(deps[3].contains(&1), "the alternating chain has its second edges: {deps:?}");
        assert_eq!(reduced(&deps), vec![vec![], vec![0], vec![1], vec![2], vec![3], vec![4]]);
        // Independent launches stay independent; a diamond keeps both sides.
        let diamond = vec![vec![], vec![0], vec![0], vec![1, 2]];
        assert_eq!(reduced(&diamond), diamond);
    }

    /// Which launches each launch waits for, directly or not (`deps` in launch order).
    fn closure(deps: &[Vec<usize>]) -> Vec<Vec<bool>> {
        let mut reach = vec![vec![false; deps.len()]; deps.len()];
        for (i, direct) in deps.iter().enumerate() {
            for &d in direct {
                let below = reach[d].clone();
                for (r, b) in reach[i].iter_mut().zip(below) {
                    *r |= b;
                }
                reach[i][d] = true;
            }
        }
        reach
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// On random launch orders the reduction keeps every ordering (same transitive closure) and
        /// no edge another path implies.
        #[test]
        fn reduction_keeps_the_order_and_drops_every_implied_edge(
            picks in proptest::collection::vec(proptest::collection::vec(0usize..1000, 0..4), 1..40),
        ) {
            let deps: Vec<Vec<usize>> = picks
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut d: Vec<usize> = if i == 0 { vec![] } else { p.iter().map(|x| x % i).collect() };
                    d.sort_unstable();
                    d.dedup();
                    d
                })
                .collect();
            let kept = reduced(&deps);
            let reach = closure(&kept);
            proptest::prop_assert_eq!(&reach, &closure(&deps));
            for (i, direct) in kept.iter().enumerate() {
                for &d in direct {
                    let implied = direct.iter().any(|&o| o != d && reach[o][d]);
                    proptest::prop_assert!(!implied, "launch {} keeps {} though another dependency implies it", i, d);
                }
            }
        }
    }

    #[test]
    fn patches_outside_the_list_are_errors() {
        let mut list = vec![launch(&[(1, true)])];
        apply_patches(&mut list, &[Patch { launch: 0, slot: 0, buffer: RawBuffer(7) }]).unwrap();
        assert_eq!(list[0].args, vec![RawBuffer(7)]);
        assert!(apply_patches(&mut list, &[Patch { launch: 1, slot: 0, buffer: RawBuffer(7) }]).is_err());
        assert!(apply_patches(&mut list, &[Patch { launch: 0, slot: 1, buffer: RawBuffer(7) }]).is_err());
    }
}
