//! Activity detection from a pane's output (docs/activity.md): the output of
//! every managed pane already reaches its log file, so the watcher stats
//! those files on a short tick, reads only what was appended, and a pure
//! per-pane detector turns output, silence and the last lines into a
//! proposed activity. What a proposal may override is settled in
//! `service::activity`.

mod ansi;
mod detector;
mod logfile;
mod rules;
mod watcher;

pub(crate) use rules::{ActivityConfig, Detection, default_detection};
