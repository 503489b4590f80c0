//! Warnings about what arrives in the inbox, which anyone who can publish
//! to it could repeat without end, through core's
//! [`WarningLimiter`](beamish_core::limit::WarningLimiter): each kind is
//! logged at most once per period for one source, and at most a few times
//! per period in all, each line counting what was held back since the
//! last one of its kind, so that 50 000 bad messages make a handful of
//! lines, not 50 000.

pub(crate) use beamish_core::limit::WarningLimiter as Warnings;

/// Logs a warning of one kind from one source through `$warnings`
/// ([`Warnings`]) at most as often as it allows, saying how many of its
/// kind were held back.
macro_rules! warn_limited {
    ($warnings:expr, $kind:literal, $source:expr, $($arg:tt)+) => {{
        let source: &str = $source;
        if let Some(held_back) = $warnings.admit($kind, source, tokio::time::Instant::now()) {
            tracing::warn!(source, held_back, $($arg)+);
        }
    }};
}
pub(crate) use warn_limited;

/// As [`warn_limited`], at the debug level: for what is routine in small
/// numbers but could come in a flood.
macro_rules! debug_limited {
    ($warnings:expr, $kind:literal, $source:expr, $($arg:tt)+) => {{
        let source: &str = $source;
        if let Some(held_back) = $warnings.admit($kind, source, tokio::time::Instant::now()) {
            tracing::debug!(source, held_back, $($arg)+);
        }
    }};
}
pub(crate) use debug_limited;
