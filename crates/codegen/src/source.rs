//! What a renderer produces: C-family text (C, CUDA C) or a SPIR-V module as words. `Display` prints
//! the text, or the SPIR-V disassembly (what `KILN_DEBUG=3` shows).

use rspirv::binary::Disassemble;
use std::fmt;

/// Rendered kernel source, handed to a device's compiler.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// C or CUDA C text.
    Text(String),
    /// A SPIR-V module (little-endian words, header included).
    Spirv(Vec<u32>),
}

impl Source {
    /// The text of a C-family source.
    pub fn text(&self) -> Option<&str> {
        match self {
            Source::Text(t) => Some(t),
            Source::Spirv(_) => None,
        }
    }

    /// The words of a SPIR-V module.
    pub fn spirv(&self) -> Option<&[u32]> {
        match self {
            Source::Spirv(w) => Some(w),
            Source::Text(_) => None,
        }
    }

    /// What kind of source this is, for error messages: `text` or `SPIR-V`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Text(_) => "text",
            Source::Spirv(_) => "SPIR-V",
        }
    }

    /// The bytes a cache key hashes: the text, or the words in little-endian order.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Source::Text(t) => t.as_bytes().to_vec(),
            Source::Spirv(w) => w.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Text(t) => f.write_str(t),
            Source::Spirv(words) => match rspirv::dr::load_words(words) {
                Ok(module) => writeln!(f, "{}", module.disassemble()),
                Err(e) => writeln!(f, "; unreadable SPIR-V module of {} words: {e}", words.len()),
            },
        }
    }
}
