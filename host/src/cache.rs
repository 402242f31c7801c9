//! Compiled components on disk. Loading one runs its native code unchecked
//! (`Component::deserialize` trusts its input), so each artifact is stored
//! with the SHA-256 of its bytes, and only bytes that match are loaded: the
//! very bytes checked, read once, so the file cannot change in between. This
//! catches corruption and partial writes, not someone able to rewrite both
//! files.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::private_file::{create_private_dir, write_private};

/// A cache directory of `<key>.cwasm` artifacts, each beside its
/// `<key>.cwasm.sha256`.
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    /// Whether the "cannot write" warning was given: once is enough.
    warned: AtomicBool,
}

impl ArtifactCache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            warned: AtomicBool::new(false),
        }
    }

    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The key of `component` compiled by `engine`: its content hash and
    /// the engine's compatibility hash (version, configuration, target).
    pub(crate) fn key(engine: &Engine, component: &[u8]) -> String {
        struct ShaHasher(Sha256);
        impl Hasher for ShaHasher {
            fn write(&mut self, bytes: &[u8]) {
                self.0.update(bytes);
            }
            fn finish(&self) -> u64 {
                0
            }
        }
        let mut hasher = ShaHasher(Sha256::new());
        hasher.write(component);
        engine.precompile_compatibility_hash().hash(&mut hasher);
        format!("{:x}", hasher.0.finalize())
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        let artifact = self.dir.join(format!("{key}.cwasm"));
        let digest = self.dir.join(format!("{key}.cwasm.sha256"));
        (artifact, digest)
    }

    /// The artifact stored under `key` when its bytes match their recorded
    /// digest; otherwise None (with a warning when one was there), and the
    /// caller compiles and stores it again.
    pub(crate) fn load(&self, engine: &Engine, key: &str) -> Option<Component> {
        let (artifact, digest) = self.paths(key);
        let bytes = match std::fs::read(&artifact) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(
                    "cannot read cached component {}: {e}; recompiling",
                    artifact.display()
                );
                return None;
            }
        };
        let recorded = std::fs::read_to_string(&digest).unwrap_or_default();
        if recorded.trim() != format!("{:x}", Sha256::digest(&bytes)) {
            tracing::warn!(
                "cached component {} does not match its recorded SHA-256 digest (corrupt or partly written); recompiling",
                artifact.display()
            );
            return None;
        }
        // SAFETY: these bytes are the ones `store` wrote, as their digest
        // shows, from `Component::serialize` on an engine of this
        // compatibility hash (part of the key), in a directory created
        // owner-only.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(
                    "cannot load cached component {}: {e}; recompiling",
                    artifact.display()
                );
                None
            }
        }
    }

    /// Stores `artifact` under `key`: the artifact, then its digest, each
    /// replaced atomically (a crash between them leaves a mismatch, which
    /// the next load repairs).
    pub(crate) fn store(&self, key: &str, artifact: &[u8]) {
        let (artifact_path, digest_path) = self.paths(key);
        let digest = format!("{:x}\n", Sha256::digest(artifact));
        let written = create_private_dir(&self.dir)
            .and_then(|()| write_private(&artifact_path, artifact))
            .and_then(|()| write_private(&digest_path, digest.as_bytes()));
        if let Err(e) = written
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "cannot write the component cache {}: {e}; the component is compiled on every start until it can",
                self.dir.display()
            );
        }
    }
}
