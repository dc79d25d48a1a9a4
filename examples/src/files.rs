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
    /// The name was longer than a file name may be ([`MAX_FILE_NAME`] bytes).
    TooLong,
}

/// The longest file name, in bytes, that [`check_file_name`] accepts (`NAME_MAX` on Linux and
/// the BSDs).
pub const MAX_FILE_NAME: usize = 255;

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
            Self::TooLong => "file names must not be longer than 255 bytes",
        }
    }
}

/// Accepts a plain file name (one path component) and refuses anything that could leave the
/// folder or that no file system holds: separators, `.`, `..`, NUL, the empty name, a name
/// longer than [`MAX_FILE_NAME`] bytes.
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
/// assert_eq!(check_file_name(&"a".repeat(256)), Err(examples::BadFileName::TooLong));
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
    } else if name.len() > MAX_FILE_NAME {
        Err(BadFileName::TooLong)
    } else {
        Ok(name)
    }
}

/// Why [`open_served_file`] found nothing to serve.
///
/// # Examples
///
/// See [`open_served_file`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Unservable {
    /// No file has that name, or the name is a symbolic link, a FIFO, a socket, a device or a
    /// directory: nothing but a regular file inside the folder is served.
    NotARegularFile,
    /// The file exists but could not be opened or inspected (permissions, I/O); the error is
    /// for the server's log, never for the client.
    Unreadable(std::io::Error),
}

/// Opens `name` (already accepted by [`check_file_name`]) in `dir` for serving: without
/// following a symbolic link (`O_NOFOLLOW`), without waiting for a FIFO's writer
/// (`O_NONBLOCK`), and only if the opened file is a regular file.
///
/// The type is checked on the opened descriptor, so a file swapped for a link between a check
/// and the open cannot slip through.
///
/// # Errors
///
/// [`Unservable::NotARegularFile`] for a missing name, a link, a FIFO, a directory or any other
/// special file; [`Unservable::Unreadable`] when the operating system refuses otherwise.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future closes the file if it was opened.
///
/// # Examples
///
/// ```
/// use examples::{Unservable, open_served_file};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.txt"), "hi").unwrap();
/// # #[cfg(unix)]
/// std::os::unix::fs::symlink(dir.path().join("a.txt"), dir.path().join("link")).unwrap();
/// assert!(open_served_file(dir.path(), "a.txt").await.is_ok());
/// # #[cfg(unix)]
/// assert!(matches!(open_served_file(dir.path(), "link").await, Err(Unservable::NotARegularFile)));
/// assert!(matches!(open_served_file(dir.path(), "none").await, Err(Unservable::NotARegularFile)));
/// # Ok(())
/// # }
/// ```
pub async fn open_served_file(dir: &Path, name: &str) -> Result<tokio::fs::File, Unservable> {
    let path = dir.join(name);
    let mut options = tokio::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    #[cfg(not(unix))]
    match tokio::fs::symlink_metadata(&path).await {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(Unservable::NotARegularFile),
        Err(err) => return Err(refusal(err)),
    }
    let file = options.open(&path).await.map_err(refusal)?;
    let meta = file.metadata().await.map_err(Unservable::Unreadable)?;
    if meta.is_file() {
        Ok(file)
    } else {
        Err(Unservable::NotARegularFile)
    }
}

fn refusal(err: std::io::Error) -> Unservable {
    #[cfg(unix)]
    let link = err.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    let link = false;
    if link
        || matches!(
            err.kind(),
            std::io::ErrorKind::NotFound
                | std::io::ErrorKind::IsADirectory
                | std::io::ErrorKind::NotADirectory
        )
    {
        Unservable::NotARegularFile
    } else {
        Unservable::Unreadable(err)
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
