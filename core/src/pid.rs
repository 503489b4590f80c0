//! Addressing: node names, creations and process identifiers.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use parking_lot::RwLock;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest node name accepted, in bytes.
pub const MAX_NODE_NAME_LEN: usize = 255;

/// The name of a node, such as `orders@host`.
///
/// A node name is `name@host`: `name` is one or more ASCII letters, digits,
/// `_` or `-`; `host` is one or more ASCII letters, digits, `_`, `-` or `.`.
/// Names are interned, so a `NodeName` is a small `Copy` value and comparing
/// two is cheap; ordering follows the text of the names.
///
/// # Examples
///
/// ```
/// use beamish_core::NodeName;
///
/// let node: NodeName = "orders@localhost".parse()?;
/// assert_eq!(node.as_str(), "orders@localhost");
/// assert!("no-at-sign".parse::<NodeName>().is_err());
/// # Ok::<(), beamish_core::NodeNameError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeName(u32);

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
}

impl NodeName {
    /// The name a node gets when none is given: `nonode@nohost`, as in Erlang.
    pub fn local_default() -> Self {
        Self::intern_valid("nonode@nohost")
    }

    /// Parses and interns a node name.
    ///
    /// # Errors
    ///
    /// Returns a [`NodeNameError`] saying what is wrong with `text`.
    pub fn new(text: &str) -> Result<Self, NodeNameError> {
        validate(text)?;
        Ok(Self::intern_valid(text))
    }

    /// The text of the name.
    pub fn as_str(self) -> &'static str {
        interner().read().names[self.0 as usize]
    }

    /// The part before the `@`.
    pub fn short(self) -> &'static str {
        let text = self.as_str();
        text.split_once('@').map_or(text, |(name, _)| name)
    }

    /// The part after the `@`.
    pub fn host(self) -> &'static str {
        let text = self.as_str();
        text.split_once('@').map_or("", |(_, host)| host)
    }

    fn intern_valid(text: &str) -> Self {
        if let Some(&index) = interner().read().index.get(text) {
            return Self(index);
        }
        let mut table = interner().write();
        if let Some(&index) = table.index.get(text) {
            return Self(index);
        }
        // Node names are few and live as long as the program; leaking one
        // copy of each distinct name keeps `NodeName` `Copy`.
        let name: &'static str = Box::leak(text.to_owned().into_boxed_str());
        let index = u32::try_from(table.names.len()).unwrap_or(u32::MAX);
        table.names.push(name);
        table.index.insert(name, index);
        Self(index)
    }
}

#[derive(Default)]
struct Interner {
    names: Vec<&'static str>,
    index: HashMap<&'static str, u32>,
}

fn interner() -> &'static RwLock<Interner> {
    static INTERNER: OnceLock<RwLock<Interner>> = OnceLock::new();
    INTERNER.get_or_init(|| RwLock::new(Interner::default()))
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
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        self.as_str().cmp(other.as_str())
    }
}

impl Serialize for NodeName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        NodeName::new(&text).map_err(serde::de::Error::custom)
    }
}

/// The incarnation of a node: chosen when the node starts, so that a node
/// restarted under the same name never receives messages meant for its
/// previous life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Creation(pub u32);

impl Creation {
    /// A fresh, non-zero creation number, unlikely to repeat across starts.
    pub fn fresh() -> Self {
        use std::hash::{BuildHasher, Hasher};
        use std::time::{SystemTime, UNIX_EPOCH};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        let value = (hasher.finish() as u32).max(1);
        Self(value)
    }
}

impl fmt::Display for Creation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A process identifier: the node it lives on, a number unique on that node,
/// and the node's creation.
///
/// Its text form is `<node.id.creation>`, for example
/// `<orders@localhost.42.7>`, and parses back with [`FromStr`].
///
/// # Examples
///
/// ```
/// use beamish_core::Pid;
///
/// let pid: Pid = "<orders@localhost.42.7>".parse()?;
/// assert_eq!(pid.id(), 42);
/// assert_eq!(pid.to_string().parse::<Pid>()?, pid);
/// # Ok::<(), beamish_core::ParsePidError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pid {
    node: NodeName,
    creation: Creation,
    id: u64,
}

impl Pid {
    /// Makes a Pid from its parts.
    pub fn new(node: NodeName, id: u64, creation: Creation) -> Self {
        Self { node, creation, id }
    }

    /// The node the process lives on.
    pub fn node(self) -> NodeName {
        self.node
    }

    /// The number of the process on its node.
    pub fn id(self) -> u64 {
        self.id
    }

    /// The creation of the node when the process was spawned.
    pub fn creation(self) -> Creation {
        self.creation
    }
}

/// Why a text is not a valid [`Pid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParsePidError {
    /// The text is not of the form `<node.id.creation>`.
    #[error("pid {0:?} must have the form <node.id.creation>")]
    Shape(String),
    /// The id or creation is not a number.
    #[error("pid {0:?} has an id or creation that is not a number")]
    Number(String),
    /// The node part is not a valid node name.
    #[error(transparent)]
    Node(#[from] NodeNameError),
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}.{}.{}>", self.node, self.id, self.creation)
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Pid {
    type Err = ParsePidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let inner = s
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix('>'))
            .ok_or_else(|| ParsePidError::Shape(s.to_owned()))?;
        // Split from the right: host names may hold dots, numbers do not.
        let mut parts = inner.rsplitn(3, '.');
        let (Some(creation), Some(id), Some(node)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ParsePidError::Shape(s.to_owned()));
        };
        let number = || ParsePidError::Number(s.to_owned());
        let id = id.parse::<u64>().map_err(|_| number())?;
        let creation = creation.parse::<u32>().map_err(|_| number())?;
        Ok(Self::new(NodeName::new(node)?, id, Creation(creation)))
    }
}

impl PartialOrd for Pid {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pid {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.node, self.creation, self.id).cmp(&(other.node, other.creation, other.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_validated() {
        assert!(NodeName::new("a@b").is_ok());
        assert!(NodeName::new("orders-1@host.example").is_ok());
        assert!(matches!(
            NodeName::new("nohost"),
            Err(NodeNameError::MissingAt(_))
        ));
        assert!(matches!(
            NodeName::new("@host"),
            Err(NodeNameError::EmptyPart(_))
        ));
        assert!(matches!(
            NodeName::new("a b@host"),
            Err(NodeNameError::BadChar { ch: ' ', .. })
        ));
        let long = format!("a@{}", "h".repeat(MAX_NODE_NAME_LEN));
        assert!(matches!(
            NodeName::new(&long),
            Err(NodeNameError::TooLong(_))
        ));
    }

    #[test]
    fn interning_gives_equal_names() {
        let a = NodeName::new("same@host").expect("valid");
        let b = NodeName::new("same@host").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.short(), "same");
        assert_eq!(a.host(), "host");
    }

    #[test]
    fn pid_text_round_trips_with_dotted_hosts() {
        let node = NodeName::new("svc@host.example.org").expect("valid");
        let pid = Pid::new(node, 12345, Creation(99));
        let text = pid.to_string();
        assert_eq!(text, "<svc@host.example.org.12345.99>");
        assert_eq!(text.parse::<Pid>(), Ok(pid));
    }

    #[test]
    fn bad_pids_are_errors() {
        for text in [
            "",
            "<>",
            "<a@b.1>",
            "a@b.1.2",
            "<a@b.x.2>",
            "<a@b.1.-2>",
            "<ab.1.2>",
        ] {
            assert!(text.parse::<Pid>().is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn pid_serde_round_trips() {
        let pid = Pid::new(NodeName::new("x@y").expect("valid"), 7, Creation(3));
        let json = serde_json::to_string(&pid).expect("serializes");
        let back: Pid = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, pid);
        let bad = json.replace("x@y", "xy");
        assert!(serde_json::from_str::<Pid>(&bad).is_err());
    }

    #[test]
    fn creations_are_nonzero() {
        for _ in 0..100 {
            assert_ne!(Creation::fresh().0, 0);
        }
    }
}
