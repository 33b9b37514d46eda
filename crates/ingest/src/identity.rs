//! Which file is which, across renames and restarts.
//!
//! A path is a poor name for a log file: rotation gives the same path to a new
//! file, and renames the old one. A file is named instead by its device and
//! inode, which survive a rename, plus a fingerprint of its first 256 bytes,
//! which tells a file apart from a later one that reuses a freed inode. The
//! stream key is `{device}:{inode}:{fingerprint}`; positions in a checkpoint
//! and event ids are filed under it.
//!
//! A file shorter than 256 bytes cannot have that fingerprint yet. Its key
//! fingerprints the bytes it has, and says how many: `{hash}/{n}`. Because
//! log files only grow (until rotation), the first `n` bytes of the file stay
//! the same, so the key can be checked again after a restart however much
//! the file grew meanwhile; a reader keeps using it until the file reaches
//! 256 bytes and then switches to the complete key. A committed short key is
//! as strong as its `n` bytes: an empty file's key (`n = 0`) is checked by
//! device and inode alone.

use std::fs::Metadata;

use firewatch_event::EventId;

/// How many leading bytes of a file its fingerprint covers.
pub(crate) const FINGERPRINT_BYTES: usize = 256;

/// Device and inode: what stays with a file when it is renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    /// The identity of the file `metadata` describes.
    #[cfg(unix)]
    pub(crate) fn of(metadata: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }

    /// Without inodes, the fingerprint alone tells files apart.
    #[cfg(not(unix))]
    pub(crate) fn of(_metadata: &Metadata) -> Self {
        Self {
            device: 0,
            inode: 0,
        }
    }

    /// The file a committed key names, if the key is well formed: how a
    /// restart looks for a file that moved away from its path.
    pub(crate) fn of_key(committed: &str) -> Option<Self> {
        let mut parts = committed.splitn(3, ':');
        let device = parts.next()?.parse().ok()?;
        let inode = parts.next()?.parse().ok()?;
        parts.next()?;
        Some(Self { device, inode })
    }

    fn key_prefix(self) -> String {
        format!("{}:{}:", self.device, self.inode)
    }
}

/// The key of one file's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamKey {
    text: String,
    complete: bool,
}

impl StreamKey {
    /// The key of `file`, whose first bytes (up to [`FINGERPRINT_BYTES`]) are
    /// `head`.
    pub(crate) fn new(file: FileId, head: &[u8]) -> Self {
        let head = &head[..head.len().min(FINGERPRINT_BYTES)];
        let complete = head.len() == FINGERPRINT_BYTES;
        let mut text = file.key_prefix();
        text.push_str(&fingerprint(head));
        if !complete {
            text.push_str(&format!("/{}", head.len()));
        }
        Self { text, complete }
    }

    /// The key to go on with for `file` after a restart: the committed one
    /// (`committed`) while the file is still too short for a complete
    /// fingerprint, so that ids and positions stay under one key; the
    /// file's own key otherwise.
    pub(crate) fn resumed(file: FileId, head: &[u8], committed: Option<&str>) -> Self {
        match committed {
            Some(text) if head.len() < FINGERPRINT_BYTES => Self {
                text: text.to_owned(),
                complete: false,
            },
            _ => Self::new(file, head),
        }
    }

    /// The key as text, as it appears in positions and ids.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The fingerprint covers the full [`FINGERPRINT_BYTES`].
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether a key found in a checkpoint names `file`, whose first bytes
    /// are `head`.
    pub(crate) fn names(committed: &str, file: FileId, head: &[u8]) -> bool {
        let Some(fingerprint_text) = committed.strip_prefix(&file.key_prefix()) else {
            return false;
        };
        let (hash, covered) = match fingerprint_text.split_once('/') {
            Some((hash, covered)) => match covered.parse::<usize>() {
                Ok(covered) if covered < FINGERPRINT_BYTES => (hash, covered),
                _ => return false,
            },
            None => (fingerprint_text, FINGERPRINT_BYTES),
        };
        covered <= head.len() && fingerprint(&head[..covered]) == hash
    }
}

fn fingerprint(head: &[u8]) -> String {
    format!("{:016x}", EventId::from_parts(&[head]).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: FileId = FileId {
        device: 2049,
        inode: 77,
    };
    const OTHER_INODE: FileId = FileId {
        device: 2049,
        inode: 78,
    };

    #[test]
    fn a_complete_key_names_the_same_file_only() {
        let head: Vec<u8> = (0..=255).collect();
        let key = StreamKey::new(FILE, &head);
        assert!(key.is_complete());
        assert!(key.as_str().starts_with("2049:77:"));
        assert!(!key.as_str().contains('/'));
        assert!(StreamKey::names(key.as_str(), FILE, &head));
        assert!(!StreamKey::names(key.as_str(), OTHER_INODE, &head));
        let mut changed = head.clone();
        changed[200] ^= 1;
        assert!(!StreamKey::names(key.as_str(), FILE, &changed));
        assert!(!StreamKey::names(key.as_str(), FILE, &head[..255]));
    }

    #[test]
    fn a_short_key_still_names_its_file_after_it_grows() {
        let grown: Vec<u8> = (0..=255).collect();
        let key = StreamKey::new(FILE, &grown[..100]);
        assert!(!key.is_complete());
        assert!(key.as_str().ends_with("/100"));
        assert!(StreamKey::names(key.as_str(), FILE, &grown[..100]));
        assert!(StreamKey::names(key.as_str(), FILE, &grown[..180]));
        assert!(StreamKey::names(key.as_str(), FILE, &grown));
        assert!(!StreamKey::names(key.as_str(), FILE, &grown[..99]));
        let mut rewritten = grown.clone();
        rewritten[0] ^= 1;
        assert!(!StreamKey::names(key.as_str(), FILE, &rewritten));
    }

    #[test]
    fn a_resumed_short_key_is_kept_until_the_file_reaches_the_fingerprint_length() {
        let grown: Vec<u8> = (0..=255).collect();
        let committed = StreamKey::new(FILE, &grown[..10]);
        let kept = StreamKey::resumed(FILE, &grown[..50], Some(committed.as_str()));
        assert_eq!(kept, committed);
        let upgraded = StreamKey::resumed(FILE, &grown, Some(committed.as_str()));
        assert_eq!(upgraded, StreamKey::new(FILE, &grown));
    }

    #[test]
    fn a_key_gives_back_its_file() {
        let key = StreamKey::new(FILE, b"short");
        assert_eq!(FileId::of_key(key.as_str()), Some(FILE));
        for text in ["garbage", "2049:77", "x:77:abc", "2049:-1:abc"] {
            assert_eq!(FileId::of_key(text), None, "{text}");
        }
    }

    #[test]
    fn malformed_committed_keys_name_nothing() {
        for text in ["2049:77:", "2049:77:abc/x", "2049:77:abc/999", "garbage"] {
            assert!(!StreamKey::names(text, FILE, &[0; 300]), "{text}");
        }
    }
}
