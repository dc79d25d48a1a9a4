//! A `tracing` subscriber writing into memory, for a test to read what was reported.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Everything a subscriber installed with [`Captured::install`] writes, for the test to read
/// back.
#[derive(Clone, Default, Debug)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs a subscriber writing here at `level` and above, for this thread, until the
    /// guard drops.
    #[must_use]
    pub fn install(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(level)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// The lines written so far.
    ///
    /// # Panics
    ///
    /// When a subscriber wrote bytes that are not UTF-8.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let text = String::from_utf8(bytes).expect("the fmt subscriber writes UTF-8");
        text.lines().map(str::to_owned).collect()
    }

    /// Everything written so far.
    #[must_use]
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// The lines written so far that contain `text`.
    #[must_use]
    pub fn lines_with(&self, text: &str) -> Vec<String> {
        let mut lines = self.lines();
        lines.retain(|line| line.contains(text));
        lines
    }

    /// The first line written so far that contains `text`.
    ///
    /// # Panics
    ///
    /// When there is none, showing every line.
    #[must_use]
    pub fn line_with(&self, text: &str) -> String {
        self.lines_with(text)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no event with {text:?} in {:#?}", self.lines()))
    }

    /// How many lines written so far contain `text`.
    #[must_use]
    pub fn count(&self, text: &str) -> usize {
        self.lines()
            .iter()
            .filter(|line| line.contains(text))
            .count()
    }
}
