//! Addressing: node names, creations and process identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod name;
mod names;

pub(crate) use name::validate;
pub use name::{known_node_names, NodeName, NodeNameError, PinnedName, MAX_NODE_NAME_LEN};

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
        assert_eq!(a.short().as_deref(), Some("same"));
        assert_eq!(a.host().as_deref(), Some("host"));
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
