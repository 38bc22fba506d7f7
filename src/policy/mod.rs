//! Policy: who is asking (identity → profile) and may this run (decision).

pub mod builtin;
pub mod compile;
pub mod decide;
pub mod glob;
pub mod identity;
pub mod identity_settings;
pub mod mask_types;
pub mod masks;
pub mod model;
pub mod protect;
pub mod row_filters;
pub mod store;
pub mod verdict;

pub use compile::{Policy, PolicyError, Profile, Resolution};
pub use decide::decide;
pub use identity::{Identity, UserName};
pub use store::PolicyStore;
pub use verdict::{Decision, DecisionContext, Denial};
