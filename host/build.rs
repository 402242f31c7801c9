//! Embeds the release component that `scripts/build` makes, so the
//! `intercom-connector` binary runs without a `.wasm` beside it. Building the
//! component here instead would need a second cargo inside this one, with a
//! target directory of its own, and compile it twice in a workspace build.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=INTERCOM_CONNECTOR_WASM");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let wasm = match std::env::var_os("INTERCOM_CONNECTOR_WASM") {
        Some(path) => PathBuf::from(path),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest.join("../target"))
            .join("wasm32-wasip2/release/intercom_connector.wasm"),
    };
    println!("cargo:rerun-if-changed={}", wasm.display());
    if !wasm.is_file() {
        panic!(
            "the connector component {} is missing: run scripts/build first (it needs the \
             wasm32-wasip2 target, which it installs with rustup), or point \
             INTERCOM_CONNECTOR_WASM at a built component",
            wasm.display()
        );
    }
    let wasm = wasm.canonicalize().expect("the component's path");
    println!(
        "cargo:rustc-env=INTERCOM_EMBEDDED_COMPONENT={}",
        wasm.display()
    );
}
