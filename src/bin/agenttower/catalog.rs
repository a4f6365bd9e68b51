//! What the daemon offers and knows about: `templates`, `profiles`,
//! `container list|scan` and `version`.

use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::time;
use clap::Subcommand;

use crate::CliResult;
use crate::output::{self, Out, print_table};
use crate::start::Socket;

#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCmd {
    /// List registered containers.
    List,
    /// Refresh the registry from Docker (bench containers by label or name).
    Scan,
}

pub(crate) async fn container(cmd: ContainerCmd, socket: &Socket, out: &Out) -> CliResult {
    let mut c = socket.connect().await?;
    match cmd {
        ContainerCmd::Scan => {
            let r = c
                .scan_containers(pb::ScanContainersRequest::default())
                .await?
                .into_inner();
            out.show(&r, || {
                for w in &r.warnings {
                    eprintln!("warning: {w}");
                }
                print_containers(&r.containers);
            });
        }
        ContainerCmd::List => {
            let r = c
                .list_containers(pb::ListContainersRequest::default())
                .await?
                .into_inner();
            out.show(&r, || print_containers(&r.containers));
        }
    }
    Ok(())
}

/// `version`: the daemon's versions, through the managed or the app
/// service.
pub(crate) async fn version(app: bool, socket: &Socket, out: &Out) -> CliResult {
    let clients = socket.clients().await?;
    let r = if app {
        clients
            .app
            .clone()
            .get_version(pb::GetVersionRequest {})
            .await
    } else {
        clients
            .managed
            .clone()
            .get_version(pb::GetVersionRequest {})
            .await
    }?
    .into_inner();
    out.show(&r, || {
        println!("daemon  {}", r.daemon_version);
        println!("api     {}", r.api_version);
        println!("schema  {}", r.schema_version);
    });
    Ok(())
}

pub(crate) async fn templates(socket: &Socket, out: &Out) -> CliResult {
    let r = socket
        .connect()
        .await?
        .list_templates(pb::ListTemplatesRequest::default())
        .await?
        .into_inner();
    out.show(&r, || {
        print_table(
            &["TEMPLATE", "PANES", "SOURCE"],
            r.templates.iter().map(|t| {
                let panes = t
                    .panes
                    .iter()
                    .map(|p| format!("{}:{}", p.role, p.label_pattern))
                    .collect::<Vec<_>>()
                    .join(" ");
                vec![t.name.clone(), panes, t.source.clone()]
            }),
        );
        output::warnings(&r.warnings);
    });
    Ok(())
}

pub(crate) async fn profiles(socket: &Socket, out: &Out) -> CliResult {
    let r = socket
        .connect()
        .await?
        .list_launch_profiles(pb::ListLaunchProfilesRequest::default())
        .await?
        .into_inner();
    out.show(&r, || {
        print_table(
            &["PROFILE", "COMMAND", "SOURCE"],
            r.profiles.iter().map(|p| {
                let cmd = if p.command.is_empty() {
                    "(login shell)".to_string()
                } else {
                    format!("{:?}", p.command)
                };
                vec![p.name.clone(), cmd, p.source.clone()]
            }),
        );
        output::warnings(&r.warnings);
    });
    Ok(())
}

fn print_containers(containers: &[pb::Container]) {
    print_table(
        &["CONTAINER", "NAME", "RUNTIME", "STATE", "USER", "LAST SEEN"],
        containers.iter().map(|c| {
            vec![
                c.container_id.clone(),
                c.name.clone(),
                c.runtime().short_name(),
                c.state().short_name(),
                c.user.clone(),
                time::rfc3339(c.last_seen_time.as_ref()),
            ]
        }),
    )
}
