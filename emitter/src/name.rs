//! Event names: the string keys listeners are registered under.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// The name of an event, such as `"data"` or `"error"` (Node's `eventName`).
///
/// Built from `&'static str` (no allocation with [`EventName::from_static`]), `&str`, `String`
/// or `Cow<'static, str>`. Cloning is cheap: a copied pointer or a reference-count increment.
/// Two names are equal when their text is equal, however they were built.
///
/// Node also accepts symbols and numbers as event names; in Rust a name is text. Node's
/// `errorMonitor` symbol has its own methods ([`Emitter::on_error_monitor`]) instead of a name.
///
/// [`Emitter::on_error_monitor`]: crate::Emitter::on_error_monitor
///
/// # Examples
///
/// ```
/// use nodebook_emitter::EventName;
///
/// const DATA: EventName = EventName::from_static("data");
/// let owned = EventName::from(String::from("data"));
/// assert_eq!(DATA, owned);
/// assert_eq!(owned.as_str(), "data");
/// ```
#[derive(Clone)]
pub struct EventName(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl EventName {
    /// A name borrowed from a string literal, usable in `const` items; never allocates.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::EventName;
    ///
    /// const CLOSE: EventName = EventName::from_static("close");
    /// assert_eq!(CLOSE.as_str(), "close");
    /// ```
    #[must_use]
    pub const fn from_static(name: &'static str) -> Self {
        Self(Repr::Static(name))
    }

    /// The name as text.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::EventName;
    ///
    /// assert_eq!(EventName::from("ready").as_str(), "ready");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(name) => name,
            Repr::Shared(name) => name,
        }
    }
}

impl Deref for EventName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for EventName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for EventName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for EventName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for EventName {}

impl PartialEq<str> for EventName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for EventName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for EventName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl From<&str> for EventName {
    fn from(name: &str) -> Self {
        Self(Repr::Shared(Arc::from(name)))
    }
}

impl From<&String> for EventName {
    fn from(name: &String) -> Self {
        Self::from(name.as_str())
    }
}

impl From<String> for EventName {
    fn from(name: String) -> Self {
        Self(Repr::Shared(Arc::from(name)))
    }
}

impl From<Cow<'static, str>> for EventName {
    fn from(name: Cow<'static, str>) -> Self {
        match name {
            Cow::Borrowed(name) => Self::from_static(name),
            Cow::Owned(name) => Self::from(name),
        }
    }
}

impl From<&EventName> for EventName {
    fn from(name: &EventName) -> Self {
        name.clone()
    }
}

impl fmt::Debug for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
