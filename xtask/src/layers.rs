//! `check-layers`: fails when a kiln crate depends on a crate at or below its own layer.
//!
//! Order, lowest first: uop, rewrite, schedule, codegen, runtime, then cuda and vulkan as siblings,
//! then kiln. Dev-dependencies are exempt (tests may use higher layers).

use serde_json::Value;
use std::process::Command;

const ORDER: [(&str, u32); 8] = [
    ("kiln-uop", 0),
    ("kiln-rewrite", 1),
    ("kiln-schedule", 2),
    ("kiln-codegen", 3),
    ("kiln-runtime", 4),
    ("kiln-cuda", 5),
    ("kiln-vulkan", 5),
    ("kiln", 6),
];

fn rank(name: &str) -> Option<u32> {
    ORDER.iter().find(|(n, _)| *n == name).map(|&(_, r)| r)
}

/// Every forbidden edge in `cargo metadata` output, as `"a depends on b"` lines.
pub fn violations(metadata: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let Some(name) = package["name"].as_str() else { continue };
        let Some(mine) = rank(name) else { continue };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let Some(dep_name) = dep["name"].as_str() else { continue };
            if let Some(theirs) = rank(dep_name) {
                if theirs >= mine {
                    out.push(format!("{name} (layer {mine}) depends on {dep_name} (layer {theirs})"));
                }
            }
        }
    }
    out
}

/// Runs `cargo metadata` on the workspace and checks it.
pub fn check_workspace() -> Result<(), String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout).map_err(|e| format!("bad cargo metadata: {e}"))?;
    let bad = violations(&metadata);
    if bad.is_empty() {
        eprintln!("xtask check-layers: ok");
        Ok(())
    } else {
        Err(format!("layer order broken:\n  {}", bad.join("\n  ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(name: &str, deps: &[(&str, &str)]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(n, k)| json!({"name": n, "kind": if k.is_empty() { Value::Null } else { json!(k) }}))
            .collect();
        json!({"name": name, "dependencies": deps})
    }

    #[test]
    fn downward_edges_pass() {
        let meta = json!({"packages": [
            package("kiln-rewrite", &[("kiln-uop", "")]),
            package("kiln", &[("kiln-runtime", ""), ("kiln-cuda", "")]),
            package("kiln-uop", &[("kiln", "dev")]),
        ]});
        assert!(violations(&meta).is_empty());
    }

    #[test]
    fn upward_and_sibling_edges_fail() {
        let meta = json!({"packages": [
            package("kiln-uop", &[("kiln-rewrite", "")]),
            package("kiln-cuda", &[("kiln-vulkan", "")]),
            package("kiln-codegen", &[("kiln-codegen", "build")]),
        ]});
        let bad = violations(&meta);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[0].contains("kiln-uop (layer 0) depends on kiln-rewrite"));
    }

    #[test]
    fn this_workspace_keeps_the_order() {
        assert_eq!(check_workspace(), Ok(()));
    }
}
