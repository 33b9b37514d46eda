//! Helpers for end-to-end tests: run the real `firewatch` binary from the
//! workspace root, the way a newcomer does.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root, where `pipelines/` and `fixtures/` are.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The shared LogHub samples.
pub fn loghub() -> PathBuf {
    let dir = root().join("../shared/data/loghub");
    assert!(dir.is_dir(), "LogHub samples missing at {}", dir.display());
    dir
}

/// A `firewatch` command run from the workspace root, with no data dir
/// inherited from the environment.
pub fn firewatch() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_firewatch"));
    command
        .current_dir(root())
        .env_remove("FIREWATCH_DATA_DIR")
        .env_remove("FIREWATCH_LOG");
    command
}

/// Runs a command and returns its output, failing the test with its stderr
/// when it exits non-zero.
pub fn success(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Stdout parsed as JSON lines.
pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

/// Every event committed to the index under `data_dir` (none before the
/// first commit), read through the index itself rather than the CLI, so
/// that large counts stay cheap.
pub fn indexed_events(data_dir: &Path) -> Vec<firewatch_event::Event> {
    if !data_dir.join("logs").exists() {
        return Vec::new();
    }
    let reader = firewatch_index::IndexReader::open(data_dir).unwrap();
    let request = firewatch_index::SearchRequest {
        limit: usize::MAX,
        ..firewatch_index::SearchRequest::default()
    };
    reader
        .search(&request)
        .unwrap()
        .hits
        .into_iter()
        .map(|hit| hit.event)
        .collect()
}

/// The standard output of `firewatch ARGS`, which must succeed.
pub fn stdout_of(args: &[&str]) -> String {
    String::from_utf8(success(firewatch().args(args)).stdout).unwrap()
}

/// `(start, count)` of each bucket `search --histogram ... --json` printed.
pub fn histogram_buckets(output: &Output) -> Vec<(String, u64)> {
    json_lines(output)
        .iter()
        .map(|bucket| {
            (
                bucket["start"].as_str().unwrap().to_owned(),
                bucket["count"].as_u64().unwrap(),
            )
        })
        .collect()
}
