//! Input rules of SPEC §10: operator identifiers, catalog names and size
//! limits, checked before anything touches tmux or the database.

use crate::error::{Error, Result};

/// Longest operator identifier.
pub(crate) const MAX_IDENTIFIER: usize = 64;
/// Longest free-text request field (ids, tokens, paths).
pub(crate) const MAX_TEXT: usize = 256;
/// Most entries in a request map.
pub(crate) const MAX_MAP_ENTRIES: usize = 64;

/// `[A-Za-z0-9_.-]{1,64}`.
pub(crate) fn identifier(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > MAX_IDENTIFIER {
        return Err(format!("longer than {MAX_IDENTIFIER} characters"));
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        Some(c) => Err(format!(
            "contains {c:?}; only letters, digits, '_', '.' and '-' are allowed"
        )),
        None => Ok(()),
    }
}

/// Template and profile names: identifiers that may also contain `+`
/// (the built-in `1m+2s`).
pub(crate) fn catalog_name(s: &str) -> std::result::Result<(), String> {
    identifier(&s.replace('+', "_"))
}

/// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn env_name(s: &str) -> std::result::Result<(), String> {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return Err("must start with a letter or '_'".into()),
    }
    if s.len() > 128 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("only letters, digits and '_' are allowed (128 at most)".into());
    }
    Ok(())
}

/// An identifier field of a request.
pub(crate) fn field_identifier(field: &str, value: &str) -> Result<()> {
    identifier(value).map_err(|reason| Error::validation(field, reason))
}

/// A tmux session name: an identifier without '.', which tmux rewrites to '_'.
pub(crate) fn session_name(field: &str, value: &str) -> Result<()> {
    field_identifier(field, value)?;
    if value.contains('.') {
        return Err(Error::validation(
            field,
            "contains '.'; tmux does not allow '.' in session names",
        ));
    }
    Ok(())
}

/// A template or profile name field.
pub(crate) fn field_catalog_name(field: &str, value: &str) -> Result<()> {
    catalog_name(value).map_err(|reason| Error::validation(field, reason))
}

/// A free-text id field: bounded, printable ASCII, no whitespace.
pub(crate) fn field_token(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if value.len() > MAX_TEXT {
        return Err(Error::validation(
            field,
            format!("longer than {MAX_TEXT} characters"),
        ));
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::validation(
            field,
            "contains whitespace, control or non-ASCII characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_hostile_text() {
        assert!(identifier("work.m1").is_ok());
        assert!(identifier(&"a".repeat(64)).is_ok());
        for bad in [
            "",
            "a b",
            "a\u{7}",
            "a;rm -rf",
            "$(x)",
            "a'b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(identifier(bad).is_err(), "{bad:?} accepted");
        }
        assert!(catalog_name("1m+2s").is_ok());
        assert!(session_name("s", "a.b").is_err());
        assert!(env_name("API_KEY").is_ok() && env_name("1X").is_err());
    }
}
