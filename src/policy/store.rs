//! The policy in force, swapped atomically on reload. A reload that fails
//! validation leaves the working policy in place and says so loudly; a
//! statement being decided keeps the policy it started with.

use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use tracing::{error, info};

use super::compile::{Policy, PolicyError};

/// A policy with the generation it was installed as.
pub struct Installed {
    pub policy: Policy,
    pub generation: u64,
}

/// What a reload attempt did, for whoever wants to record it.
pub struct ReloadReport<'a> {
    pub reason: &'a str,
    pub path: Option<&'a Path>,
    pub result: &'a Result<ReloadOutcome, PolicyError>,
}

/// Called after every reload attempt. A callback keeps the store ignorant of
/// who listens (the audit trail, metrics).
pub type ReloadHook = Box<dyn Fn(&ReloadReport<'_>) + Send + Sync>;

pub struct PolicyStore {
    current: ArcSwap<Installed>,
    next_generation: AtomicU64,
    path: Option<PathBuf>,
    hook: OnceLock<ReloadHook>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    Installed(u64),
    Unchanged,
}

impl PolicyStore {
    /// Without a file: the allow-all policy (everyone is `admin`).
    pub fn allow_all() -> Arc<PolicyStore> {
        Arc::new(PolicyStore {
            current: ArcSwap::from_pointee(Installed {
                policy: Policy::allow_all(),
                generation: 1,
            }),
            next_generation: AtomicU64::new(2),
            path: None,
            hook: OnceLock::new(),
        })
    }

    pub fn from_file(path: &Path) -> Result<Arc<PolicyStore>, PolicyError> {
        let policy = Policy::from_file(path)?;
        Ok(Arc::new(PolicyStore {
            current: ArcSwap::from_pointee(Installed {
                policy,
                generation: 1,
            }),
            next_generation: AtomicU64::new(2),
            path: Some(path.to_owned()),
            hook: OnceLock::new(),
        }))
    }

    pub fn current(&self) -> Arc<Installed> {
        self.current.load_full()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// True when a policy file is configured (the guard runs).
    pub fn enforcing(&self) -> bool {
        self.path.is_some()
    }

    /// Re-reads the file; installs it only if it compiles.
    pub fn reload(&self) -> Result<ReloadOutcome, PolicyError> {
        let Some(path) = &self.path else {
            return Ok(ReloadOutcome::Unchanged);
        };
        let policy = Policy::from_file(path)?;
        let generation = self.next_generation.fetch_add(1, Ordering::SeqCst);
        self.current
            .store(Arc::new(Installed { policy, generation }));
        Ok(ReloadOutcome::Installed(generation))
    }

    /// Reloads on SIGHUP and when the file changes (checked every `interval`;
    /// polling the file's metadata works with editors and with config-map
    /// updates that replace the file by renaming).
    pub fn spawn_watcher(self: &Arc<Self>, interval: Duration) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let store = Arc::clone(self);
        // Registered before returning, so a SIGHUP sent as soon as pgward
        // is up reloads instead of hitting the default action (exit), and a
        // change made right after start is seen as one.
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                error!(error = %e, "cannot listen for SIGHUP; policy reloads only on file change");
                None
            }
        };
        let mut last = stamp(&path);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let reason = tokio::select! {
                    _ = tick.tick() => {
                        let now = stamp(&path);
                        if now == last {
                            continue;
                        }
                        last = now;
                        "file changed"
                    }
                    Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                        last = stamp(&path);
                        "SIGHUP"
                    }
                };
                store.reload_and_log(reason);
            }
        });
    }

    /// Installs the reload callback; only the first one set is kept.
    pub fn set_reload_hook(&self, hook: ReloadHook) {
        let _ = self.hook.set(hook);
    }

    pub fn reload_and_log(&self, reason: &str) {
        let result = self.reload();
        if let Some(hook) = self.hook.get() {
            hook(&ReloadReport {
                reason,
                path: self.path.as_deref(),
                result: &result,
            });
        }
        match result {
            Ok(ReloadOutcome::Installed(generation)) => {
                info!(reason, generation, path = %self.path.as_deref().map(|p| p.display().to_string()).unwrap_or_default(), "policy reloaded")
            }
            Ok(ReloadOutcome::Unchanged) => {}
            Err(e) => error!(
                reason,
                errors = %e,
                "POLICY RELOAD REJECTED: the new policy file is invalid; the previous policy stays in force"
            ),
        }
    }
}

/// What identifies a version of the file cheaply: modification time and size.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
