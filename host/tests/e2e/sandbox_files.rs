//! What the host leaves on disk: a compiled-component cache that checks what
//! it loads, and owner-only files (0600) and directories (0700).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support;
use intercom_host::sqlite::SqliteSink;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `--discover` with the given cache directory. Its API is a closed
/// loopback port: discovery goes on without the data attributes.
fn discover(dir: &Path, cache: &Path) -> Output {
    let config = dir.join("config.json");
    let text = r#"{"access_token": "test-token", "base_url": "http://127.0.0.1:1"}"#;
    std::fs::write(&config, text).unwrap();
    support::cli_running(&support::component_path(), cache)
        .arg("--config")
        .arg(config)
        .arg("--discover")
        .output()
        .unwrap()
}

/// The cached artifact and its digest file.
fn cached(cache: &Path) -> (PathBuf, PathBuf) {
    let mut names: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    match names.as_slice() {
        [artifact, digest]
            if artifact.extension().is_some_and(|e| e == "cwasm")
                && digest.to_string_lossy().ends_with(".cwasm.sha256") =>
        {
            (artifact.clone(), digest.clone())
        }
        other => panic!("unexpected cache contents: {other:?}"),
    }
}

const MISMATCH: &str = "does not match its recorded SHA-256 digest";

#[test]
fn a_corrupted_cached_component_is_recompiled_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let first = discover(dir.path(), &cache);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(mode(&cache), 0o700);
    let (artifact, digest) = cached(&cache);
    assert_eq!((mode(&artifact), mode(&digest)), (0o600, 0o600));
    let good = std::fs::read(&artifact).unwrap();

    // One flipped bit in the code: loaded unchecked, it crashed the host.
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x01;
    std::fs::write(&artifact, &bad).unwrap();
    let second = discover(dir.path(), &cache);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains(MISMATCH), "{}", stderr(&second));
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(std::fs::read(&artifact).unwrap(), good, "rewritten");
    assert_eq!(mode(&artifact), 0o600);

    // A truncated write is caught the same way; a good cache is quiet.
    std::fs::write(&artifact, &good[..good.len() / 3]).unwrap();
    let third = discover(dir.path(), &cache);
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(stderr(&third).contains(MISMATCH), "{}", stderr(&third));
    let fourth = discover(dir.path(), &cache);
    assert!(fourth.status.success(), "{}", stderr(&fourth));
    assert!(
        !stderr(&fourth).contains("cached component"),
        "{}",
        stderr(&fourth)
    );
    assert_eq!(fourth.stdout, first.stdout);
}

#[test]
fn an_unwritable_cache_is_reported_once_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the directory should be: even root cannot write there.
    let cache = dir.path().join("not-a-directory");
    std::fs::write(&cache, "").unwrap();
    let output = discover(dir.path(), &cache);
    assert!(output.status.success(), "{}", stderr(&output));
    let warnings = stderr(&output)
        .matches("cannot write the component cache")
        .count();
    assert_eq!(warnings, 1, "{}", stderr(&output));
}

#[test]
fn the_database_and_its_wal_and_shm_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("intercom.db");
    let sink = SqliteSink::open(&db).unwrap();
    for name in ["intercom.db", "intercom.db-wal", "intercom.db-shm"] {
        assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
    }
    drop(sink);
    // Reopening an existing database leaves it as it was.
    SqliteSink::open(&db).unwrap().finish().unwrap();
    assert_eq!(mode(&db), 0o600);
}
