//! agenttower-tui: the operator console. Its issue has not landed yet; until
//! then the binary says so plainly instead of pretending to work.

fn main() -> std::process::ExitCode {
    eprintln!(
        "agenttower-tui is not implemented yet; use the `agenttower` CLI \
         (for example `agenttower layout list`) meanwhile"
    );
    std::process::ExitCode::from(2)
}
