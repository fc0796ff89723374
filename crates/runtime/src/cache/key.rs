//! Cache keys: a BLAKE3 hash of the parts that decide an artefact (source, compiler version, flags,
//! architecture), each prefixed by its length so that no two different part lists hash alike.

/// The BLAKE3 hash of `parts` (each prefixed by its length), as 64 hex digits. Stable across builds,
/// platforms and Rust versions, unlike `std`'s hasher.
pub fn content_hash(parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_separates_parts() {
        assert_eq!(content_hash(&[b"ab", b"c"]), content_hash(&[b"ab", b"c"]));
        assert_ne!(content_hash(&[b"ab", b"c"]), content_hash(&[b"a", b"bc"]));
        assert_ne!(content_hash(&[b"ab"]), content_hash(&[b"ab", b""]));
        // Keys must not change between builds or releases, or every cache is invalidated.
        assert_eq!(content_hash(&[b"kiln", b"v1"]), "010f6a0cb13373d3dd57feb89663617a7d961d9ebaecffbf0183c048788c2a76");
        assert_eq!(content_hash(&[b"kiln"]).len(), 64);
    }
}
