//! The benchmark command keeps working: a `--quick` run (tiny counts, no
//! timing asserted) prints every row of the table with numbers.

use std::process::Command;

#[test]
fn the_benchmark_command_runs_and_prints_every_figure() {
    let out = Command::new(env!("CARGO_BIN_EXE_agenttower-bench"))
        .arg("--quick")
        .output()
        .expect("run agenttower-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("machine: "), "{stdout}");
    for figure in [
        "raw tmux floor, 3 panes, one chained call, cold server",
        "raw tmux floor, 3 panes, one chained call, warm server",
        "ours: 1m+2s ready, minus the settle window",
        "ours ÷ cold floor (medians)",
        "ours: 6 panes ready",
        "ours: 12 panes ready",
        "CreateLayout round trip",
        "event delivery to 100 watchers",
        "GetLayout p99",
        "ListPanes p99",
        "read RPCs per second",
        "boot recovery",
        "daemon RSS, idle",
        "daemon RSS with",
        "pane death → event, p99",
        "daemon CPU while idle",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.contains(figure))
            .unwrap_or_else(|| panic!("no row {figure:?}:\n{stdout}"));
        // figure | unit | min | median | max | target: three positive numbers.
        let numbers: Vec<f64> = row
            .split('|')
            .skip(3)
            .take(3)
            .map(|c| c.trim().parse().unwrap_or(-1.0))
            .collect();
        assert!(
            numbers.len() == 3 && numbers.iter().all(|&n| n > 0.0),
            "{row}"
        );
    }
}
