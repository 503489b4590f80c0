//! Endpoints: how a node is reached. The scheme picks the transport.

use std::fmt;
use std::str::FromStr;

use url::Url;

/// Where a node listens, or how to reach it.
///
/// ```
/// use beamish_core::dist::Endpoint;
///
/// let tcp: Endpoint = "tcp://127.0.0.1:4370".parse()?;
/// assert_eq!(tcp.scheme(), "tcp");
/// assert_eq!(tcp.to_string().parse::<Endpoint>()?, tcp);
/// let amqp: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
/// assert_eq!(amqp.scheme(), "amqp");
/// # Ok::<(), beamish_core::dist::EndpointError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// A node in this OS process, reached through the in-process transport.
    Local {
        /// The name it is registered under.
        name: String,
    },
    /// TCP.
    Tcp {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// QUIC.
    Quic {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// An AMQP 0-9-1 broker.
    Amqp {
        /// User name.
        user: String,
        /// Password.
        password: String,
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port (5672 when not given).
        port: u16,
        /// Virtual host (`/` when not given).
        vhost: String,
        /// The node whose inbox this is (`?node=name`): a node listening
        /// through the broker says which node it is; a node connecting
        /// says which node it wants.
        node: Option<String>,
    },
}

/// Why a text is not an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not a URL.
    #[error("endpoint {0:?} is not a URL: {1}")]
    Syntax(String, String),
    /// The scheme is not one of `local`, `tcp`, `quic`, `amqp`.
    #[error(
        "endpoint {0:?} has an unknown scheme (expected local://, tcp://, quic:// or amqp://)"
    )]
    Scheme(String),
    /// A part the scheme needs is missing.
    #[error("endpoint {0:?} lacks its {1}")]
    Missing(String, &'static str),
}

impl Endpoint {
    /// The scheme: `local`, `tcp`, `quic` or `amqp`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::Tcp { .. } => "tcp",
            Self::Quic { .. } => "quic",
            Self::Amqp { .. } => "amqp",
        }
    }
}

fn host_of(url: &Url, text: &str) -> Result<String, EndpointError> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| EndpointError::Missing(text.to_owned(), "host"))?;
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned())
}

fn decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map_or_else(|| part.to_owned(), |(_, v)| v.into_owned())
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url =
            Url::parse(text).map_err(|e| EndpointError::Syntax(text.to_owned(), e.to_string()))?;
        let missing_port = || EndpointError::Missing(text.to_owned(), "port");
        match url.scheme() {
            "local" => Ok(Self::Local {
                name: host_of(&url, text)?,
            }),
            "tcp" => Ok(Self::Tcp {
                host: host_of(&url, text)?,
                port: url.port().ok_or_else(missing_port)?,
            }),
            "quic" => Ok(Self::Quic {
                host: host_of(&url, text)?,
                port: url.port().ok_or_else(missing_port)?,
            }),
            "amqp" => {
                let vhost = match url.path() {
                    "" | "/" => "/".to_owned(),
                    path => decode(&path[1..]),
                };
                let node = url
                    .query_pairs()
                    .find(|(key, _)| key == "node")
                    .map(|(_, value)| value.into_owned());
                Ok(Self::Amqp {
                    user: decode(url.username()),
                    password: url.password().map(decode).unwrap_or_default(),
                    host: host_of(&url, text)?,
                    port: url.port().unwrap_or(5672),
                    vhost,
                    node,
                })
            }
            _ => Err(EndpointError::Scheme(text.to_owned())),
        }
    }
}

fn host_text(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn encode(part: &str) -> String {
    url::form_urlencoded::byte_serialize(part.as_bytes()).collect()
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { name } => write!(f, "local://{name}"),
            Self::Tcp { host, port } => write!(f, "tcp://{}:{port}", host_text(host)),
            Self::Quic { host, port } => write!(f, "quic://{}:{port}", host_text(host)),
            Self::Amqp {
                user,
                password,
                host,
                port,
                vhost,
                node,
            } => {
                write!(
                    f,
                    "amqp://{}:{}@{}:{port}/{}",
                    encode(user),
                    encode(password),
                    host_text(host),
                    encode(vhost)
                )?;
                match node {
                    Some(node) => write!(f, "?node={}", encode(node)),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Endpoint {
        let endpoint: Endpoint = text.parse().expect(text);
        let again: Endpoint = endpoint.to_string().parse().expect("round trip");
        assert_eq!(again, endpoint, "{text}");
        endpoint
    }

    #[test]
    fn every_scheme_parses_and_round_trips() {
        assert_eq!(
            round_trip("local://orders"),
            Endpoint::Local {
                name: "orders".into()
            }
        );
        assert_eq!(
            round_trip("tcp://127.0.0.1:4370"),
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 4370
            }
        );
        assert_eq!(
            round_trip("quic://[::1]:4433"),
            Endpoint::Quic {
                host: "::1".into(),
                port: 4433
            }
        );
        assert_eq!(
            round_trip("amqp://guest:guest@127.0.0.1:5672/%2f"),
            Endpoint::Amqp {
                user: "guest".into(),
                password: "guest".into(),
                host: "127.0.0.1".into(),
                port: 5672,
                vhost: "/".into(),
                node: None
            }
        );
        assert_eq!(
            round_trip("amqp://u:p%40ss@broker/prod"),
            Endpoint::Amqp {
                user: "u".into(),
                password: "p@ss".into(),
                host: "broker".into(),
                port: 5672,
                vhost: "prod".into(),
                node: None
            }
        );
        assert_eq!(
            round_trip("amqp://guest:guest@127.0.0.1/%2f?node=b%40localhost"),
            Endpoint::Amqp {
                user: "guest".into(),
                password: "guest".into(),
                host: "127.0.0.1".into(),
                port: 5672,
                vhost: "/".into(),
                node: Some("b@localhost".into())
            }
        );
    }

    #[test]
    fn bad_endpoints_say_why() {
        assert!(matches!(
            "nonsense".parse::<Endpoint>(),
            Err(EndpointError::Syntax(..))
        ));
        assert!(matches!(
            "http://a:1".parse::<Endpoint>(),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            "tcp://127.0.0.1".parse::<Endpoint>(),
            Err(EndpointError::Missing(_, "port"))
        ));
        assert!("quic://:5".parse::<Endpoint>().is_err());
    }
}
