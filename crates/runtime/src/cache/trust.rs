//! Whether the cache may be trusted: kiln loads shared objects and PTX from it, so a folder or entry
//! that another local user could have written is never used. Folders kiln creates get mode 0700. A
//! folder or entry is trusted when it is owned by the current user (or root) and is not writable by
//! group or others; an entry must also be a regular file, not a link.

use std::fs::{DirBuilder, Metadata};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// Why a cache folder or entry is not trusted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Untrusted {
    /// It cannot be created or inspected.
    #[error("cannot create or inspect it: {0}")]
    Io(#[from] std::io::Error),
    /// Another user owns it.
    #[error("it is owned by uid {owner}, not by uid {user}")]
    Owner {
        /// Its owner.
        owner: u32,
        /// The current (effective) user.
        user: u32,
    },
    /// Group or others may write it.
    #[error("its mode {0:o} lets group or others write it")]
    Writable(u32),
    /// It is not the kind of file expected.
    #[error("it is not a {0}")]
    Kind(&'static str),
}

/// The effective user id of this process.
fn current_user() -> u32 {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn check_owner_and_mode(meta: &Metadata) -> Result<(), Untrusted> {
    let (owner, user) = (meta.uid(), current_user());
    if owner != user && owner != 0 {
        return Err(Untrusted::Owner { owner, user });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Untrusted::Writable(mode));
    }
    Ok(())
}

/// Creates `dir` and any missing parents with mode 0700, then checks that `dir` is a trusted folder.
pub(crate) fn private_dir(dir: &Path) -> Result<(), Untrusted> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(Untrusted::Kind("folder"));
    }
    check_owner_and_mode(&meta)
}

/// Checks that the entry at `path` is a trusted regular file (a link is not followed).
pub(crate) fn check_entry(path: &Path) -> Result<(), Untrusted> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(Untrusted::Kind("regular file"));
    }
    check_owner_and_mode(&meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn created_folders_are_private() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("kiln").join("cpu");
        private_dir(&dir).unwrap();
        for d in [base.path().join("kiln"), dir] {
            assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700, "{}", d.display());
        }
    }

    #[test]
    fn writable_folders_and_entries_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("shared");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o777);
        assert!(matches!(private_dir(&dir), Err(Untrusted::Writable(0o777))));
        set_mode(&dir, 0o755);
        private_dir(&dir).unwrap();
        let entry = dir.join("k.so");
        std::fs::write(&entry, b"x").unwrap();
        set_mode(&entry, 0o644);
        check_entry(&entry).unwrap();
        set_mode(&entry, 0o664);
        assert!(matches!(check_entry(&entry), Err(Untrusted::Writable(0o664))));
        let link = dir.join("link.so");
        std::os::unix::fs::symlink(&entry, &link).unwrap();
        assert!(matches!(check_entry(&link), Err(Untrusted::Kind(_))));
        assert!(matches!(check_entry(&dir.join("missing.so")), Err(Untrusted::Io(_))));
    }

    #[test]
    fn foreign_owners_are_refused() {
        if current_user() != 0 {
            eprintln!("=== SKIPPED foreign_owners_are_refused: only root can give a file to another user ===");
            return;
        }
        let base = tempfile::tempdir().unwrap();
        let entry = base.path().join("k.so");
        std::fs::write(&entry, b"x").unwrap();
        std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
        assert!(matches!(check_entry(&entry), Err(Untrusted::Owner { owner: 65534, .. })));
        std::os::unix::fs::chown(base.path(), Some(65534), None).unwrap();
        assert!(matches!(private_dir(base.path()), Err(Untrusted::Owner { owner: 65534, .. })));
    }
}
