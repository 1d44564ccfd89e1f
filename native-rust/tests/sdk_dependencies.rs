//! The SDK crate depends on Aeron and the transport codecs only (issue 10): no HTML parser or
//! other application crate may reach a service author's build through `polybridge-worker`.

use std::path::PathBuf;
use std::process::Command;

/// Crates of the web-scan app that once lived in this crate.
const APP_CRATES: [&str; 5] = ["html5ever", "url", "tlsh2", "encoding_rs", "webscan"];

#[test]
fn cargo_tree_of_the_sdk_has_no_application_crate() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked", "-p", "polybridge-worker", "--prefix", "none", "--edges", "normal,build"])
        .arg("--manifest-path")
        .arg(&workspace)
        .output()
        .expect("cargo tree runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8_lossy(&output.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(crates.contains(&"rusteron-client"), "unexpected cargo tree output:\n{tree}");
    let found: Vec<&&str> = crates.iter().filter(|name| APP_CRATES.contains(name)).collect();
    assert!(found.is_empty(), "polybridge-worker depends on {found:?}:\n{tree}");
}

/// The test worker's own crates (feature `test-worker`, on by default for the binary) stay out
/// of a service's build, which depends on the SDK with `default-features = false`.
#[test]
fn without_default_features_the_sdk_has_no_test_worker_crate() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked", "-p", "polybridge-worker", "--no-default-features"])
        .args(["--prefix", "none", "--edges", "normal,build", "--manifest-path"])
        .arg(&workspace)
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.lines().any(|line| line.starts_with("rusteron-client")), "unexpected cargo tree output:\n{tree}");
    assert!(!tree.lines().any(|line| line.starts_with("crc32c")), "crc32c without the test-worker feature:\n{tree}");
}
