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

const DASHES: &str = "title: Dashed option\nname: dashed\nlevel: high\ndetection:\n  sel:\n    \
    CommandLine|windash|contains: ' -enc '\n  condition: sel\n";

#[test]
fn an_unsupported_modifier_skips_the_rule_with_a_warning_naming_it_and_its_place() {
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
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let expected = format!(
        "warning: {}:6:5: sigma rule `encoded` (Encoded command) skipped: modifier \
         `base64offset` is not supported\nok: 0 rules, 1 sigma rule skipped\n",
        path.display()
    );
    assert_eq!(stdout, expected);

    // An error beside it still fails the lint.
    std::fs::write(
        dir.path().join("broken.yml"),
        "title: T\nname: b\ndetection: {}\n",
    )
    .unwrap();
    let output = firewatch()
        .args(["rules", "lint"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn run_detects_with_the_supported_rules_and_warns_about_the_skipped_one() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("failed.yml"),
        "title: Failed login\nname: failed-login\nlevel: high\n\
         detection:\n  keywords: ['failed password']\n  condition: keywords\n",
    )
    .unwrap();
    std::fs::write(rules.join("dashes.yml"), DASHES).unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        "{\"ts\": \"2026-11-26T10:00:00Z\", \"host\": \"web-01\", \"msg\": \"Failed password for root\"}\n",
    )
    .unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[[sources]]\nname = \"auth\"\ntype = \"file\"\npaths = [{:?}]\nformat = \"json\"\n\
             start_at = \"beginning\"\n\n[rules]\npaths = [{:?}]\n",
            log.display().to_string(),
            rules.display().to_string()
        ),
    )
    .unwrap();
    let output = success(
        firewatch()
            .arg("run")
            .arg(&pipeline)
            .arg("--json")
            .arg("--data-dir")
            .arg(dir.path().join("data")),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r#""rule":"failed-login""#), "{stdout}");
    assert!(stdout.contains(r#""sigma_rules_skipped":1"#), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warning = format!(
        "{}:6:5: sigma rule `dashed` (Dashed option) skipped: modifier `windash` is not supported",
        rules.join("dashes.yml").display()
    );
    assert!(stderr.contains(&warning), "{stderr}");
    assert!(
        stderr.contains("1 sigma rule skipped; 1 rule loaded"),
        "{stderr}"
    );
}
