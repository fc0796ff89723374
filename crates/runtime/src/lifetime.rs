//! Buffer planning by lifetime: the buffers a schedule allocates that are not outputs live from the
//! kernel that first writes them to the last kernel that reads them; one whose lifetime has ended lends
//! its memory to a later one of similar size, so a chain of 100 kernels needs two scratch buffers, not 99.

use kiln_schedule::{BufferRef, Schedule};

/// A later buffer may take an ended one of up to this many times its own size.
const SLACK: usize = 2;

/// For each of `schedule.buffers`, the index of the physical buffer it uses, and each physical buffer's
/// size in bytes. Outputs always get a physical buffer of their own.
pub(crate) fn plan_buffers(schedule: &Schedule) -> (Vec<usize>, Vec<usize>) {
    let n = schedule.buffers.len();
    let bytes: Vec<usize> = schedule.buffers.iter().map(|b| b.numel * b.dtype.size()).collect();
    let mut output = vec![false; n];
    for o in &schedule.outputs {
        if let BufferRef::New(i) = o {
            output[*i] = true;
        }
    }
    let (mut first, mut last) = (vec![usize::MAX; n], vec![0usize; n]);
    for (k, kernel) in schedule.kernels.iter().enumerate() {
        for arg in &kernel.args {
            if let BufferRef::New(i) = arg {
                first[*i] = first[*i].min(k);
                last[*i] = k;
            }
        }
    }
    let mut physical: Vec<usize> = Vec::new();
    let mut assigned = vec![usize::MAX; n];
    let mut free: Vec<usize> = Vec::new();
    let take = |i: usize, physical: &mut Vec<usize>, free: &mut Vec<usize>| {
        let fit = free
            .iter()
            .enumerate()
            .filter(|(_, &p)| physical[p] >= bytes[i] && physical[p] <= bytes[i].saturating_mul(SLACK).max(64))
            .min_by_key(|(_, &p)| physical[p])
            .map(|(at, _)| at);
        match fit {
            Some(at) => free.swap_remove(at),
            None => {
                physical.push(bytes[i]);
                physical.len() - 1
            }
        }
    };
    let (mut starts, mut ends) = (vec![Vec::new(); schedule.kernels.len()], vec![Vec::new(); schedule.kernels.len()]);
    for i in (0..n).filter(|&i| first[i] != usize::MAX) {
        starts[first[i]].push(i);
        if !output[i] {
            ends[last[i]].push(i);
        }
    }
    for (starting, ending) in starts.into_iter().zip(ends) {
        for i in starting {
            assigned[i] = if output[i] {
                physical.push(bytes[i]);
                physical.len() - 1
            } else {
                take(i, &mut physical, &mut free)
            };
        }
        free.extend(ending.into_iter().map(|i| assigned[i]));
    }
    // Buffers no kernel touches (an output computed by no launch) still get their own memory.
    for i in 0..n {
        if assigned[i] == usize::MAX {
            physical.push(bytes[i]);
            assigned[i] = physical.len() - 1;
        }
    }
    (assigned, physical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_schedule::{BufferSpec, Kernel};
    use kiln_uop::{Arg, DType, Op, UOp};

    fn kernel(args: Vec<BufferRef>) -> Kernel {
        Kernel { ast: UOp::new(Op::Sink, DType::Void, vec![], Arg::None), args }
    }

    #[test]
    fn a_chain_reuses_two_scratch_buffers_and_keeps_outputs_apart() {
        // k_i writes New(i) from New(i-1); New(9) is the output.
        let kernels = (0..10)
            .map(|i| {
                let mut args = vec![BufferRef::New(i)];
                args.push(if i == 0 { BufferRef::Input(1) } else { BufferRef::New(i - 1) });
                kernel(args)
            })
            .collect();
        let schedule = Schedule {
            kernels,
            buffers: vec![BufferSpec { numel: 256, dtype: DType::F32 }; 10],
            outputs: vec![BufferRef::New(9)],
        };
        let (assigned, physical) = plan_buffers(&schedule);
        assert_eq!(physical.len(), 3, "{assigned:?}");
        for k in 1..10 {
            assert_ne!(assigned[k], assigned[k - 1], "a kernel's input and output never share memory");
        }
        assert!(assigned[..9].iter().all(|&p| p != assigned[9]), "the output has its own buffer");
    }
}
