//! Node names: validated, interned, and forgotten when nothing needs them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::names;

/// The longest node name accepted, in bytes.
pub const MAX_NODE_NAME_LEN: usize = 255;

/// The name of a node, such as `orders@host`.
///
/// A node name is `name@host`: `name` is one or more ASCII letters, digits,
/// `_` or `-`; `host` is one or more ASCII letters, digits, `_`, `-` or `.`.
///
/// A `NodeName` is a small `Copy` value: the identity of its text, so
/// comparing two is cheap. The process keeps the text of the names it
/// needs: its nodes' own names, the peers they are connected to or
/// configured with ([`pin`](Self::pin) keeps others), and the last 16 384
/// names seen besides. Pods that come and go under new names all day do
/// not make the table grow. A name whose text was forgotten still equals
/// the same name parsed again (which brings its text back); until then it
/// displays as `#forgotten-…`, cannot be serialized, and orders after
/// every name whose text is known. Names whose texts are known order by
/// their text.
///
/// # Examples
///
/// ```
/// use beamish_core::NodeName;
///
/// let node: NodeName = "orders@localhost".parse()?;
/// assert_eq!(node.to_string(), "orders@localhost");
/// assert_eq!(node.short().as_deref(), Some("orders"));
/// assert!("no-at-sign".parse::<NodeName>().is_err());
/// # Ok::<(), beamish_core::NodeNameError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeName(u64);

/// Why a text is not a valid node name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeNameError {
    /// The name has no `@` separating the name from the host.
    #[error("node name {0:?} must have the form name@host")]
    MissingAt(String),
    /// The part before `@` or after it is empty.
    #[error("node name {0:?} has an empty name or host part")]
    EmptyPart(String),
    /// The name holds a character outside the allowed set.
    #[error("node name {name:?} contains the character {ch:?}, which is not allowed")]
    BadChar {
        /// The rejected name.
        name: String,
        /// The first character that is not allowed.
        ch: char,
    },
    /// The name is longer than [`MAX_NODE_NAME_LEN`] bytes.
    #[error("node name is {0} bytes long; the limit is {MAX_NODE_NAME_LEN}")]
    TooLong(usize),
    /// Another name known to this process has the same identity (a 64-bit
    /// keyed hash, so this is as good as never seen).
    #[error("node name {0:?} has the identity of another name known to this process")]
    Clash(String),
}

impl NodeName {
    /// The name a node gets when none is given: `nonode@nohost`, as in Erlang.
    pub fn local_default() -> Self {
        Self::new("nonode@nohost").unwrap_or(Self(names::id_of("nonode@nohost")))
    }

    /// Parses and interns a node name.
    ///
    /// # Errors
    ///
    /// Returns a [`NodeNameError`] saying what is wrong with `text`.
    pub fn new(text: &str) -> Result<Self, NodeNameError> {
        validate(text)?;
        names::intern(text)
            .map(Self)
            .map_err(|names::Clash| NodeNameError::Clash(text.to_owned()))
    }

    /// The text of the name, or `None` if this process has forgotten it
    /// (see the type's documentation).
    pub fn text(self) -> Option<Arc<str>> {
        names::text(self.0)
    }

    /// The part before the `@`, if the text is known.
    pub fn short(self) -> Option<String> {
        names::with_text(self.0, |text| {
            text.map(|text| {
                text.split_once('@')
                    .map_or(text, |(name, _)| name)
                    .to_owned()
            })
        })
    }

    /// The part after the `@`, if the text is known.
    pub fn host(self) -> Option<String> {
        names::with_text(self.0, |text| {
            text.map(|text| text.split_once('@').map_or("", |(_, host)| host).to_owned())
        })
    }

    /// Keeps the text of this name known for as long as the returned guard
    /// (or a clone of it) lives. A name whose text is already forgotten
    /// gets a guard that keeps nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::NodeName;
    ///
    /// // A table of nodes of its own keeps the names it holds known.
    /// let billing: NodeName = "billing@eu-1".parse()?;
    /// let kept = billing.pin();
    /// assert_eq!(kept.name().to_string(), "billing@eu-1");
    /// # Ok::<(), beamish_core::NodeNameError>(())
    /// ```
    pub fn pin(self) -> PinnedName {
        PinnedName {
            name: self,
            held: names::pin(self.0),
        }
    }

    /// Whether `text` is this name, whether or not the text is known.
    pub fn is(self, text: &str) -> bool {
        names::id_of(text) == self.0
    }

    /// The name `text` would have, without validating or interning it.
    pub(crate) fn identity_of(text: &str) -> Self {
        Self(names::id_of(text))
    }
}

/// Keeps a [`NodeName`]'s text known while it lives; see
/// [`NodeName::pin`].
#[derive(Debug)]
pub struct PinnedName {
    name: NodeName,
    held: bool,
}

impl PinnedName {
    /// The name pinned.
    pub fn name(&self) -> NodeName {
        self.name
    }
}

impl Clone for PinnedName {
    fn clone(&self) -> Self {
        self.name.pin()
    }
}

impl Drop for PinnedName {
    fn drop(&mut self) {
        if self.held {
            names::unpin(self.name.0);
        }
    }
}

/// How many node names this process knows the text of now: the pinned
/// ones and the recently seen others.
pub fn known_node_names() -> usize {
    names::known()
}

pub(crate) fn validate(text: &str) -> Result<(), NodeNameError> {
    if text.len() > MAX_NODE_NAME_LEN {
        return Err(NodeNameError::TooLong(text.len()));
    }
    let Some((name, host)) = text.split_once('@') else {
        return Err(NodeNameError::MissingAt(text.to_owned()));
    };
    if name.is_empty() || host.is_empty() {
        return Err(NodeNameError::EmptyPart(text.to_owned()));
    }
    let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let host_ok = |c: char| name_ok(c) || c == '.';
    let bad = name
        .chars()
        .find(|&c| !name_ok(c))
        .or_else(|| host.chars().find(|&c| !host_ok(c)));
    match bad {
        Some(ch) => Err(NodeNameError::BadChar {
            name: text.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        names::with_text(self.0, |text| match text {
            Some(text) => fmt::Debug::fmt(text, f),
            None => write!(f, "#forgotten-{:016x}", self.0),
        })
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        names::with_text(self.0, |text| match text {
            Some(text) => f.write_str(text),
            None => write!(f, "#forgotten-{:016x}", self.0),
        })
    }
}

impl FromStr for NodeName {
    type Err = NodeNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl PartialOrd for NodeName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NodeName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            return std::cmp::Ordering::Equal;
        }
        match (self.text(), other.text()) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => self.0.cmp(&other.0),
        }
    }
}

impl Serialize for NodeName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        names::with_text(self.0, |text| match text {
            Some(text) => serializer.serialize_str(text),
            None => Err(serde::ser::Error::custom(format_args!(
                "the text of node name #forgotten-{:016x} is no longer known",
                self.0
            ))),
        })
    }
}

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        NodeName::new(&text).map_err(serde::de::Error::custom)
    }
}
