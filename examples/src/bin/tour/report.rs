//! How a scene speaks: its claim, what it depends on, its verdict, and its figures' formats.

use std::time::Duration;

/// The line that opens a scene's figures: what they are meant to show.
pub(crate) fn claim(what: &str) {
    println!("Shows: {what}");
}

/// A scene whose figures would differ on another machine says so, and why.
pub(crate) fn depends_on_machine(why: &str) {
    println!("Depends on the machine: {why}");
}

/// The line that closes a scene: whether its measured figures bear the claim out.
pub(crate) fn verdict(supported: bool, figures: &str) {
    if supported {
        println!("Supported: {figures}");
    } else {
        println!("NOT supported by this run: {figures}");
    }
}

/// `12345` as `12,345`.
pub(crate) fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A duration in milliseconds with one decimal, the unit of every wait in the tour.
pub(crate) fn millis(duration: Duration) -> String {
    format!("{:.1}ms", duration.as_secs_f64() * 1e3)
}
