//! A small command-line flag parser for the binaries (`--name value` or `--name=value`).

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use crate::Error;

/// The flags given to one of the binaries, checked against the names it knows.
///
/// # Examples
///
/// ```
/// use examples::Flags;
///
/// let flags = Flags::parse(["--port", "8080", "--data-dir=/tmp/x"], &["--port", "--data-dir"])?;
/// assert_eq!(flags.value::<u16>("--port")?, Some(8080));
/// assert_eq!(flags.value::<String>("--data-dir")?.as_deref(), Some("/tmp/x"));
/// assert!(Flags::parse(["--prot", "1"], &["--port"]).is_err());
/// # Ok::<(), examples::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Flags {
    values: Vec<(String, String)>,
    help: bool,
}

impl Flags {
    /// Parses `args` (without the program name); `known` lists the accepted flag names.
    /// `--help` and `-h` are always accepted.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] for an unknown flag, a flag without a value, or a bare word.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = examples::Flags::parse(["--port"], &["--port"]).unwrap_err();
    /// assert_eq!(err.to_string(), "bad argument --port: a value must follow it");
    /// ```
    pub fn parse<I, S>(args: I, known: &[&str]) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut flags = Self::default();
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                flags.help = true;
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            if !known.contains(&name.as_str()) {
                let reason = format!("unknown; expected one of {}", known.join(", "));
                return Err(Error::argument(&name, reason));
            }
            let value = match inline {
                Some(value) => value,
                None => args
                    .next()
                    .ok_or_else(|| Error::argument(&name, "a value must follow it"))?,
            };
            flags.values.push((name, value));
        }
        Ok(flags)
    }

    /// Whether `--help` or `-h` was given.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(examples::Flags::parse(["-h"], &[]).unwrap().help());
    /// ```
    #[must_use]
    pub fn help(&self) -> bool {
        self.help
    }

    /// The value of the last occurrence of `name`, parsed; `Ok(None)` when it was not given.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] when the value does not parse as a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let flags = examples::Flags::parse(["--port", "x"], &["--port"])?;
    /// let err = flags.value::<u16>("--port").unwrap_err();
    /// assert_eq!(err.to_string(), "bad argument --port: \"x\" is not valid: invalid digit found in string");
    /// # Ok::<(), examples::Error>(())
    /// ```
    pub fn value<T>(&self, name: &str) -> Result<Option<T>, Error>
    where
        T: FromStr,
        T::Err: Display,
    {
        let Some((_, raw)) = self.values.iter().rev().find(|(flag, _)| flag == name) else {
            return Ok(None);
        };
        raw.parse()
            .map(Some)
            .map_err(|err| Error::argument(name, format!("{raw:?} is not valid: {err}")))
    }

    /// The value of `name` as a duration: a number with a unit, `ms`, `s` or `m` (`500ms`,
    /// `10s`, `2m`), or a bare number of seconds; `Ok(None)` when it was not given.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] when the value is not such a duration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let flags = examples::Flags::parse(["--a", "250ms", "--b=3", "--c", "2m", "--d", "soon"], &["--a", "--b", "--c", "--d"])?;
    /// assert_eq!(flags.duration("--a")?, Some(Duration::from_millis(250)));
    /// assert_eq!(flags.duration("--b")?, Some(Duration::from_secs(3)));
    /// assert_eq!(flags.duration("--c")?, Some(Duration::from_secs(120)));
    /// assert!(flags.duration("--d").is_err());
    /// assert_eq!(flags.duration("--e")?, None);
    /// # Ok::<(), examples::Error>(())
    /// ```
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, Error> {
        let Some(raw) = self.value::<String>(name)? else {
            return Ok(None);
        };
        let (digits, unit) = raw
            .find(|c: char| !c.is_ascii_digit())
            .map_or((raw.as_str(), "s"), |at| raw.split_at(at));
        let count: u64 = digits.parse().map_err(|_| {
            Error::argument(
                name,
                format!("{raw:?} is not a duration such as 500ms, 10s or 2m"),
            )
        })?;
        match unit {
            "ms" => Ok(Some(Duration::from_millis(count))),
            "s" => Ok(Some(Duration::from_secs(count))),
            "m" => Ok(Some(Duration::from_secs(count.saturating_mul(60)))),
            _ => Err(Error::argument(
                name,
                format!("{raw:?} has an unknown unit; use ms, s or m"),
            )),
        }
    }
}
