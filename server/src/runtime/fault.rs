//! A fault-injecting wrapper around a real runtime, for the tests of the
//! retry and cleanup paths (docs/architecture.md, "Faults"): faults a real
//! tmux cannot be made to produce on cue. `AGENTTOWER_TEST_FAULTS` in the
//! daemon's own environment lists them; it is read once at start-up, never
//! from a request, and can only make that daemon's tmux calls fail.
//!
//! The spec is comma-separated `<command>@<n>=<action>` rules: the `n`th
//! call (counted from 1, over all runtimes) that runs tmux command
//! `<command>` (`*`: any call) gets `<action>`:
//! - `delay:<ms>`: runs late;
//! - `fail`: does not run, and fails as "runtime unreachable" (transient);
//! - `timeout`: runs, but its reply is lost: it fails as a timeout;
//! - `kill`: the control client process is killed as the call is written,
//!   so the call may or may not have run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::control::Control;
use super::{Runtime, RuntimeError};

/// The environment variable holding the spec.
pub(crate) const ENV: &str = "AGENTTOWER_TEST_FAULTS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Delay(Duration),
    Fail,
    Timeout,
    Kill,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    command: String,
    nth: u32,
    action: Action,
}

/// The parsed rules and how many matching calls each has seen.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<Rule>,
    seen: Mutex<Vec<u32>>,
}

impl Faults {
    /// The rules of `AGENTTOWER_TEST_FAULTS`, if set.
    pub(crate) fn from_env() -> anyhow::Result<Option<Arc<Faults>>> {
        match std::env::var(ENV) {
            Ok(spec) if !spec.trim().is_empty() => {
                let faults =
                    Faults::parse(&spec).map_err(|e| anyhow::anyhow!("{ENV}={spec:?}: {e}"))?;
                tracing::warn!(spec, "test faults are injected into tmux calls");
                Ok(Some(Arc::new(faults)))
            }
            _ => Ok(None),
        }
    }

    fn parse(spec: &str) -> Result<Faults, String> {
        let mut rules = Vec::new();
        for rule in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (target, action) = rule
                .split_once('=')
                .ok_or_else(|| format!("{rule:?} is not <command>@<n>=<action>"))?;
            let (command, nth) = target
                .split_once('@')
                .ok_or_else(|| format!("{target:?} is not <command>@<n>"))?;
            let nth: u32 = nth
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{nth:?} is not a call number from 1"))?;
            let action = match action.split_once(':') {
                Some(("delay", ms)) => Action::Delay(Duration::from_millis(
                    ms.parse()
                        .map_err(|_| format!("{ms:?} is not milliseconds"))?,
                )),
                None if action == "fail" => Action::Fail,
                None if action == "timeout" => Action::Timeout,
                None if action == "kill" => Action::Kill,
                _ => return Err(format!("unknown action {action:?}")),
            };
            rules.push(Rule {
                command: command.to_string(),
                nth,
                action,
            });
        }
        let seen = Mutex::new(vec![0; rules.len()]);
        Ok(Faults { rules, seen })
    }

    /// The action for this call, if a rule's turn has come.
    fn action(&self, args: &[String]) -> Option<Action> {
        let commands: Vec<&str> = std::iter::once(args.first())
            .chain(args.windows(2).map(|w| (w[0] == ";").then(|| &w[1])))
            .flatten()
            .map(String::as_str)
            .collect();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut fired = None;
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.command == "*" || commands.contains(&rule.command.as_str()) {
                seen[i] += 1;
                if seen[i] == rule.nth {
                    fired = fired.or(Some(rule.action));
                }
            }
        }
        fired
    }
}

/// A runtime whose calls go through `faults` first.
#[derive(Debug)]
pub(crate) struct FaultRuntime {
    pub inner: Arc<dyn Runtime>,
    pub faults: Arc<Faults>,
}

#[async_trait::async_trait]
impl Runtime for FaultRuntime {
    fn tmux_socket(&self) -> String {
        self.inner.tmux_socket()
    }

    async fn tmux(&self, args: Vec<String>, timeout: Duration) -> Result<String, RuntimeError> {
        let Some(action) = self.faults.action(&args) else {
            return self.inner.tmux(args, timeout).await;
        };
        tracing::warn!(?action, command = ?args.first(), "injecting a test fault");
        match action {
            Action::Delay(d) => {
                tokio::time::sleep(d).await;
                self.inner.tmux(args, timeout).await
            }
            Action::Fail => Err(RuntimeError::Unreachable("injected fault".into())),
            Action::Timeout => {
                let _ = self.inner.tmux(args, timeout).await;
                Err(RuntimeError::Timeout(timeout))
            }
            Action::Kill => {
                let control = Arc::clone(self.inner.control());
                let (out, ()) = tokio::join!(self.inner.tmux(args, timeout), async move {
                    tokio::task::yield_now().await;
                    control.kill().await;
                });
                out
            }
        }
    }

    fn control(&self) -> &Arc<Control> {
        self.inner.control()
    }

    fn log_dir_name(&self) -> String {
        self.inner.log_dir_name()
    }

    async fn log_target(&self, host_path: &Path) -> Result<PathBuf, String> {
        self.inner.log_target(host_path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn rules_fire_on_their_nth_matching_call_only() {
        let f = Faults::parse("new-session@2=timeout, *@1=delay:5").unwrap();
        assert_eq!(
            f.action(&args("list-panes -a")),
            Some(Action::Delay(Duration::from_millis(5)))
        );
        assert_eq!(f.action(&args("new-session -d")), None);
        assert_eq!(
            f.action(&args("set-option x ; new-session -d")),
            Some(Action::Timeout)
        );
        assert_eq!(f.action(&args("new-session -d")), None);
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        for bad in ["new-session", "x@0=fail", "x@1=explode", "x@1=delay:soon"] {
            assert!(Faults::parse(bad).is_err(), "{bad}");
        }
    }
}
