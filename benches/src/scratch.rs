//! Directories in the scratch space: emptied before each run, so that every
//! index starts from nothing, and measured afterwards.

use std::path::Path;

use anyhow::Context;

/// Makes `path` an empty directory, removing whatever was there.
pub fn fresh_dir(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path)
            .with_context(|| format!("cannot remove {}", path.display()))?;
    }
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Total size of the files under `path`.
pub fn directory_bytes(path: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in
        std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
        let metadata = entry
            .metadata()
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        total += if metadata.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}

/// The size of an index directory, as a note for a report.
pub fn on_disk(path: &Path) -> anyhow::Result<String> {
    Ok(format!(
        "index {} MB on disk",
        directory_bytes(path)? / 1_000_000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_dir_is_empty_and_sizes_add_up_through_subdirectories() {
        let scratch = tempfile::TempDir::new().unwrap();
        let dir = scratch.path().join("index");
        fresh_dir(&dir).unwrap();
        std::fs::create_dir(dir.join("day")).unwrap();
        std::fs::write(dir.join("meta.json"), [0; 10]).unwrap();
        std::fs::write(dir.join("day/segment"), [0; 32]).unwrap();
        assert_eq!(directory_bytes(&dir).unwrap(), 42);

        fresh_dir(&dir).unwrap();
        assert_eq!(directory_bytes(&dir).unwrap(), 0);
    }
}
