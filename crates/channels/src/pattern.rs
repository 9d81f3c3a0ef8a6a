//! Grants: which channels a connection may subscribe and publish to.
//!
//! A [`Pattern`] is an exact channel name (`lobby`), or a prefix ending in
//! `*` (`room-*`, `user:42:*`) that matches every name starting with the
//! prefix, byte for byte and case-sensitively; `*` alone matches every
//! channel. `*` is not a channel character, so a pattern cannot be mistaken
//! for a name. Subscriptions are always to exact names.

use std::fmt;

use crate::channel::{is_channel_char, MAX_CHANNEL_LEN};
use crate::{ChannelError, ChannelName};

/// One grant: an exact name, a prefix, or everything.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern(String);

/// Why a pattern was refused; safe to show to clients.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("{0}")]
    Name(#[from] ChannelError),
    #[error("pattern {0:?}: a '*' may only end a pattern (a prefix such as room-*)")]
    Star(String),
}

impl Pattern {
    /// Every channel.
    pub fn all() -> Self {
        Self("*".to_owned())
    }

    /// An exact name, a prefix followed by `*`, or `*`.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.find('*').is_some_and(|at| at + 1 != text.len()) {
            return Err(PatternError::Star(text.chars().take(140).collect()));
        }
        match text.strip_suffix('*') {
            Some(prefix) => {
                if let Some(bad) = prefix.chars().find(|c| !is_channel_char(*c)) {
                    return Err(ChannelError::BadCharacter(bad).into());
                }
                if prefix.len() >= MAX_CHANNEL_LEN {
                    return Err(ChannelError::TooLong(prefix.len() + 1).into());
                }
                Ok(Self(text.to_owned()))
            }
            None => Ok(Self(ChannelName::parse(text)?.as_str().to_owned())),
        }
    }

    /// Whether `channel` is granted by this pattern.
    pub fn matches(&self, channel: &ChannelName) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => channel.as_str().starts_with(prefix),
            None => self.0 == channel.as_str(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses every pattern of `texts`, keeping each once, in order.
pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Pattern>, PatternError> {
    let mut patterns: Vec<Pattern> = Vec::with_capacity(texts.len());
    for text in texts {
        let pattern = Pattern::parse(text.as_ref())?;
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    Ok(patterns)
}

/// What a connection may do: subscribe to the channels `subscribe` grants,
/// publish over its socket to those `publish` grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    pub subscribe: Vec<Pattern>,
    pub publish: Vec<Pattern>,
}

impl Grants {
    /// Everything: open mode (`SUBSCRIBER_AUTH=none`).
    pub fn all() -> Self {
        Self {
            subscribe: vec![Pattern::all()],
            publish: vec![Pattern::all()],
        }
    }

    pub fn can_subscribe(&self, channel: &ChannelName) -> bool {
        self.subscribe.iter().any(|p| p.matches(channel))
    }

    pub fn can_publish(&self, channel: &ChannelName) -> bool {
        self.publish.iter().any(|p| p.matches(channel))
    }

    /// Adds `other`'s patterns to these (each kept once).
    pub fn extend(&mut self, other: &Grants) {
        for p in &other.subscribe {
            if !self.subscribe.contains(p) {
                self.subscribe.push(p.clone());
            }
        }
        for p in &other.publish {
            if !self.publish.contains(p) {
                self.publish.push(p.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> ChannelName {
        ChannelName::parse(text).expect("a valid name")
    }

    #[test]
    fn star_alone_grants_everything() {
        assert!(Pattern::all().matches(&name("a")));
        assert_eq!(Pattern::parse("*"), Ok(Pattern::all()));
    }

    #[test]
    fn a_star_inside_a_pattern_is_refused() {
        assert!(matches!(Pattern::parse("a*b"), Err(PatternError::Star(_))));
        assert!(matches!(Pattern::parse("**"), Err(PatternError::Star(_))));
        assert!(Pattern::parse("a b*").is_err());
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse(&"x".repeat(128)).is_ok());
        assert!(Pattern::parse(&format!("{}*", "x".repeat(127))).is_ok());
        assert!(Pattern::parse(&format!("{}*", "x".repeat(128))).is_err());
    }
}
