//! The files that `GET /files/{name}` serves, and the check that keeps requests inside them.

use std::path::{Path, PathBuf};

use crate::Error;

/// The poem of the book's chapter 6, as the service's first-start sample file holds it.
pub const POEM: &str = "床前明月光，疑是地上霜；举头望明月，低头思故乡。";

/// Why a file name from a request was refused.
///
/// # Examples
///
/// ```
/// use examples::{BadFileName, check_file_name};
///
/// assert_eq!(check_file_name("poem.txt"), Ok("poem.txt"));
/// assert_eq!(check_file_name("../secret"), Err(BadFileName::Separator));
/// assert_eq!(check_file_name(".."), Err(BadFileName::ParentDirectory));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadFileName {
    /// The name was empty.
    Empty,
    /// The name held `/` or `\`.
    Separator,
    /// The name was `..` or `.`.
    ParentDirectory,
    /// The name held a NUL byte.
    Nul,
}

impl BadFileName {
    /// What is wrong, for the client.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(examples::BadFileName::Nul.reason(), "file names must not contain NUL");
    /// ```
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Empty => "file name is empty",
            Self::Separator => "file names must not contain '/' or '\\'",
            Self::ParentDirectory => "file names must not be '.' or '..'",
            Self::Nul => "file names must not contain NUL",
        }
    }
}

/// Accepts a plain file name (one path component) and refuses anything that could leave the
/// folder: separators, `.`, `..`, NUL, the empty name.
///
/// # Errors
///
/// The [`BadFileName`] that says what was wrong.
///
/// # Examples
///
/// ```
/// use examples::check_file_name;
///
/// assert!(check_file_name("a\0b").is_err());
/// assert!(check_file_name("..hidden").is_ok());
/// ```
pub fn check_file_name(name: &str) -> Result<&str, BadFileName> {
    if name.is_empty() {
        Err(BadFileName::Empty)
    } else if name.contains('\0') {
        Err(BadFileName::Nul)
    } else if name.contains(['/', '\\']) {
        Err(BadFileName::Separator)
    } else if name == "." || name == ".." {
        Err(BadFileName::ParentDirectory)
    } else {
        Ok(name)
    }
}

/// The folder under `data_dir` that `GET /files/{name}` serves.
///
/// # Examples
///
/// ```
/// assert!(examples::files_dir("/data".as_ref()).ends_with("files"));
/// ```
#[must_use]
pub fn files_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("files")
}

/// Creates the files folder and, when missing, the sample files: `poem.txt` (the poem in UTF-8)
/// and `poem.gbk.txt` (the same in GBK).
///
/// # Errors
///
/// [`Error::Io`] when the folder or a file cannot be written.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// examples::seed_files(dir.path())?;
/// let poem = std::fs::read_to_string(dir.path().join("files/poem.txt")).unwrap();
/// assert_eq!(poem, examples::POEM);
/// # Ok::<(), examples::Error>(())
/// ```
pub fn seed_files(data_dir: &Path) -> Result<(), Error> {
    let dir = files_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|err| Error::io(&dir, err))?;
    let (gbk, _, _) = encoding_rs::GBK.encode(POEM);
    for (name, bytes) in [("poem.txt", POEM.as_bytes()), ("poem.gbk.txt", &gbk[..])] {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, bytes).map_err(|err| Error::io(&path, err))?;
        }
    }
    Ok(())
}
