//! What a policy decision says (allow, deny, observe, and a denial a person
//! or an agent can act on) and the session facts it is taken with: shared by
//! the deny rules (`decide`) and the checks every profile gets (`protect`).

use crate::sql::Naming;

/// What happens to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused: the client gets an error and nothing reaches the server.
    Deny(Denial),
    /// The profile is in observe mode: this would have been denied, but runs.
    Observe(Denial),
}

impl Decision {
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow => None,
            Decision::Deny(d) | Decision::Observe(d) => Some(d),
        }
    }
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny(_) => "deny",
            Decision::Observe(_) => "observe",
        }
    }
}

/// Why a request is refused, written for a person or an agent to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub profile: String,
    /// `allow` (effect outside the allow-list), `unparseable`, or the deny rule's name.
    pub rule: String,
    /// 0-based statement index within the request.
    pub statement: usize,
    pub command: String,
    pub object: Option<String>,
    pub message: String,
    pub hint: Option<String>,
    /// The rule matched (or failed to exempt) a name the statement did not
    /// qualify: knowing the session's search path better may change it.
    pub unqualified: bool,
}

/// Session facts the decision needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecisionContext<'a> {
    /// Schemas an unqualified name may be looked up in (pg_catalog first);
    /// `None` if unknown.
    pub search_path: Option<&'a [String]>,
    /// Schemas an unqualified CREATE may put its relation in; `None` if
    /// unknown.
    pub create_path: Option<&'a [String]>,
}

impl<'a> DecisionContext<'a> {
    /// The schemas an unqualified relation name may mean.
    pub(super) fn candidates(&self, naming: Naming) -> Option<&'a [String]> {
        match naming {
            Naming::Existing => self.search_path,
            Naming::Created { temporary: true } => Some(temp_schema()),
            Naming::Created { temporary: false } => self.create_path,
        }
    }
}

fn temp_schema() -> &'static [String] {
    static TEMP: std::sync::OnceLock<[String; 1]> = std::sync::OnceLock::new();
    TEMP.get_or_init(|| ["pg_temp".to_owned()])
}
