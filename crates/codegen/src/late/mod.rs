//! Late passes, run after the opts in this order: `expand` (upcast and unroll axes become copies),
//! `group_reduce` (a grouped reduction combines per-thread partials through local memory), `gpudims`
//! (output and local axes become hardware indices and the launch's dimensions).

mod expand;
mod gpudims;
mod group_reduce;

pub(crate) use expand::expand;
pub(crate) use gpudims::{gpudims, Placed};
pub(crate) use group_reduce::group_reduce;
