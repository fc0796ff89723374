//! The e-graph language of index expressions: integer and boolean constants, leaf symbols and the
//! integer/boolean operators kiln's index arithmetic uses. It must not carry dtypes or UOp handles:
//! leaves are symbols that `convert.rs` maps back.

use egg::{define_language, Id, Symbol};

define_language! {
    /// An index expression node. Integer ops act on mathematical integers (`DType::Index`);
    /// `/` and `%` truncate toward zero like C; comparisons, `and`, `or`, `not` are boolean.
    pub enum IndexLang {
        "+" = Add([Id; 2]),
        "*" = Mul([Id; 2]),
        "/" = Div([Id; 2]),
        "%" = Mod([Id; 2]),
        "max" = Max([Id; 2]),
        "<" = Lt([Id; 2]),
        "!=" = Ne([Id; 2]),
        "==" = Eq([Id; 2]),
        "and" = And([Id; 2]),
        "or" = Or([Id; 2]),
        "where" = Where([Id; 3]),
        "neg" = Neg([Id; 1]),
        "not" = Not([Id; 1]),
        Bool(bool),
        Num(i64),
        Symbol(Symbol),
    }
}

impl IndexLang {
    /// True for nodes whose value is boolean.
    pub fn is_bool(&self) -> bool {
        matches!(
            self,
            IndexLang::Lt(_)
                | IndexLang::Ne(_)
                | IndexLang::Eq(_)
                | IndexLang::And(_)
                | IndexLang::Or(_)
                | IndexLang::Not(_)
                | IndexLang::Bool(_)
        )
    }

    /// True for the expensive integer ops the extractor avoids.
    pub fn is_div_mod(&self) -> bool {
        matches!(self, IndexLang::Div(_) | IndexLang::Mod(_))
    }
}
