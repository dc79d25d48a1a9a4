//! The report generator on a small fixed input: a run of two crates' benches, written as
//! criterion and the benches would write it, and a `report.toml` of four targets.

use std::path::Path;

use crate::results::{Paths, load_benches, load_printed};
use crate::targets::{Check, ReportSpec};

const SPEC: &str = r#"
[[target]]
crate = "cache"
target = "mixed: at least as fast as the peer"
tuned = "both with a hasher chosen by hand"
ratio = { ours = ["mixed", "ours_tuned", ""], peer = ["mixed", "peer", ""], max = 1.0 }
instructions = { bench = "cache", iters = 100 }

[[target]]
crate = "cache"
target = "mixed: at least as fast as the peer"
ratio = { ours = ["mixed", "ours", ""], peer = ["mixed", "peer", ""], max = 1.0 }
instructions = { bench = "cache", iters = 100 }

[[target]]
crate = "bagpipe"
target = "under 25 ns"
nanos = { ours = ["uncontended", "bagpipe run", ""], max = 25.0 }

[[target]]
crate = "bagpipe"
target = "a row nobody measured"
nanos = { ours = ["uncontended", "nothing", ""], max = 25.0 }

[[target]]
crate = "emitter"
target = "paired within 2x"
paired = { line = "paired emit_sync emitter/plain_vec_loop 10:", max = 2.0 }

[[tuned]]
crate = "cache"
subject = "ours_tuned"
label = "a hasher chosen by hand"

[[workload]]
group = "mixed"
text = "90% get, 10% insert"
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// One criterion result, as criterion 0.8 writes it under `criterion/<group>/<subject>/new/`.
fn criterion_result(dir: &Path, group: &str, subject: &str, median_ns: f64) {
    let at = dir.join(group).join(subject).join("new");
    write(
        &at.join("benchmark.json"),
        &format!(
            r#"{{"group_id":"{group}","function_id":"{subject}","value_str":null,"throughput":null}}"#
        ),
    );
    write(
        &at.join("estimates.json"),
        &format!(r#"{{"median":{{"point_estimate":{median_ns}}}}}"#),
    );
}

fn fixture() -> (tempfile::TempDir, Paths) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let paths = Paths {
        criterion: dir.path().join("target/criterion"),
        runs: dir.path().join("target/bench-report"),
        root,
    };
    write(
        &paths.root.join("benches-report/intro.md"),
        "# Benchmarks\n",
    );
    // The bench sources name their groups: that is how a group is attributed to a crate.
    write(
        &paths.root.join("cache/benches/cache.rs"),
        r#"c.benchmark_group("mixed");"#,
    );
    write(
        &paths.root.join("bagpipe/benches/limiter.rs"),
        r#"c.benchmark_group("uncontended");"#,
    );
    criterion_result(&paths.criterion, "mixed", "ours", 30.0);
    criterion_result(&paths.criterion, "mixed", "ours_tuned", 18.0);
    criterion_result(&paths.criterion, "mixed", "peer", 20.0);
    criterion_result(&paths.criterion, "uncontended", "bagpipe run", 12.0);
    write(
        &paths.runs.join("emitter.printed"),
        "paired emit_sync emitter/plain_vec_loop 10: 1.500x (median of 101 rounds)\n",
    );
    // What the last counting run found: ours at the defaults does as many instructions as the
    // peer although its time is 1.5x (a row to look at); the tuned one 0.9x, as its time.
    write(
        &paths.runs.join("instructions.tsv"),
        "cache\tmixed/ours\t1000\ncache\tmixed/ours_tuned\t900\ncache\tmixed/peer\t1000\n",
    );
    (dir, paths)
}

fn render_fixture() -> String {
    let (_dir, paths) = fixture();
    let spec = ReportSpec::parse(SPEC).unwrap();
    let benches = load_benches(&paths).unwrap();
    let printed = load_printed(&paths);
    let counts = crate::instructions::load(&paths);
    crate::render::render(&paths, &spec, &benches, &printed, &counts, &[])
}

fn target_rows(report: &str) -> Vec<&str> {
    report
        .lines()
        .skip_while(|line| !line.starts_with("| crate | target |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .collect()
}

#[test]
fn targets_come_from_the_data_table_with_default_settings_first() {
    let report = render_fixture();
    let rows = target_rows(&report);
    assert_eq!(rows.len(), 5, "{report}");
    // The tuned row is first in the file but last in the table, and labelled.
    assert!(rows[0].starts_with("| cache | mixed: at least as fast as the peer | defaults |"));
    assert!(rows[4].contains("| tuned: both with a hasher chosen by hand |"));
}

#[test]
fn each_target_gets_the_verdict_of_this_runs_figures() {
    let report = render_fixture();
    let rows = target_rows(&report);
    // ours 30 ns against the peer's 20 ns: missed at the defaults...
    assert!(rows[0].contains("ours/peer 1.50") && rows[0].ends_with("| **missed** |"));
    // ...and met with the tuned hasher (18 against 20).
    assert!(rows[4].contains("ours/peer 0.90") && rows[4].ends_with("| met |"));
    assert!(rows[1].contains("12.0 ns") && rows[1].ends_with("| met |"));
    assert!(rows[2].contains("no benchmark `uncontended/nothing/`"));
    assert!(rows[2].ends_with("| not measured |"));
    assert!(rows[3].contains("ours/peer 1.500") && rows[3].ends_with("| met |"));
}

#[test]
fn instruction_ratios_stand_beside_time_ratios_and_disagreement_is_flagged() {
    let report = render_fixture();
    let rows = target_rows(&report);
    assert!(
        rows[0]
            .contains("| 1.00 (1000 against 1000); **flagged**: the time ratio 1.50 is 50% away |"),
        "{}",
        rows[0]
    );
    assert!(
        rows[4].contains("| 0.90 (900 against 1000) |"),
        "{}",
        rows[4]
    );
    // Rows without `instructions` leave the column empty.
    assert!(rows[1].contains("|  | met |"), "{}", rows[1]);
}

#[test]
fn callgrinds_total_is_read_off_its_summary() {
    let stderr = "==12== Events    : Ir\n==12== Collected : 20410886\n==12==\n==12== I   refs:      20,410,886\n";
    assert_eq!(
        crate::instructions::collected_total(stderr),
        Some(20_410_886)
    );
    assert_eq!(crate::instructions::collected_total("no summary"), None);
}

#[test]
fn instructions_are_counted_for_ratio_targets_and_for_paired_targets_naming_both_sides() {
    let text = "[[target]]\ncrate = \"c\"\ntarget = \"t\"\nnanos = { ours = [\"g\", \"s\", \"\"], max = 1.0 }\ninstructions = { bench = \"b\", iters = 10 }\n";
    let err = ReportSpec::parse(text).unwrap_err();
    assert!(err.contains("counted for ratio targets"), "{err}");
    let paired_unnamed = "[[target]]\ncrate = \"c\"\ntarget = \"t\"\npaired = { line = \"x\", max = 1.0 }\ninstructions = { bench = \"b\", iters = 10 }\n";
    assert!(ReportSpec::parse(paired_unnamed).is_err());
    let paired_named = "[[target]]\ncrate = \"c\"\ntarget = \"t\"\npaired = { line = \"x\", max = 1.0 }\ninstructions = { bench = \"b\", iters = 10, ours = [\"g\", \"o\", \"1\"], peer = [\"g\", \"p\", \"1\"] }\n";
    let spec = ReportSpec::parse(paired_named).unwrap();
    let (_, [ours, peer]) = spec.targets[0].counted().unwrap();
    assert_eq!((ours[1].as_str(), peer[1].as_str()), ("o", "p"));
}

#[test]
fn bench_tables_put_tuned_subjects_after_the_defaults_and_label_them() {
    let report = render_fixture();
    let table: Vec<&str> = report
        .lines()
        .skip_while(|line| *line != "### `mixed`")
        .skip_while(|line| !line.starts_with("| benchmark |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .collect();
    assert!(report.contains("Workload: 90% get, 10% insert."));
    assert!(table[0].starts_with("| ours |"), "{table:?}");
    assert!(table[1].starts_with("| peer |"), "{table:?}");
    assert!(
        table[2].starts_with("| ours_tuned (tuned: a hasher chosen by hand) |"),
        "{table:?}"
    );
}

#[test]
fn the_report_says_how_to_rerun_and_copies_no_notes() {
    let report = render_fixture();
    assert!(report.contains("## How to rerun"));
    assert!(report.contains("-- --quick"));
    assert!(!report.contains("Notes from the crate's author"));
}

#[test]
fn a_target_with_no_check_or_two_is_an_error_naming_it() {
    let none = "[[target]]\ncrate = \"cache\"\ntarget = \"empty\"\n";
    let err = ReportSpec::parse(none).unwrap_err();
    assert!(
        err.contains("[[target]] number 1") && err.contains("`empty`"),
        "{err}"
    );
    let two = "[[target]]\ncrate = \"c\"\ntarget = \"both\"\nnanos = { ours = [\"g\", \"s\", \"\"], max = 1.0 }\npaired = { line = \"x\", max = 1.0 }\n";
    let err = ReportSpec::parse(two).unwrap_err();
    assert!(
        err.contains("exactly one") && err.contains("it has 2"),
        "{err}"
    );
    let unknown = "[[target]]\ncrate = \"c\"\ntarget = \"t\"\nratoi = 1\n";
    assert!(ReportSpec::parse(unknown).unwrap_err().contains("ratoi"));
}

#[test]
fn the_projects_report_toml_parses() {
    let text = include_str!("../../../../benches-report/report.toml");
    let spec = ReportSpec::parse(text).unwrap();
    assert!(spec.targets.len() >= 10);
    let first_tuned = spec.targets.iter().position(|t| t.tuned.is_some());
    if let Some(first_tuned) = first_tuned {
        assert!(
            spec.targets[first_tuned..]
                .iter()
                .all(|t| t.tuned.is_some())
        );
    }
    assert!(
        spec.targets
            .iter()
            .any(|t| matches!(t.check, Check::PairedRatio { .. }))
    );
}

#[test]
fn hit_ratios_per_trace_become_one_table_and_group_hit_ratios_are_not_repeated() {
    let mut md = String::new();
    crate::render::render_printed(
        &mut md,
        "hit ratio mixed/ours: 0.7845\n\
         hit ratio trace zipf_0.8/ours: 0.5512\n\
         hit ratio trace zipf_0.8/moka: 0.5568\n\
         hit ratio trace loop/ours: 0.4699\n\
         hit ratio trace loop/moka: 0.6293\n\
         memory ours n=10: 96.3 bytes/entry resident\n",
        &[],
    );
    assert!(md.contains("| trace | `ours` | `moka` |"), "{md}");
    assert!(md.contains("| zipf_0.8 | 55.12 | 55.68 |"), "{md}");
    assert!(md.contains("| loop | 46.99 | 62.93 |"), "{md}");
    assert!(!md.contains("hit ratio mixed/ours"), "{md}");
    assert!(
        md.contains("```text\nmemory ours n=10: 96.3 bytes/entry resident\n```"),
        "{md}"
    );
}

#[test]
fn the_adaptive_timeline_is_captured_beside_its_header_and_parsed() {
    let mut pending = None;
    let lines = [
        "AIMD (t s, limit, goodput/s):",
        " 0.5:20/400 1.0:35/700",
        "fixed 50 (t s, limit, goodput/s):",
        " 0.5:50/980",
        " an indented line with no header before it",
    ];
    let captured: Vec<String> = lines
        .iter()
        .filter_map(|line| crate::timeline::capture(line, &mut pending))
        .collect();
    assert_eq!(
        captured,
        [
            "series AIMD: 0.5:20/400 1.0:35/700",
            "series fixed 50: 0.5:50/980"
        ]
    );
    let timelines = crate::timeline::parse(&captured.join("\n"));
    assert_eq!(timelines.len(), 2);
    assert_eq!(timelines[0].0, "AIMD");
    assert_eq!(timelines[0].1, [(0.5, 20.0, 400.0), (1.0, 35.0, 700.0)]);
}

#[test]
fn paired_lines_become_one_table_with_time_and_cpu_side_by_side() {
    let mut md = String::new();
    crate::render::render_printed(
        &mut md,
        "paired read/peer 64KiB: 0.289x (median of 21 rounds; medians 10 ms and 34 ms)\n\
         paired cpu read/peer 64KiB: 0.329x (median of 21 rounds; medians 0.16 and 0.50)\n\
         paired emit/loop 10: 1.519x (median of 101 rounds; medians 97 ns and 64 ns)\n\
         AIMD (t s, limit, goodput/s):\n",
        &[],
    );
    assert!(md.contains("| read/peer 64KiB | 0.289x | 0.329x |"), "{md}");
    assert!(md.contains("| emit/loop 10 | 1.519x |  |"), "{md}");
    assert!(!md.contains("```"), "{md}");
}

#[test]
fn groups_measured_at_several_parameters_are_one_row_per_subject() {
    let (_dir, paths) = fixture();
    write(
        &paths.root.join("cache/benches/cache.rs"),
        r#"c.benchmark_group("get/threads_1"); c.benchmark_group("get/threads_2");"#,
    );
    criterion_result(&paths.criterion, "get/threads_1", "ours", 10.0);
    criterion_result(&paths.criterion, "get/threads_1", "peer", 20.0);
    criterion_result(&paths.criterion, "get/threads_2", "ours", 30.0);
    criterion_result(&paths.criterion, "get/threads_2", "peer", 15.0);
    let spec =
        ReportSpec::parse("[[workload]]\ngroup = \"get\"\nmerge = true\ntext = \"100% get\"\n")
            .unwrap();
    let benches = load_benches(&paths).unwrap();
    let report = crate::render::render(
        &paths,
        &spec,
        &benches,
        &load_printed(&paths),
        &crate::instructions::load(&paths),
        &[],
    );
    assert!(!report.contains("### `get/threads_1`"), "{report}");
    assert!(
        report.contains("### `get`\n\nWorkload: 100% get. Ours: `ours`. Peers: `peer`. In parentheses: `ours`/this."),
        "{report}"
    );
    assert!(
        report.contains("| benchmark | threads_1 | threads_2 |"),
        "{report}"
    );
    assert!(report.contains("| ours | 10.0 ns | 30.0 ns |"), "{report}");
    assert!(
        report.contains("| peer | 20.0 ns (0.50) | 15.0 ns (2.00) |"),
        "{report}"
    );
}

#[test]
fn a_group_shown_elsewhere_gets_its_workload_and_a_pointer_instead_of_a_table() {
    let (_dir, paths) = fixture();
    let spec = ReportSpec::parse(
        "[[workload]]\ngroup = \"mixed\"\ninstead = \"the plot above\"\ntext = \"90% get\"\n",
    )
    .unwrap();
    let benches = load_benches(&paths).unwrap();
    let report = crate::render::render(
        &paths,
        &spec,
        &benches,
        &load_printed(&paths),
        &crate::instructions::load(&paths),
        &[],
    );
    assert!(
        report.contains("### `mixed`\n\nWorkload: 90% get. Figures: the plot above.\n\n"),
        "{report}"
    );
    assert!(!report.contains("| ours |"), "{report}");
}

#[test]
fn a_printed_target_names_what_its_number_counts() {
    let text = "[[target]]\ncrate = \"cache\"\ntarget = \"one load\"\nprinted = { line = \"crowd:\", unit = \" loads\", max = 2.0, counts = \"loads\" }\n";
    let spec = ReportSpec::parse(text).unwrap();
    let mut printed = std::collections::BTreeMap::new();
    printed.insert(
        "cache".to_owned(),
        "crowd: 4 processes, 1 loads\n".to_owned(),
    );
    let (measured, _) = crate::evaluate::evaluate(&spec.targets[0], &Default::default(), &printed);
    assert_eq!(measured, "1.0 loads (target under 2)");
}

#[test]
fn pairs_whose_every_figure_is_judged_are_left_to_the_targets_table() {
    let mut md = String::new();
    crate::render::render_printed(
        &mut md,
        "paired read/peer 64KiB: 0.289x (median of 21 rounds)\n\
         paired cpu read/peer 64KiB: 0.329x (median of 21 rounds)\n\
         paired read/floor 64KiB: 2.7x (median of 21 rounds)\n\
         paired cpu read/floor 64KiB: 2.5x (median of 21 rounds)\n\
         paired emit/loop 10: 1.519x (median of 101 rounds)\n",
        &[
            "paired read/peer 64KiB:",
            "paired cpu read/peer 64KiB:",
            "paired read/floor 64KiB",
            "paired emit/loop 10:",
        ],
    );
    assert!(!md.contains("| read/peer 64KiB |"), "{md}");
    assert!(!md.contains("| emit/loop 10 |"), "{md}");
    // Its CPU figure is judged by no target: the pair stays.
    assert!(
        md.contains("| read/floor 64KiB | 2.700x | 2.500x |"),
        "{md}"
    );
    assert!(md.contains("but for those the targets table shows"), "{md}");
}
