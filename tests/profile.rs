//! `quickstart --profile`: the built quickstart ends with a table of each action's share of
//! the time, its calls, p50, p95 and max, one row per action of its pipeline; without the
//! flag there is no table.

use std::process::{Command, Output};

fn quickstart(args: &[&str]) -> String {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .args(["--jobs", "100", "--ws-addr", "127.0.0.1:0"])
        .args(args)
        .output()
        .expect("run the quickstart");
    assert!(status.success(), "quickstart failed: {}", String::from_utf8_lossy(&stderr));
    String::from_utf8(stdout).expect("utf-8 output")
}

#[test]
fn with_profile_the_quickstart_ends_with_a_row_per_action() {
    let out = quickstart(&["--profile"]);
    let table: Vec<&str> =
        out.lines().skip_while(|line| !line.starts_with("time per action")).skip(1).collect();
    let header: Vec<&str> = table.first().expect("a table after the title").split_whitespace().collect();
    assert_eq!(header, ["action", "calls", "share", "p50", "p95", "max"]);
    for action in ["fetch_image", "make_thumbnail", "upload"] {
        let row = table.iter().find(|line| line.split_whitespace().next() == Some(action));
        let cells: Vec<&str> =
            row.unwrap_or_else(|| panic!("no row for {action}:\n{out}")).split_whitespace().collect();
        assert_eq!(cells.len(), 6, "{cells:?}");
        let calls: u64 = cells[1].parse().unwrap();
        assert!(calls >= 90, "{action} ran for (nearly) every job: {cells:?}");
        assert!(cells[2].ends_with('%'), "{cells:?}");
    }
    let shares: f64 = table[1..4]
        .iter()
        .map(|line| {
            let share = line.split_whitespace().nth(2).unwrap();
            share.trim_end_matches('%').parse::<f64>().unwrap()
        })
        .sum();
    assert!((shares - 100.0).abs() < 0.2, "shares add up to 100 %: {shares}");
}

#[test]
fn without_profile_there_is_no_table() {
    assert!(!quickstart(&[]).contains("time per action"));
}
