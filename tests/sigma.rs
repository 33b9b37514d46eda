//! Sigma rules through the real binary: the shipped Sigma pack lints and
//! passes its tests, and an unsupported part is reported by rule and place.

mod common;

use common::{firewatch, stdout_of, success};

#[test]
fn the_sigma_pack_lints_and_passes_its_tests() {
    assert_eq!(
        stdout_of(&["rules", "lint", "pipelines/sigma"]).trim(),
        "ok: 3 rules"
    );
    let stdout = stdout_of(&["rules", "test", "pipelines/sigma"]);
    assert!(
        stdout.contains("6 tests in 3 files: 6 passed, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn sigma_and_firewatch_rules_load_side_by_side() {
    let lint = success(firewatch().args(["rules", "lint", "pipelines/rules", "pipelines/sigma"]));
    let stdout = String::from_utf8_lossy(&lint.stdout).into_owned();
    assert!(stdout.starts_with("ok: "), "{stdout}");
}

#[test]
fn an_unsupported_modifier_names_the_rule_and_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encoded.yml");
    std::fs::write(
        &path,
        "title: Encoded command\nname: encoded\nlevel: high\ndetection:\n  sel:\n    \
         CommandLine|base64offset|contains: evil\n  condition: sel\n",
    )
    .unwrap();
    let output = firewatch()
        .args(["rules", "lint"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let expected = format!(
        "{}:6:5: sigma rule `encoded` (Encoded command): modifier `base64offset` is not supported",
        path.display()
    );
    assert!(stdout.contains(&expected), "{stdout}");
}
