//! Problems found in a file pgward reads (policies, users), each located by
//! line and column and printed the way compilers print them, so editors and
//! CI logs can jump to the spot.

use std::fmt;

/// One problem, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Every problem found in one file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct FileErrors {
    pub source_name: String,
    pub issues: Vec<Issue>,
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                self.source_name, issue.line, issue.column, issue.message
            )?;
        }
        Ok(())
    }
}
