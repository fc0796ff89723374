//! Late passes, run after the opts in this order: `expand` (upcast and unroll axes become copies),
//! `group_reduce` (a grouped reduction combines per-thread partials by warp shuffles where the device
//! has warps, else through local memory), `gpudims`
//! (output and local axes become hardware indices and the launch's dimensions). Where the target's caps
//! allow (CUDA), `vectorize` (runs of consecutive loads and stores become vector accesses) runs before
//! `gpudims`. On the CPU, `block_sums` (long compensated sums in blocks the C compiler vectorises)
//! runs after `expand`. Last, `decompose` rewrites the ops some target lacks into primitives, once for every
//! renderer. After linearization, `streamed` marks the inputs whose loads carry the evict-first hint.

mod block_sums;
mod decompose;
mod expand;
mod gpudims;
mod group_reduce;
mod streamed;
mod vectorize;

pub(crate) use block_sums::block_sums;
pub(crate) use decompose::decompose;
pub(crate) use expand::expand;
pub(crate) use gpudims::{gpudims, Placed};
pub(crate) use group_reduce::group_reduce;
pub(crate) use streamed::mark_streamed;
pub(crate) use vectorize::{lanes as vector_lanes, vectorize};
