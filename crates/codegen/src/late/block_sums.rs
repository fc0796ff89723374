//! Blocked long sums on the CPU (`block_sums`). A float sum long enough to carry a Kahan compensation
//! (see `linearize`) would make its whole loop scalar: the C compiler vectorises a reduction loop (an
//! in-order fold, the body of 16 iterations in one vector) only when its accumulator is a plain sum.
//! So its loop of `T` trips becomes an outer loop of `T / B` trips over an inner plain sum of `B`
//! trips (about [`BLOCK_ELEMENTS`] elements, which the compiler vectorises), and the compensation moves
//! to the outer sum of blocks. The error stays that of one block (256 copies of 0.1 summed this way in
//! f32, simulated with numpy: 3e-7 relative; the long-sum test asks 1e-6 of 2^22 copies).

use crate::linearize::{compensated, summands};
use crate::opt::{range_size, Kernel};
use kiln_uop::{Op, RangeKind, UOp};
use std::collections::HashMap;

/// Elements summed plainly in one block (trips times the copies an unroll sums per trip).
pub(crate) const BLOCK_ELEMENTS: i64 = 256;

/// The kernel with each long float sum over one loop split into compensated blocks.
pub(crate) fn block_sums(k: &Kernel) -> Kernel {
    let mut k = k.clone();
    let mut replace = HashMap::new();
    for reduce in k.reduces() {
        let [body, r] = reduce.src() else { continue };
        // A sum with a reduction inside stays as it is (its inner one may be blocked itself).
        let nested = body.toposort().iter().any(|u| u.op() == Op::Reduce);
        if !compensated(&reduce) || r.op() != Op::Range || nested {
            continue;
        }
        let (trips, block) = (range_size(r) as i64, BLOCK_ELEMENTS / summands(body));
        if block < 2 || trips % block != 0 || trips / block < 2 {
            continue;
        }
        let outer = k.new_range((trips / block) as usize, RangeKind::Reduce);
        let inner = k.new_range(block as usize, RangeKind::Reduce);
        let at = outer.mul(&UOp::index(block)).add(&inner);
        let body = body.substitute(&HashMap::from([(r.clone(), at)]));
        let plain = UOp::new(Op::Reduce, reduce.dtype(), vec![body, inner], reduce.arg().clone());
        replace.insert(reduce.clone(), UOp::new(Op::Reduce, reduce.dtype(), vec![plain, outer], reduce.arg().clone()));
    }
    if !replace.is_empty() {
        k.sink = k.sink.substitute(&replace);
    }
    k
}
