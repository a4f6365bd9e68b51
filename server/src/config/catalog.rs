//! Templates and launch profiles (SPEC §4): built-ins in code, overridden or
//! extended by the operator's YAML files. Every create and list checks the
//! files again, so edits apply without a restart, but a file is parsed only
//! when its identity (inode, size, mtime, ctime) changed. A file that is
//! malformed, too large or too deeply nested is skipped with a warning naming
//! the file and the reason. The daemon never creates these directories.

mod prescan;

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;

use crate::activity::{ActivityConfig, Detection};
use crate::service::validate;

/// One pane slot of a template.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplatePane {
    pub role: String,
    pub capability: String,
    pub label_pattern: String,
    #[serde(default)]
    pub default_launch_command_ref: Option<String>,
}

/// A layout template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Template {
    pub name: String,
    pub panes: Vec<TemplatePane>,
    /// `builtin` or the defining file.
    #[serde(skip)]
    pub source: String,
}

/// A named launch command: argv (never a shell string), env, working dir.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaunchProfile {
    pub name: String,
    /// Empty means the user's login shell.
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    /// How the agent's activity is detected from its output
    /// (docs/activity.md); every key is optional.
    #[serde(default)]
    pub activity: ActivityConfig,
    /// `activity`, checked and compiled when the profile loads.
    #[serde(skip, default = "crate::activity::default_detection")]
    pub detection: Arc<Detection>,
    #[serde(skip)]
    pub source: String,
}

/// Name of the built-in profile that runs the login shell.
pub(crate) const SHELL_PROFILE: &str = "shell";
const MAX_TEMPLATE_PANES: usize = 64;
/// Largest operator file read: a catalog entry is a few hundred bytes.
const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Deepest nesting (block levels plus flow brackets) handed to the parser,
/// whose cost per token grows with the depth.
const MAX_NESTING: usize = 32;
/// Most bytes a profile's `-e K=V` pairs, `-c DIR` and command argv may take
/// (each argument with its NUL). tmux carries one command's argv in one
/// 16 KiB message, and `new-session` / `split-window` need the rest.
pub(crate) const MAX_PROFILE_ARGV_BYTES: usize = 8192;

/// The merged built-in + operator sets, with the warnings of skipped files.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub templates: BTreeMap<String, Template>,
    pub profiles: BTreeMap<String, LaunchProfile>,
    pub warnings: Vec<String>,
}

fn pane(role: &str, capability: &str, label_pattern: &str) -> TemplatePane {
    TemplatePane {
        role: role.into(),
        capability: capability.into(),
        label_pattern: label_pattern.into(),
        default_launch_command_ref: None,
    }
}

fn builtin_templates() -> Vec<Template> {
    let master = || pane("master", "orchestrator", "{session}.m{ordinal}");
    let slave = || pane("slave", "worker", "{session}.s{ordinal}");
    vec![
        Template {
            name: "1m+2s".into(),
            panes: vec![master(), slave(), slave()],
            source: "builtin".into(),
        },
        Template {
            name: "2m+2s".into(),
            panes: vec![master(), master(), slave(), slave()],
            source: "builtin".into(),
        },
    ]
}

fn builtin_profiles() -> Vec<LaunchProfile> {
    vec![LaunchProfile {
        name: SHELL_PROFILE.into(),
        command: vec![],
        env: BTreeMap::new(),
        working_dir: None,
        activity: ActivityConfig::default(),
        detection: crate::activity::default_detection(),
        source: "builtin".into(),
    }]
}

/// Parsed operator files by path, each with the identity it was parsed at.
type Parsed<T> = HashMap<PathBuf, (FileIdentity, Result<T, String>)>;

/// The parsed operator files, shared by every request; only new or changed
/// files are parsed again. Loads run on a blocking thread, one at a time.
#[derive(Default)]
pub(crate) struct CatalogCache {
    files: Mutex<(Parsed<Template>, Parsed<LaunchProfile>)>,
}

/// What tells one version of a file from another without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileIdentity {
    fn of(m: &std::fs::Metadata) -> Self {
        FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

impl CatalogCache {
    /// Built-ins merged with `templates_dir/*.y{a,}ml` and
    /// `profiles_dir/*.y{a,}ml`. Blocking: file system and parsing.
    pub(crate) fn load(&self, templates_dir: &Path, profiles_dir: &Path) -> Catalog {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let (parsed_templates, parsed_profiles) = &mut *files;
        let mut warnings = Vec::new();
        let mut templates: BTreeMap<_, _> = builtin_templates()
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        for t in operator_files(
            templates_dir,
            parsed_templates,
            parse_template,
            &mut warnings,
        ) {
            templates.insert(t.name.clone(), t);
        }
        let mut profiles: BTreeMap<_, _> = builtin_profiles()
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        for p in operator_files(profiles_dir, parsed_profiles, parse_profile, &mut warnings) {
            profiles.insert(p.name.clone(), p);
        }
        Catalog {
            templates,
            profiles,
            warnings,
        }
    }
}

fn parse_template(text: &str, source: &str) -> Result<Template, String> {
    let mut t = serde_yaml::from_str::<Template>(text).map_err(|e| e.to_string())?;
    t.source = source.to_string();
    check_template(t)
}

fn parse_profile(text: &str, source: &str) -> Result<LaunchProfile, String> {
    let mut p = serde_yaml::from_str::<LaunchProfile>(text).map_err(|e| e.to_string())?;
    p.source = source.to_string();
    check_profile(p)
}

/// The entries of every YAML file in `dir`, in file name order so two files
/// defining one name resolve the same way every time. A file is parsed only
/// when `parsed` has no entry for its current identity; entries of files that
/// are gone are dropped.
fn operator_files<T: Clone>(
    dir: &Path,
    parsed: &mut Parsed<T>,
    parse: impl Fn(&str, &str) -> Result<T, String>,
    warnings: &mut Vec<String>,
) -> Vec<T> {
    let paths = yaml_paths(dir, warnings);
    parsed.retain(|path, _| paths.contains(path));
    let mut out = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        // Never blocks: a FIFO opens at once and is refused by its type.
        let opened = std::fs::File::options()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(&path)
            .and_then(|f| Ok((f.metadata()?, f)));
        let (identity, file) = match opened {
            Ok((m, f)) if m.is_file() => (FileIdentity::of(&m), f),
            Ok(_) => {
                warnings.push(format!("{shown}: not a regular file"));
                continue;
            }
            Err(e) => {
                warnings.push(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        if parsed.get(&path).is_none_or(|(seen, _)| *seen != identity) {
            let entry = read_checked(file, identity.len).and_then(|t| parse(&t, &shown));
            if let Err(reason) = &entry {
                tracing::warn!(file = %shown, %reason, "skipped operator catalog file");
            }
            parsed.insert(path.clone(), (identity, entry));
        }
        match &parsed[&path].1 {
            Ok(t) => out.push(t.clone()),
            Err(reason) => warnings.push(format!("{shown}: {reason}")),
        }
    }
    out
}

/// Every `*.yaml` / `*.yml` path in `dir`, sorted by name.
fn yaml_paths(dir: &Path, warnings: &mut Vec<String>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![],
        Err(e) => {
            warnings.push(format!("{}: cannot read directory: {e}", dir.display()));
            return vec![];
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    paths
}

/// The text of an open file measured at `len` bytes, refused before parsing
/// when it is too large or nests too deeply.
fn read_checked(file: std::fs::File, len: u64) -> Result<String, String> {
    let too_large = |len: u64| {
        format!("{len} bytes; operator catalog files are limited to {MAX_FILE_BYTES} bytes")
    };
    if len > MAX_FILE_BYTES {
        return Err(too_large(len));
    }
    let mut text = String::new();
    // The file may have grown since it was measured.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read: {e}"))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(text.len() as u64));
    }
    prescan::check_nesting(&text, MAX_NESTING).map_err(|line| {
        format!("nested deeper than {MAX_NESTING} levels (at line {line}); not parsed")
    })?;
    Ok(text)
}

fn check_template(t: Template) -> Result<Template, String> {
    validate::catalog_name(&t.name).map_err(|r| format!("name: {r}"))?;
    if t.panes.is_empty() || t.panes.len() > MAX_TEMPLATE_PANES {
        return Err(format!("panes: needs 1 to {MAX_TEMPLATE_PANES} panes"));
    }
    for (i, p) in t.panes.iter().enumerate() {
        validate::identifier(&p.role).map_err(|r| format!("panes[{i}].role: {r}"))?;
        validate::identifier(&p.capability).map_err(|r| format!("panes[{i}].capability: {r}"))?;
        check_label_pattern(&p.label_pattern)
            .map_err(|r| format!("panes[{i}].label_pattern: {r}"))?;
        if let Some(r) = &p.default_launch_command_ref {
            validate::catalog_name(r)
                .map_err(|e| format!("panes[{i}].default_launch_command_ref: {e}"))?;
        }
    }
    // Two slots resolving to one label would collide in every container.
    let probe = resolve_labels(&t, "s");
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = probe.iter().find(|l| !seen.insert(l.as_str())) {
        return Err(format!(
            "label_pattern: two panes resolve to the same label {dup:?}"
        ));
    }
    Ok(t)
}

fn check_label_pattern(pattern: &str) -> Result<(), String> {
    let stripped = pattern.replace("{session}", "").replace("{ordinal}", "");
    if stripped.contains('{') || stripped.contains('}') {
        return Err("only {session} and {ordinal} placeholders are supported".into());
    }
    validate::identifier(&pattern.replace("{session}", "s").replace("{ordinal}", "1"))
}

fn check_profile(mut p: LaunchProfile) -> Result<LaunchProfile, String> {
    validate::catalog_name(&p.name).map_err(|r| format!("name: {r}"))?;
    if p.activity != ActivityConfig::default() {
        p.detection = Arc::new(p.activity.compile().map_err(|r| format!("activity.{r}"))?);
    }
    for (i, arg) in p.command.iter().enumerate() {
        if arg.contains('\0') {
            return Err(format!("command[{i}]: contains a NUL byte"));
        }
    }
    if p.command.first().is_some_and(|a| a.is_empty()) {
        return Err("command[0]: the program name is empty".into());
    }
    for (k, v) in &p.env {
        validate::env_name(k).map_err(|r| format!("env.{k}: {r}"))?;
        if v.contains('\0') {
            return Err(format!("env.{k}: contains a NUL byte"));
        }
    }
    if let Some(dir) = &p.working_dir
        && (dir.is_empty() || dir.contains('\0'))
    {
        return Err("working_dir: must be a non-empty path".into());
    }
    let argv = profile_argv_bytes(&p);
    if argv > MAX_PROFILE_ARGV_BYTES {
        return Err(format!(
            "env, working_dir and command take {argv} bytes of tmux argv; \
             the limit is {MAX_PROFILE_ARGV_BYTES} (tmux sends one command in one 16 KiB message)"
        ));
    }
    Ok(p)
}

/// The bytes a profile adds to a tmux command: `-e K=V` per variable,
/// `-c DIR` and the command's argv, each argument with its NUL.
fn profile_argv_bytes(p: &LaunchProfile) -> usize {
    let arg = |s: &str| s.len() + 1;
    let env: usize = p
        .env
        .iter()
        .map(|(k, v)| arg("-e") + k.len() + v.len() + 2)
        .sum();
    let dir = p.working_dir.as_deref().map_or(0, |d| arg("-c") + arg(d));
    let command: usize = p.command.iter().map(|a| arg(a)).sum();
    env + dir + command
}

/// The labels of a template's panes for `session`: `{ordinal}` counts from 1
/// per role.
pub(crate) fn resolve_labels(t: &Template, session: &str) -> Vec<String> {
    let mut ordinals: HashMap<&str, u32> = HashMap::new();
    t.panes
        .iter()
        .map(|p| {
            let n = ordinals.entry(p.role.as_str()).or_insert(0);
            *n += 1;
            p.label_pattern
                .replace("{session}", session)
                .replace("{ordinal}", &n.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(templates_dir: &Path, profiles_dir: &Path) -> Catalog {
        CatalogCache::default().load(templates_dir, profiles_dir)
    }

    #[test]
    fn builtin_labels_include_the_session_and_count_per_role() {
        let c = load(Path::new("/nonexistent"), Path::new("/nonexistent"));
        let t = &c.templates["2m+2s"];
        assert_eq!(
            resolve_labels(t, "work"),
            ["work.m1", "work.m2", "work.s1", "work.s2"]
        );
        assert!(c.profiles.contains_key("shell"));
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn the_shipped_examples_load_without_warnings() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let c = load(
            &root.join("managed_templates"),
            &root.join("launch_commands"),
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(c.templates.contains_key("review-pair") && c.templates.contains_key("1m+3s"));
        assert_eq!(c.profiles["codex"].command[0], "codex");
        assert_eq!(
            resolve_labels(&c.templates["review-pair"], "pr7"),
            ["pr7.review", "pr7.impl1"]
        );
    }

    #[test]
    fn operator_files_override_builtins_and_bad_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (tdir, pdir) = (dir.path().join("t"), dir.path().join("p"));
        std::fs::create_dir_all(&tdir).unwrap();
        std::fs::create_dir_all(&pdir).unwrap();
        std::fs::write(
            tdir.join("a.yaml"),
            "name: 1m+2s\npanes:\n  - {role: master, capability: orchestrator, label_pattern: '{session}.boss'}\n",
        )
        .unwrap();
        std::fs::write(tdir.join("b.yaml"), "name: [oops\n").unwrap();
        std::fs::write(
            tdir.join("c.yaml"),
            "name: dup\npanes:\n  - {role: r, capability: c, label_pattern: x}\n  - {role: r, capability: c, label_pattern: x}\n",
        )
        .unwrap();
        std::fs::write(pdir.join("p.yml"), "name: echo\ncommand: [echo, hi]\n").unwrap();
        std::fs::write(pdir.join("q.yaml"), "name: bad\nenv: {'A B': x}\n").unwrap();
        let c = load(&tdir, &pdir);
        assert_eq!(c.templates["1m+2s"].panes.len(), 1);
        assert!(c.templates["1m+2s"].source.ends_with("a.yaml"));
        assert!(!c.templates.contains_key("dup"));
        assert_eq!(c.profiles["echo"].command, ["echo", "hi"]);
        assert!(!c.profiles.contains_key("bad"));
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings.iter().any(|w| w.contains("b.yaml")));
    }

    const TEMPLATE: &str = "name: solo\npanes:\n  - {role: r, capability: c, label_pattern: x}\n";

    #[test]
    fn oversized_and_deeply_nested_files_are_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let big = format!("{TEMPLATE}# {}\n", "x".repeat(MAX_FILE_BYTES as usize));
        std::fs::write(dir.path().join("big.yaml"), big).unwrap();
        std::fs::write(dir.path().join("deep.yaml"), "[".repeat(40_000)).unwrap();
        std::fs::write(dir.path().join("ok.yaml"), TEMPLATE).unwrap();
        let c = load(dir.path(), Path::new("/nonexistent"));
        assert!(c.templates.contains_key("solo"));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("big.yaml") && c.warnings[0].contains("limited to 262144 bytes"),
            "{}",
            c.warnings[0]
        );
        assert!(
            c.warnings[1].contains("deep.yaml") && c.warnings[1].contains("deeper than 32 levels"),
            "{}",
            c.warnings[1]
        );
        // Exactly at the limit is fine.
        let padded = format!("{TEMPLATE}#");
        let padded = format!(
            "{padded}{}",
            "x".repeat(MAX_FILE_BYTES as usize - padded.len())
        );
        std::fs::write(dir.path().join("big.yaml"), padded).unwrap();
        assert_eq!(
            load(dir.path(), Path::new("/nonexistent")).warnings.len(),
            1
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking_on_it() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&dir.path().join("pipe.yaml"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let c = load(dir.path(), Path::new("/nonexistent"));
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].ends_with("pipe.yaml: not a regular file"),
            "{}",
            c.warnings[0]
        );
    }

    #[test]
    fn a_profile_too_large_for_one_tmux_command_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let env = |n: usize| -> String { (0..n).map(|i| format!("  V{i:04}: x\n")).collect() };
        std::fs::write(
            dir.path().join("huge.yaml"),
            format!("name: huge\ncommand: [sh]\nenv:\n{}", env(5000)),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("fine.yaml"),
            format!("name: fine\ncommand: [sh]\nenv:\n{}", env(100)),
        )
        .unwrap();
        let c = load(Path::new("/nonexistent"), dir.path());
        assert!(c.profiles.contains_key("fine") && !c.profiles.contains_key("huge"));
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("huge.yaml"), "{}", c.warnings[0]);
        assert!(c.warnings[0].contains("55003 bytes"), "{}", c.warnings[0]);
        assert!(c.warnings[0].contains("limit is 8192"), "{}", c.warnings[0]);
        assert!(profile_argv_bytes(&c.profiles["fine"]) <= MAX_PROFILE_ARGV_BYTES);
    }

    #[test]
    fn a_profile_activity_block_is_compiled_and_a_bad_rule_skips_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("agent.yaml"),
            "name: agent\ncommand: [agent]\nactivity:\n  working_window_ms: 300\n  quiet_window_ms: 800\n  rules:\n    - {match: 'Allow\\?\\s*$', activity: waiting_for_input}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("broken.yaml"),
            "name: broken\ncommand: [agent]\nactivity:\n  rules:\n    - {match: 'unclosed (group', activity: idle}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("talker.yaml"),
            "name: talker\ncommand: [sh]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("typo.yaml"),
            "name: typo\nactivity: {quiet_window: 5}\n",
        )
        .unwrap();
        let c = load(Path::new("/nonexistent"), dir.path());
        let agent = c
            .profiles
            .get("agent")
            .unwrap_or_else(|| panic!("{:?}", c.warnings));
        assert_eq!(agent.activity.quiet_window_ms, 800);
        assert_eq!(
            agent.detection.quiet_window,
            std::time::Duration::from_millis(800)
        );
        assert_eq!(
            agent.detection.matching("Allow? "),
            Some(crate::domain::Activity::WaitingForInput)
        );
        // Profiles without a block (the built-in shell too) share the
        // default rules, which see a shell prompt.
        assert!(Arc::ptr_eq(
            &c.profiles["shell"].detection,
            &crate::activity::default_detection()
        ));
        assert_eq!(
            c.profiles["talker"].detection.matching("$ "),
            Some(crate::domain::Activity::Idle)
        );
        assert!(!c.profiles.contains_key("broken") && !c.profiles.contains_key("typo"));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("broken.yaml")
                && c.warnings[0].contains("activity.rules[0].match: regex parse error")
                && !c.warnings[0].contains('\n'),
            "{}",
            c.warnings[0]
        );
        assert!(
            c.warnings[1].contains("typo.yaml") && c.warnings[1].contains("quiet_window"),
            "{}",
            c.warnings[1]
        );
    }

    #[test]
    fn unchanged_files_are_parsed_once_and_edits_and_removals_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.yaml");
        std::fs::write(&file, TEMPLATE).unwrap();
        let parses = std::cell::Cell::new(0);
        let counting = |text: &str, source: &str| {
            parses.set(parses.get() + 1);
            parse_template(text, source)
        };
        let mut parsed = Parsed::default();
        let mut names = || {
            let mut warnings = vec![];
            operator_files(dir.path(), &mut parsed, counting, &mut warnings)
                .into_iter()
                .map(|t| (t.name, t.panes.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(), [("solo".to_string(), 1)]);
        assert_eq!(names(), [("solo".to_string(), 1)]);
        assert_eq!(parses.get(), 1);
        std::fs::write(
            &file,
            "name: duo\npanes:\n  - {role: r, capability: c, label_pattern: x}\n  - {role: r, capability: c, label_pattern: y}\n",
        )
        .unwrap();
        assert_eq!(names(), [("duo".to_string(), 2)]);
        assert_eq!(parses.get(), 2);
        std::fs::remove_file(&file).unwrap();
        assert!(names().is_empty());
        assert!(parsed.is_empty());
    }
}
