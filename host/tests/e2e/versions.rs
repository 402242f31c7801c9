//! One version everywhere: the binary's `--version`, `--about` and the
//! component's crate share the workspace's, and the changelog has its entry.

use std::process::Command;

use crate::support::{component_path, root};
use serde_json::Value;

/// `version = "…"` under `[workspace.package]` of the root manifest.
fn workspace_version() -> String {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let section = manifest.split("[workspace.package]").nth(1).unwrap();
    let line = section
        .lines()
        .find(|l| l.trim_start().starts_with("version"))
        .unwrap();
    line.split('"').nth(1).unwrap().to_owned()
}

#[test]
fn the_binary_about_component_and_changelog_agree_on_the_version() {
    let version = workspace_version();
    assert_eq!(env!("CARGO_PKG_VERSION"), version);
    for manifest in ["Cargo.toml", "host/Cargo.toml"] {
        let text = std::fs::read_to_string(root().join(manifest)).unwrap();
        let package = text.split("[package]").nth(1).unwrap();
        let package = package.split("\n[").next().unwrap();
        assert!(
            package.contains("version.workspace = true"),
            "{manifest} takes the workspace's version"
        );
    }
    let binary = env!("CARGO_BIN_EXE_intercom-connector");
    let printed = Command::new(binary).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(printed.stdout).unwrap().trim(),
        format!("intercom-connector {version}")
    );
    let dir = tempfile::tempdir().unwrap();
    let about = Command::new(binary)
        .args(["--about", "--format", "json", "--component"])
        .arg(component_path())
        .arg("--cache-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(about.status.success());
    let about: Value = serde_json::from_slice(&about.stdout).unwrap();
    assert_eq!(about["version"], version.as_str());
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## [{version}]")),
        "CHANGELOG.md has no entry for {version}"
    );
}
