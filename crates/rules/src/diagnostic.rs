//! What is wrong with a rule file, and where.

use std::fmt;
use std::path::PathBuf;

/// One problem in a rule file, at the key or value that causes it.
///
/// `line` and `column` are 1-based and count characters. A problem that
/// concerns a file as a whole (it cannot be read, it is too large) has line
/// and column 0, and prints without them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule file (or the origin given to [`RuleSet::from_yaml`](crate::RuleSet::from_yaml)).
    pub path: PathBuf,
    /// 1-based line, or 0 for the whole file.
    pub line: usize,
    /// 1-based column, or 0 for the whole file.
    pub column: usize,
    /// What is wrong, lower-case, without a trailing period.
    pub message: String,
}

impl Diagnostic {
    /// A problem with the file as a whole.
    pub(crate) fn whole_file(path: PathBuf, message: String) -> Self {
        Self {
            path,
            line: 0,
            column: 0,
            message,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The rule files hold problems; every one found is listed.
    #[error("{}", DiagnosticLines(.0))]
    Invalid(Vec<Diagnostic>),
    /// A rules path could not be read.
    #[error("cannot read rules from {}: {source}", path.display())]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Diagnostics, one per line.
struct DiagnosticLines<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_print_as_path_line_column() {
        let diagnostic = Diagnostic {
            path: "rules/ssh.yml".into(),
            line: 3,
            column: 14,
            message: "unknown severity".into(),
        };
        assert_eq!(
            diagnostic.to_string(),
            "rules/ssh.yml:3:14: unknown severity"
        );
        let whole = Diagnostic::whole_file("rules/big.yml".into(), "too large".into());
        assert_eq!(whole.to_string(), "rules/big.yml: too large");
        let error = RulesError::Invalid(vec![diagnostic, whole]);
        assert_eq!(
            error.to_string(),
            "rules/ssh.yml:3:14: unknown severity\nrules/big.yml: too large"
        );
    }
}
