//! Templates and launch profiles (SPEC §4): built-ins in code, overridden or
//! extended by the operator's YAML files. Re-read on every create so edits
//! apply without a restart; a malformed file is skipped with a warning naming
//! the file and the reason. The daemon never creates these directories.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

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
    #[serde(skip)]
    pub source: String,
}

/// Name of the built-in profile that runs the login shell.
pub(crate) const SHELL_PROFILE: &str = "shell";
const MAX_TEMPLATE_PANES: usize = 64;

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
        source: "builtin".into(),
    }]
}

impl Catalog {
    /// Built-ins merged with `templates_dir/*.y{a,}ml` and `profiles_dir/*.y{a,}ml`.
    pub(crate) fn load(templates_dir: &Path, profiles_dir: &Path) -> Catalog {
        let mut warnings = Vec::new();
        let mut templates: BTreeMap<_, _> = builtin_templates()
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        for (path, text) in yaml_files(templates_dir, &mut warnings) {
            match serde_yaml::from_str::<Template>(&text)
                .map_err(|e| e.to_string())
                .and_then(check_template)
            {
                Ok(mut t) => {
                    t.source = path.clone();
                    templates.insert(t.name.clone(), t);
                }
                Err(reason) => warnings.push(format!("{path}: {reason}")),
            }
        }
        let mut profiles: BTreeMap<_, _> = builtin_profiles()
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        for (path, text) in yaml_files(profiles_dir, &mut warnings) {
            match serde_yaml::from_str::<LaunchProfile>(&text)
                .map_err(|e| e.to_string())
                .and_then(check_profile)
            {
                Ok(mut p) => {
                    p.source = path.clone();
                    profiles.insert(p.name.clone(), p);
                }
                Err(reason) => warnings.push(format!("{path}: {reason}")),
            }
        }
        for w in &warnings {
            tracing::warn!(warning = %w, "skipped operator catalog file");
        }
        Catalog {
            templates,
            profiles,
            warnings,
        }
    }
}

/// `(display path, contents)` of every YAML file in `dir`, sorted by name so
/// two files defining one name resolve the same way every time.
fn yaml_files(dir: &Path, warnings: &mut Vec<String>) -> Vec<(String, String)> {
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
        .into_iter()
        .filter_map(|p| match std::fs::read_to_string(&p) {
            Ok(text) => Some((p.display().to_string(), text)),
            Err(e) => {
                warnings.push(format!("{}: cannot read: {e}", p.display()));
                None
            }
        })
        .collect()
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

fn check_profile(p: LaunchProfile) -> Result<LaunchProfile, String> {
    validate::catalog_name(&p.name).map_err(|r| format!("name: {r}"))?;
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
    Ok(p)
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

    #[test]
    fn builtin_labels_include_the_session_and_count_per_role() {
        let c = Catalog::load(Path::new("/nonexistent"), Path::new("/nonexistent"));
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
        let c = Catalog::load(
            &root.join("managed_templates"),
            &root.join("launch_commands"),
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(c.templates.contains_key("review-pair") && c.templates.contains_key("1m+3s"));
        assert_eq!(c.profiles["codex"].command, ["codex", "--full-auto"]);
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
        let c = Catalog::load(&tdir, &pdir);
        assert_eq!(c.templates["1m+2s"].panes.len(), 1);
        assert!(c.templates["1m+2s"].source.ends_with("a.yaml"));
        assert!(!c.templates.contains_key("dup"));
        assert_eq!(c.profiles["echo"].command, ["echo", "hi"]);
        assert!(!c.profiles.contains_key("bad"));
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings.iter().any(|w| w.contains("b.yaml")));
    }
}
