//! The users file for pgward-held SCRAM authentication:
//!
//! ```yaml
//! users:
//!   - name: alice
//!     scram: "SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>"
//!     groups: [analysts, oncall]
//! ```
//!
//! Only SCRAM-SHA-256 verifiers are stored (the `rolpassword` format of
//! PostgreSQL), never passwords.

use std::collections::HashMap;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::scram::ScramVerifier;

/// Everything wrong with a users file.
pub use crate::diagnostics::FileErrors as UsersError;
/// A problem in a users file, with its line and column.
pub use crate::diagnostics::Issue as UsersIssue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    users: Vec<Spanned<RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    #[serde(default)]
    scram: Option<Spanned<String>>,
    /// Recognised only to refuse it with a clear message; its value is
    /// never kept.
    #[serde(default)]
    password: Option<Spanned<IgnoredAny>>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
}

/// One user allowed to log in with SCRAM-SHA-256 checked by pgward.
#[derive(Debug, Clone)]
pub struct UserEntry {
    pub name: String,
    pub verifier: ScramVerifier,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UsersFile {
    users: HashMap<String, UserEntry>,
}

fn loc<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

/// serde errors can carry a multi-line snippet of the source; only the
/// first line (the message) is kept, without the location the issue
/// already carries.
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    let line = match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") && head.contains(" column ") => rest,
        _ => line,
    };
    line.to_owned()
}

impl UsersFile {
    pub fn from_yaml(text: &str, source_name: &str) -> Result<Self, UsersError> {
        let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let message = first_line(&e.to_string());
            UsersError {
                source_name: source_name.to_owned(),
                issues: vec![UsersIssue {
                    line,
                    column,
                    message,
                }],
            }
        })?;

        let mut issues = Vec::new();
        let mut issue = |(line, column): (u64, u64), message: String| {
            issues.push(UsersIssue {
                line,
                column,
                message,
            })
        };
        let mut users: HashMap<String, UserEntry> = HashMap::new();
        let mut first_seen: HashMap<String, u64> = HashMap::new();

        for raw_user in &raw.users {
            let u = &raw_user.value;
            let name = u.name.value.as_str();
            let mut ok = true;
            if name.is_empty() || name.contains('\0') {
                issue(loc(&u.name), "user name must be non-empty".to_owned());
                ok = false;
            }
            if let Some(pw) = &u.password {
                issue(loc(pw), PASSWORD_REFUSED.to_owned());
                ok = false;
            }
            let verifier = match &u.scram {
                None => {
                    if u.password.is_none() {
                        issue(
                            loc(raw_user),
                            format!("user {name:?} has no `scram` verifier"),
                        );
                    }
                    None
                }
                Some(s) => match ScramVerifier::parse(s.value.trim()) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        issue(loc(s), format!("user {name:?}: {e}"));
                        None
                    }
                },
            };
            let mut groups = Vec::with_capacity(u.groups.len());
            for g in &u.groups {
                if g.value.is_empty() {
                    issue(loc(g), "group name must be non-empty".to_owned());
                    ok = false;
                } else if !groups.contains(&g.value) {
                    groups.push(g.value.clone());
                }
            }
            if let Some(line) = first_seen.get(name) {
                issue(
                    loc(&u.name),
                    format!("duplicate user {name:?} (first defined at line {line})"),
                );
                continue;
            }
            first_seen.insert(name.to_owned(), u.name.referenced.line());
            if let (true, Some(verifier)) = (ok, verifier) {
                users.insert(
                    name.to_owned(),
                    UserEntry {
                        name: name.to_owned(),
                        verifier,
                        groups,
                    },
                );
            }
        }

        if issues.is_empty() {
            Ok(UsersFile { users })
        } else {
            issues.sort_by_key(|i| (i.line, i.column));
            Err(UsersError {
                source_name: source_name.to_owned(),
                issues,
            })
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, UsersError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| UsersError {
            source_name: name.clone(),
            issues: vec![UsersIssue {
                line: 1,
                column: 1,
                message: format!("cannot read: {e}"),
            }],
        })?;
        Self::from_yaml(&text, &name)
    }

    /// The entry for a startup user name (exact, case-sensitive match).
    pub fn lookup(&self, name: &str) -> Option<&UserEntry> {
        self.users.get(name)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

const PASSWORD_REFUSED: &str = "`password` is not accepted: the users file stores only SCRAM-SHA-256 \
     verifiers (`scram: \"SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>\"`), never passwords";

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "SCRAM-SHA-256$4096:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=";

    fn err(text: &str) -> UsersError {
        UsersFile::from_yaml(text, "users.yaml").expect_err("should fail")
    }

    #[test]
    fn valid_file() {
        let text = format!(
            "users:\n  - name: alice\n    scram: \"{V}\"\n    groups: [analysts, oncall]\n  - name: bob\n    scram: '{V}'\n"
        );
        let f = UsersFile::from_yaml(&text, "users.yaml").expect("valid");
        assert_eq!(f.len(), 2);
        let alice = f.lookup("alice").expect("alice");
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, vec!["analysts", "oncall"]);
        assert!(alice.verifier.verify_password(b"secret"));
        assert!(f.lookup("bob").expect("bob").groups.is_empty());
        assert!(f.lookup("Alice").is_none());
        assert!(f.lookup("carol").is_none());
        assert!(!format!("{alice:?}").contains("hrEHuA199V0"));
    }

    #[test]
    fn empty_list_is_valid() {
        let f = UsersFile::from_yaml("users: []\n", "u").expect("valid");
        assert!(f.is_empty());
    }

    #[test]
    fn duplicate_user() {
        let text = format!(
            "users:\n  - name: alice\n    scram: \"{V}\"\n  - name: alice\n    scram: \"{V}\"\n"
        );
        let e = err(&text);
        assert_eq!(e.issues.len(), 1, "{e}");
        assert_eq!((e.issues[0].line, e.issues[0].column), (4, 11));
        assert!(e.issues[0].message.contains("duplicate user \"alice\""));
        assert!(e.issues[0].message.contains("line 2"));
        assert!(e.to_string().starts_with("users.yaml:4:11: "));
    }

    #[test]
    fn bad_verifier_has_location() {
        let text = "users:\n  - name: alice\n    groups: [a]\n    scram: \"SCRAM-SHA-256$4096:c2FsdA==$short:short\"\n";
        let e = err(text);
        assert_eq!(e.issues.len(), 1, "{e}");
        assert_eq!((e.issues[0].line, e.issues[0].column), (4, 12));
        assert!(e.issues[0].message.contains("invalid SCRAM verifier"));
        assert!(e.to_string().starts_with("users.yaml:4:12: "), "{e}");
    }

    #[test]
    fn md5_hash_is_not_a_verifier() {
        let text = "users:\n  - name: m\n    scram: md58bf187870e425b25b4d2679aa8b2e1b2\n";
        let e = err(text);
        assert_eq!((e.issues[0].line, e.issues[0].column), (3, 12));
    }

    #[test]
    fn password_refused() {
        let text = "users:\n  - name: alice\n    password: hunter2\n";
        let e = err(text);
        assert_eq!(e.issues.len(), 1, "{e}");
        assert_eq!(e.issues[0].line, 3);
        assert!(e.issues[0].message.contains("only SCRAM-SHA-256"));
        assert!(!e.to_string().contains("hunter2"));

        // Alongside a verifier too.
        let text = format!("users:\n  - name: alice\n    scram: \"{V}\"\n    password: hunter2\n");
        let e = err(&text);
        assert_eq!(e.issues.len(), 1, "{e}");
        assert_eq!(e.issues[0].line, 4);
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn unknown_keys_refused() {
        let text = format!("users:\n  - name: alice\n    scram: \"{V}\"\n    role: admin\n");
        let e = err(&text);
        assert_eq!(e.issues[0].line, 4, "{e}");
        assert!(e.issues[0].message.contains("role"), "{e}");

        let e = err("users: []\nextra: 1\n");
        assert_eq!(e.issues[0].line, 2, "{e}");
    }

    #[test]
    fn missing_verifier_and_empty_names() {
        let e = err("users:\n  - name: alice\n");
        assert_eq!(e.issues.len(), 1);
        assert_eq!(e.issues[0].line, 2, "{e}");
        assert!(e.issues[0].message.contains("no `scram`"));

        let text = format!("users:\n  - name: \"\"\n    scram: \"{V}\"\n    groups: [\"\"]\n");
        let e = err(&text);
        assert_eq!(e.issues.len(), 2, "{e}");
    }

    #[test]
    fn syntax_errors_and_files() {
        let e = err("users:\n  - name: [unclosed\n");
        assert!(e.issues[0].line >= 2, "{e}");
        let e = err("users: 5\n");
        assert_eq!(e.issues[0].line, 1, "{e}");

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("users.yaml");
        std::fs::write(&path, format!("users:\n  - name: a\n    scram: \"{V}\"\n")).expect("write");
        let f = UsersFile::from_file(&path).expect("from_file");
        assert!(f.lookup("a").is_some());
        let e = UsersFile::from_file(&dir.path().join("missing.yaml")).expect_err("missing");
        assert!(e.to_string().contains("cannot read"));
    }
}
