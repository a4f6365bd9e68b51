//! `DockerRuntime`: tmux inside a bench container, reached with
//! `docker exec` (argv only). Also the two Docker queries the registry needs:
//! listing bench containers and reading their bind mounts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::control::{Control, Launcher};
use super::{Runtime, RuntimeError, run_command};
use crate::config::DockerConfig;
use crate::store::models::ContainerRow;

/// How the daemon reaches the Docker engine: the CLI program and the
/// options every `docker exec` gets. A remote engine is the same CLI with
/// `DOCKER_HOST` or a context set in the daemon's environment.
#[derive(Debug, Clone)]
pub(crate) struct DockerCli {
    pub program: String,
    /// `LC_ALL` for tmux in the container, so it starts even in an image
    /// without a UTF-8 locale configured (glibc has `C.UTF-8` built in).
    pub locale: Option<String>,
}

impl DockerCli {
    pub(crate) fn new(config: &DockerConfig) -> Self {
        DockerCli {
            program: config.program.clone(),
            locale: (!config.locale.is_empty()).then(|| config.locale.clone()),
        }
    }

    fn command<I, S>(&self, args: I) -> tokio::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(args);
        cmd
    }

    /// Runs a docker CLI command, classifying Docker's own failures.
    async fn run<I, S>(&self, args: I, timeout: Duration) -> Result<String, RuntimeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        run_command(self.command(args), timeout)
            .await
            .map_err(classify)
    }

    /// Full ids of the containers (running or not) that carry `label` or
    /// whose name matches `name_pattern` (Docker's `name` filter).
    pub(crate) async fn bench_ids(
        &self,
        label: &str,
        name_pattern: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<String>, RuntimeError> {
        let mut filters = vec![format!("label={label}")];
        filters.extend(name_pattern.map(|p| format!("name={p}")));
        let mut ids = Vec::new();
        // Docker ANDs different filter keys; a bench container needs either.
        for filter in filters {
            let out = self
                .run(
                    ["ps", "-a", "-q", "--no-trunc", "--filter", &filter],
                    timeout,
                )
                .await?;
            for id in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !ids.iter().any(|known| known == id) {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// `docker inspect` of the given containers. A container removed since
    /// it was listed is simply missing from the answer.
    pub(crate) async fn inspect(
        &self,
        ids: &[String],
        timeout: Duration,
    ) -> Result<Vec<Inspected>, RuntimeError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["inspect".to_string(), "--type".into(), "container".into()];
        args.extend(ids.iter().cloned());
        let out = match self.run(&args, timeout).await {
            Ok(out) => out,
            // Some ids vanished: Docker still prints the others.
            Err(RuntimeError::Gone(_)) | Err(RuntimeError::Failed { .. }) if ids.len() > 1 => {
                let mut found = Vec::new();
                for id in ids {
                    found.extend(Box::pin(self.inspect(std::slice::from_ref(id), timeout)).await?);
                }
                return Ok(found);
            }
            Err(RuntimeError::Gone(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        serde_json::from_str(&out).map_err(|e| {
            RuntimeError::Unreachable(format!("unreadable docker inspect output: {e}"))
        })
    }
}

/// Maps what the Docker CLI says when the engine or the container is not
/// there (SPEC §8: cannot connect = transient; container gone = final).
fn classify(e: RuntimeError) -> RuntimeError {
    let RuntimeError::Failed { message, stdout } = e else {
        return e;
    };
    if message.contains("Cannot connect to the Docker daemon")
        || message.contains("error during connect")
        || message.contains("is paused")
    {
        RuntimeError::Unreachable(message)
    } else if message.contains("No such container") || message.contains("is not running") {
        RuntimeError::Gone(message)
    } else {
        RuntimeError::Failed { message, stdout }
    }
}

/// The part of `docker inspect` the registry reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Inspected {
    pub id: String,
    /// With Docker's leading `/`.
    pub name: String,
    pub state: InspectedState,
    pub config: InspectedConfig,
    #[serde(default)]
    pub mounts: Vec<Mount>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InspectedState {
    pub running: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InspectedConfig {
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// One mount of a container.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Mount {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(default)]
    pub source: PathBuf,
    #[serde(default)]
    pub destination: PathBuf,
    #[serde(rename = "RW", default)]
    pub rw: bool,
}

/// Where `host_path` appears inside a container with `mounts`: through the
/// writable bind mount whose host side holds it (the deepest one wins, as
/// in the container's own view).
pub(crate) fn path_in_container(mounts: &[Mount], host_path: &Path) -> Option<PathBuf> {
    let host_path = canonical_prefix(host_path);
    mounts
        .iter()
        .filter(|m| m.kind == "bind" && m.rw)
        .filter_map(|m| {
            let source = canonical_prefix(&m.source);
            let rest = host_path.strip_prefix(&source).ok()?;
            Some((source.components().count(), m.destination.join(rest)))
        })
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, inside)| inside)
}

/// `path` with symlinks resolved as far as it exists, so a mount given as
/// `/tmp/x` matches a log under `/private/tmp/x` and the like.
fn canonical_prefix(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut tail = Vec::new();
    while !existing.as_os_str().is_empty() {
        if let Ok(real) = existing.canonicalize() {
            return tail.iter().rev().fold(real, |p: PathBuf, c| p.join(c));
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    path.to_path_buf()
}

/// A bench container: tmux reached through `docker exec`.
#[derive(Debug, Clone)]
pub(crate) struct DockerRuntime {
    cli: DockerCli,
    id: String,
    name: String,
    user: Option<String>,
    /// Bind mounts as of the last scan; `None` when not read yet (Docker
    /// does not let a container's mounts change while it exists).
    mounts: Option<Vec<Mount>>,
    control: Arc<Control>,
}

impl DockerRuntime {
    /// The runtime of a registered container; `mounts` when known.
    pub(crate) fn new(
        cli: DockerCli,
        row: &ContainerRow,
        mounts: Option<Vec<Mount>>,
        control: Arc<Control>,
    ) -> Self {
        DockerRuntime {
            cli,
            id: row.id.clone(),
            name: row.name.clone(),
            user: row.user.clone(),
            mounts,
            control,
        }
    }
}

impl Launcher for DockerRuntime {
    /// `docker exec [-i] [-u user] [-e LC_ALL=…] <id> tmux -u <args>`.
    fn tmux_command(&self, args: &[String], interactive: bool) -> tokio::process::Command {
        let mut argv: Vec<String> = vec!["exec".into()];
        if interactive {
            argv.push("-i".into());
        }
        if let Some(user) = &self.user {
            argv.extend(["-u".into(), user.clone()]);
        }
        if let Some(locale) = &self.cli.locale {
            argv.extend(["-e".into(), format!("LC_ALL={locale}")]);
        }
        argv.extend([self.id.clone(), "tmux".into(), "-u".into()]);
        argv.extend(args.iter().cloned());
        self.cli.command(argv)
    }
}

#[async_trait::async_trait]
impl Runtime for DockerRuntime {
    fn tmux_socket(&self) -> String {
        "default".into()
    }

    fn log_dir_name(&self) -> String {
        self.name.clone()
    }

    async fn tmux(&self, args: Vec<String>, timeout: Duration) -> Result<String, RuntimeError> {
        super::call(self, &self.control, args, timeout, classify).await
    }

    fn control(&self) -> &Arc<Control> {
        &self.control
    }

    async fn log_target(&self, host_path: &Path) -> Result<PathBuf, String> {
        let mounts = match &self.mounts {
            Some(m) => m.clone(),
            None => {
                let found = self
                    .cli
                    .inspect(std::slice::from_ref(&self.id), Duration::from_secs(30))
                    .await
                    .map_err(|e| format!("cannot read the container's mounts: {e}"))?;
                found
                    .into_iter()
                    .next()
                    .map(|i| i.mounts)
                    .unwrap_or_default()
            }
        };
        let dir = host_path.parent().unwrap_or(host_path);
        // Resolving the mount sources reads the file system: off the reactor.
        let host = host_path.to_path_buf();
        let inside = tokio::task::spawn_blocking(move || path_in_container(&mounts, &host))
            .await
            .map_err(|e| format!("cannot map the log path: {e}"))?;
        inside.ok_or_else(|| {
            format!(
                "no writable bind mount makes {} readable from the host; start container {} \
                 with `-v {}:/var/log/agenttower` (any path inside works)",
                dir.display(),
                self.name,
                dir.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str, destination: &str, rw: bool) -> Mount {
        Mount {
            kind: "bind".into(),
            source: source.into(),
            destination: destination.into(),
            rw,
        }
    }

    #[test]
    fn the_deepest_writable_bind_mount_maps_the_log() {
        let mounts = vec![
            bind("/srv", "/srv", true),
            bind("/srv/state/logs/b1", "/logs", true),
            bind("/srv/state/logs/b1/ro", "/ro", false),
        ];
        assert_eq!(
            path_in_container(&mounts, Path::new("/srv/state/logs/b1/m1.log")),
            Some(PathBuf::from("/logs/m1.log"))
        );
        assert_eq!(
            path_in_container(&mounts, Path::new("/srv/state/logs/b1/ro/x.log")),
            Some(PathBuf::from("/logs/ro/x.log"))
        );
        assert_eq!(path_in_container(&mounts, Path::new("/var/x.log")), None);
    }

    #[test]
    fn volumes_and_read_only_mounts_do_not_count() {
        let mut volume = bind("/var/lib/docker/volumes/v/_data", "/data", true);
        volume.kind = "volume".into();
        let mounts = vec![volume, bind("/logs", "/logs", false)];
        assert_eq!(path_in_container(&mounts, Path::new("/logs/a.log")), None);
        assert_eq!(
            path_in_container(&mounts, Path::new("/var/lib/docker/volumes/v/_data/a.log")),
            None
        );
    }

    #[test]
    fn docker_messages_are_classified() {
        let failed = |m: &str| RuntimeError::Failed {
            message: m.into(),
            stdout: String::new(),
        };
        assert!(classify(failed("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")).is_transient());
        assert!(matches!(
            classify(failed(
                "Error response from daemon: Container abc is not running"
            )),
            RuntimeError::Gone(_)
        ));
        assert!(matches!(
            classify(failed("Error: No such container: abc")),
            RuntimeError::Gone(_)
        ));
        assert!(matches!(
            classify(failed("can't find session: x")),
            RuntimeError::Failed { .. }
        ));
    }

    #[test]
    fn inspect_output_parses() {
        let json = r#"[{"Id":"ab","Name":"/bench-1","State":{"Running":true},
            "Config":{"Labels":{"agenttower.bench":"true"}},
            "Mounts":[{"Type":"bind","Source":"/h","Destination":"/c","RW":true}]}]"#;
        let v: Vec<Inspected> = serde_json::from_str(json).unwrap();
        assert_eq!(v[0].name, "/bench-1");
        assert_eq!(v[0].mounts, vec![bind("/h", "/c", true)]);
    }
}
