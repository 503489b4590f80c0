//! Warnings that a peer (or a flood) could repeat without end, logged
//! through the node's [`WarningLimiter`](crate::limit::WarningLimiter): at
//! most once per kind and source in a period, and a few times per kind in
//! all, with a count of what was held back.

pub(crate) use crate::limit::WarningLimiter as Warnings;

/// Logs a warning of one kind from one source through `$warnings`
/// ([`Warnings`]), as often as it allows, saying how many like it were
/// held back.
macro_rules! warn_limited {
    ($warnings:expr, $kind:literal, $source:expr, $($arg:tt)+) => {{
        let source = &$source;
        let now = tokio::time::Instant::now();
        if let Some(held_back) = $warnings.admit($kind, &source.to_string(), now) {
            tracing::warn!(source = %source, held_back, $($arg)+);
        }
    }};
}
pub(crate) use warn_limited;
