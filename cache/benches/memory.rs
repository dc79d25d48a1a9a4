//! Bytes per entry beyond the `(u64, u64)` payload, for ours and the peers: each contender is
//! filled in a fresh child process and measured by the growth of its resident set
//! (`VmRSS` in `/proc/self/status`), so no allocator bookkeeping is needed. Run by
//! `cargo bench -p nodebook-cache --bench memory`; prints one line per contender and size.

use std::num::NonZeroUsize;
use std::process::Command;
use std::sync::Mutex;

const CONTENDERS: [&str; 5] = [
    "ours",
    "quick_cache",
    "moka",
    "mutex_lru",
    "dashmap_unbounded",
];
const SIZES: [usize; 2] = [10_000, 1_000_000];
const PAYLOAD: usize = 16;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Fills one contender with `n` entries (capacity `n`) and returns the resident growth.
fn measure(name: &str, n: usize) -> usize {
    let before = rss_bytes();
    let keys = 0..n as u64;
    let held: Box<dyn std::any::Any> = match name {
        "ours" => {
            let m = nodebook_cache::LimitableMap::new(n).unwrap();
            keys.for_each(|k| {
                m.insert(k, k);
            });
            assert_eq!(m.len(), n);
            Box::new(m)
        }
        "quick_cache" => {
            let m = quick_cache::sync::Cache::new(n);
            keys.for_each(|k| m.insert(k, k));
            Box::new(m)
        }
        "moka" => {
            let m = moka::sync::Cache::new(n as u64);
            keys.for_each(|k| m.insert(k, k));
            m.run_pending_tasks();
            Box::new(m)
        }
        "mutex_lru" => {
            let m = Mutex::new(lru::LruCache::new(NonZeroUsize::new(n).unwrap()));
            keys.for_each(|k| {
                m.lock().unwrap().put(k, k);
            });
            Box::new(m)
        }
        _ => {
            let m = dashmap::DashMap::new();
            keys.for_each(|k| {
                m.insert(k, k);
            });
            Box::new(m)
        }
    };
    let grown = rss_bytes().saturating_sub(before);
    drop(held);
    grown
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        let name = &args[i + 1];
        let n: usize = args[i + 2].parse().unwrap();
        println!("{}", measure(name, n));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for n in SIZES {
        for name in CONTENDERS {
            let out = Command::new(&exe)
                .args(["--measure", name, &n.to_string()])
                .output()
                .unwrap();
            let grown: usize = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            let per_entry = grown as f64 / n as f64;
            println!(
                "memory {name} n={n}: {per_entry:.1} bytes/entry resident, {:.1} beyond the 16-byte payload",
                per_entry - PAYLOAD as f64
            );
        }
    }
}
