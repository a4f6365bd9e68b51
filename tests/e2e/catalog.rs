//! The operator catalog over the real socket: hostile files are skipped with
//! a warning naming the file and the limit while the rest still loads, and
//! edits apply without a restart.

use agenttower::pb;
use tonic::Code;

use crate::support::*;

const SOLO: &str =
    "name: solo\npanes:\n  - {role: r, capability: c, label_pattern: '{session}.x'}\n";

async fn templates(d: &Daemon) -> pb::ListTemplatesResponse {
    d.client()
        .await
        .list_templates(pb::ListTemplatesRequest::default())
        .await
        .expect("list templates")
        .into_inner()
}

fn warning<'a>(warnings: &'a [String], file: &str) -> &'a str {
    warnings
        .iter()
        .find(|w| w.contains(file))
        .unwrap_or_else(|| panic!("no warning names {file}: {warnings:?}"))
}

#[tokio::test]
async fn deeply_nested_and_oversized_templates_are_skipped_and_the_rest_load() {
    // A valid template padded with a comment to just over 256 KiB.
    let big = format!(
        "{}# {}\n",
        SOLO.replace("solo", "big"),
        "x".repeat(256 * 1024)
    );
    let d = Daemon::start_with(
        Setup::default()
            .template("deep", &"[".repeat(40_000))
            .template("big", &big)
            .template("solo", SOLO),
    )
    .await;
    let r = templates(&d).await;
    let deep = warning(&r.warnings, "deep.yaml");
    assert!(deep.contains("deeper than 32 levels"), "{deep}");
    let big = warning(&r.warnings, "big.yaml");
    assert!(big.contains("limited to 262144 bytes"), "{big}");
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    let names: Vec<_> = r.templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["1m+2s", "2m+2s", "solo"]);

    // Creates resolve against the same catalog.
    let layout = d.create_settled("solo", "s").await;
    assert_eq!(layout.panes()[0].label, "s.x");
    let (code, e) = err(d.client().await.create_layout(create("deep", "t")).await);
    assert_eq!(code, Code::NotFound);
    assert_eq!(e.reason, "managed_template_not_found");
}

#[tokio::test]
async fn a_profile_too_large_for_one_tmux_command_is_skipped_with_the_numbers() {
    let env: String = (0..5000).map(|i| format!("  V{i:04}: x\n")).collect();
    let d = Daemon::start_with(
        Setup::default().profile("huge", &format!("name: huge\ncommand: [sh]\nenv:\n{env}")),
    )
    .await;
    let r = d
        .client()
        .await
        .list_launch_profiles(pb::ListLaunchProfilesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let huge = warning(&r.warnings, "huge.yaml");
    assert!(
        huge.contains("55003 bytes") && huge.contains("limit is 8192"),
        "{huge}"
    );
    let names: Vec<_> = r.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["shell", "talker"]);
    // Never accepted, so never a create that tmux refuses.
    let mut req = create("1m+2s", "h");
    req.launch_command_overrides = [("master:h.m1".to_string(), "huge".to_string())].into();
    let (code, e) = err(d.client().await.create_layout(req).await);
    assert_eq!(code, Code::NotFound);
    assert_eq!(e.reason, "managed_launch_command_not_found");
}

#[tokio::test]
async fn an_edited_template_file_is_seen_by_the_next_call_without_a_restart() {
    let d = Daemon::start_with(Setup::default().template("solo", SOLO)).await;
    let file = d.dir.path().join("cfg/managed_templates/solo.yaml");
    let panes = |r: &pb::ListTemplatesResponse| {
        r.templates
            .iter()
            .find(|t| t.name == "solo")
            .map(|t| (t.panes.len(), t.panes[0].label_pattern.clone()))
    };
    assert_eq!(panes(&templates(&d).await), Some((1, "{session}.x".into())));

    // A second pane: another size.
    std::fs::write(
        &file,
        format!("{SOLO}  - {{role: r, capability: c, label_pattern: '{{session}}.y'}}\n"),
    )
    .unwrap();
    assert_eq!(panes(&templates(&d).await), Some((2, "{session}.x".into())));

    // The same size, another text and mtime.
    std::fs::write(&file, SOLO.replace(".x'", ".z'")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    assert_eq!(panes(&templates(&d).await), Some((1, "{session}.z".into())));
    assert_eq!(d.create_settled("solo", "e").await.panes()[0].label, "e.z");

    std::fs::remove_file(&file).unwrap();
    assert_eq!(panes(&templates(&d).await), None);
}
