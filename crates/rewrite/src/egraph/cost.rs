//! The extraction cost: division and remainder weigh ten times any other node, so the extractor first
//! removes div/mod and then counts nodes. It must not look at intervals.

use super::language::IndexLang;
use egg::{CostFunction, Id, Language};

/// Weight of one `/` or `%` node.
const DIV_MOD_WEIGHT: usize = 10;

/// Tree cost preferring fewer div/mod, then fewer nodes.
pub struct DivModCost;

impl CostFunction<IndexLang> for DivModCost {
    type Cost = usize;

    fn cost<C>(&mut self, enode: &IndexLang, mut costs: C) -> usize
    where
        C: FnMut(Id) -> usize,
    {
        let own = if enode.is_div_mod() { DIV_MOD_WEIGHT } else { 1 };
        enode.fold(own, |sum, id| sum.saturating_add(costs(id)))
    }
}
