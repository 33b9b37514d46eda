//! Finding and reading rule files.
//!
//! A rules path is a file (read whatever its name) or a directory: every
//! `*.yml` and `*.yaml` under it but rule tests (`*.test.yml`), recursively,
//! in path order, so that the same directory always loads the same way.
//! Hidden entries (`.git`) are skipped. Symbolic links to directories are
//! followed (a rules directory often links in a shared pack), each real
//! directory once, which rules out cycles and duplicates.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::diagnostic::Diagnostic;
use crate::limits::MAX_RULE_FILE_BYTES;

/// Every rule file under `paths`, each once, with the paths that could not
/// be read.
pub(crate) fn rule_files(paths: &[impl AsRef<Path>]) -> (Vec<PathBuf>, Vec<(PathBuf, io::Error)>) {
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for path in paths {
        let path = path.as_ref();
        match fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                let mut found = Vec::new();
                walk(path, &mut found, &mut failures, &mut HashSet::new());
                found.sort();
                files.extend(found);
            }
            Ok(_) => files.push(path.to_owned()),
            Err(error) => failures.push((path.to_owned(), error)),
        }
    }
    let mut seen = HashSet::new();
    files.retain(|file| seen.insert(file.clone()));
    (files, failures)
}

/// How the rule files under some rules paths look on disk: which files
/// there are, with the size and modification time of each. Two stamps of
/// the same paths differ when a file was added, removed, renamed or
/// written, which is when the rules are worth loading again; comparing
/// stamps reads metadata only, never the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFilesStamp {
    /// Every rule file found, with its size and modification time (`None`
    /// when its metadata could not be read).
    files: Vec<(PathBuf, Option<(u64, SystemTime)>)>,
    /// Paths that could not be read, so that one vanishing is a change too.
    unreadable: Vec<PathBuf>,
}

impl RuleFilesStamp {
    /// The stamp of the rule files under `paths` now (files and
    /// directories, as [`RuleSet::load`](crate::RuleSet::load) takes them).
    pub fn read(paths: &[impl AsRef<Path>]) -> Self {
        let (files, failures) = rule_files(paths);
        Self {
            files: files
                .into_iter()
                .map(|file| {
                    let seen = fs::metadata(&file)
                        .ok()
                        .and_then(|meta| Some((meta.len(), meta.modified().ok()?)));
                    (file, seen)
                })
                .collect(),
            unreadable: failures.into_iter().map(|(path, _)| path).collect(),
        }
    }
}

/// Collects the rule files under `directory`, in path order, entering
/// each real directory (`visited`, canonical paths) once.
fn walk(
    directory: &Path,
    found: &mut Vec<PathBuf>,
    failures: &mut Vec<(PathBuf, io::Error)>,
    visited: &mut HashSet<PathBuf>,
) {
    let real = match fs::canonicalize(directory) {
        Ok(real) => real,
        Err(error) => {
            failures.push((directory.to_owned(), error));
            return;
        }
    };
    if !visited.insert(real) {
        return;
    }
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => {
            failures.push((directory.to_owned(), error));
            return;
        }
    };
    let mut paths = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) if entry.file_name().to_string_lossy().starts_with('.') => {}
            Ok(entry) => paths.push(entry.path()),
            Err(error) => failures.push((directory.to_owned(), error)),
        }
    }
    // In path order, so that of two ways into one directory the same one
    // is always taken.
    paths.sort();
    for path in paths {
        // Follows symbolic links.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, found, failures, visited);
        } else if is_rule_file_name(&path) && meta.is_file() {
            found.push(path);
        }
    }
}

/// `*.yml` and `*.yaml`, except rule tests (`*.test.yml`, `*.test.yaml`),
/// which live beside the rules they drill.
fn is_rule_file_name(path: &Path) -> bool {
    let is_yaml = path
        .extension()
        .is_some_and(|extension| extension == "yml" || extension == "yaml");
    let is_test = path
        .file_stem()
        .and_then(|stem| Path::new(stem).extension())
        .is_some_and(|extension| extension == "test");
    is_yaml && !is_test
}

/// Why a rule file's text could not be had.
#[derive(Debug)]
pub(crate) enum ReadProblem {
    /// The operating system refused.
    Io(io::Error),
    /// A problem with the content.
    Content(Diagnostic),
}

/// Reads one rule file as UTF-8 text, within [`MAX_RULE_FILE_BYTES`].
pub(crate) fn read_rule_file(path: &Path) -> Result<String, ReadProblem> {
    let file = fs::File::open(path).map_err(ReadProblem::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_RULE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadProblem::Io)?;
    if bytes.len() as u64 > MAX_RULE_FILE_BYTES {
        return Err(ReadProblem::Content(Diagnostic::whole_file(
            path.to_owned(),
            format!(
                "rule file is larger than {} MiB; split it",
                MAX_RULE_FILE_BYTES >> 20
            ),
        )));
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid
            .rsplit('\n')
            .next()
            .map_or(0, |last| last.chars().count())
            + 1;
        ReadProblem::Content(Diagnostic {
            path: path.to_owned(),
            line,
            column,
            message: "rule file is not valid UTF-8".into(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_yield_yaml_files_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/nested")).unwrap();
        fs::create_dir_all(root.join(".hidden")).unwrap();
        for name in [
            "z.yml",
            "a.yaml",
            "b/nested/c.yml",
            "notes.txt",
            "z.test.yml",
            "b/nested/c.test.yaml",
            ".hidden/x.yml",
        ] {
            fs::write(root.join(name), "").unwrap();
        }
        let (files, failures) = rule_files(&[root, &root.join("z.yml")]);
        assert!(failures.is_empty());
        let names: Vec<_> = files
            .iter()
            .map(|file| {
                file.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a.yaml", "b/nested/c.yml", "z.yml"]);

        let (_, failures) = rule_files(&[root.join("missing")]);
        assert_eq!(failures.len(), 1);
    }

    #[test]
    fn symbolic_links_to_directories_are_followed_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("rules")).unwrap();
        fs::create_dir_all(root.join("shared/nested")).unwrap();
        fs::write(root.join("rules/a.yml"), "").unwrap();
        fs::write(root.join("shared/nested/s.yml"), "").unwrap();
        std::os::unix::fs::symlink(root.join("shared"), root.join("rules/pack")).unwrap();
        // A cycle, and a second way into the linked directory.
        std::os::unix::fs::symlink(root.join("rules"), root.join("shared/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("shared"), root.join("rules/zz-again")).unwrap();
        let (files, failures) = rule_files(&[root.join("rules")]);
        assert!(failures.is_empty(), "{failures:?}");
        let names: Vec<_> = files
            .iter()
            .map(|file| {
                file.strip_prefix(root.join("rules"))
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a.yml", "pack/nested/s.yml"]);
    }

    #[test]
    fn invalid_utf8_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yml");
        fs::write(&path, b"id: a\ntitle: x\xff\n").unwrap();
        match read_rule_file(&path) {
            Err(ReadProblem::Content(found)) => assert_eq!((found.line, found.column), (2, 9)),
            other => panic!("unexpected {other:?}"),
        }
    }
}
