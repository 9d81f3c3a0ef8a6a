use std::fmt;

/// The channel a client joins when it names none.
pub const DEFAULT_CHANNEL: &str = "default";

/// Longest channel name, in characters.
pub const MAX_CHANNEL_LEN: usize = 128;

/// `A–Z a–z 0–9 _ - . :`: the characters of a channel name.
pub fn is_channel_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

/// A validated channel name: 1–128 characters of `A–Z a–z 0–9 _ - . :`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

/// Why a channel name was refused. The message is safe to show to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("channel name is empty; use 1-128 characters of A-Z a-z 0-9 _ - . :")]
    Empty,
    #[error("channel name is {0} characters long; the limit is 128")]
    TooLong(usize),
    #[error("channel name contains {0:?}; allowed are A-Z a-z 0-9 _ - . :")]
    BadCharacter(char),
}

impl ChannelName {
    /// Validates `name`.
    pub fn parse(name: &str) -> Result<Self, ChannelError> {
        if name.is_empty() {
            return Err(ChannelError::Empty);
        }
        if let Some(bad) = name.chars().find(|c| !is_channel_char(*c)) {
            return Err(ChannelError::BadCharacter(bad));
        }
        // Only ASCII is left, so bytes are characters.
        if name.len() > MAX_CHANNEL_LEN {
            return Err(ChannelError::TooLong(name.len()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The default channel, `default`.
    pub fn default_channel() -> Self {
        Self(DEFAULT_CHANNEL.to_owned())
    }

    /// `Some(name)` validated, or the default channel for `None`.
    pub fn parse_or_default(name: Option<&str>) -> Result<Self, ChannelError> {
        name.map_or_else(|| Ok(Self::default_channel()), Self::parse)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ChannelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_allowed_character_and_the_limits() {
        let all = "AZaz09_-.:";
        assert_eq!(
            ChannelName::parse(all).map(|c| c.to_string()),
            Ok(all.to_owned())
        );
        assert!(ChannelName::parse("a").is_ok());
        assert!(ChannelName::parse(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters() {
        assert_eq!(ChannelName::parse(""), Err(ChannelError::Empty));
        assert_eq!(
            ChannelName::parse(&"x".repeat(129)),
            Err(ChannelError::TooLong(129))
        );
        for bad in ["a b", "a/b", "é", "a%20", "a\0", "🦀"] {
            assert!(
                matches!(ChannelName::parse(bad), Err(ChannelError::BadCharacter(_))),
                "{bad:?} should be refused"
            );
        }
        // A long name of non-ASCII characters is refused for the character.
        assert!(matches!(
            ChannelName::parse(&"é".repeat(100)),
            Err(ChannelError::BadCharacter('é'))
        ));
    }

    #[test]
    fn absent_means_default() {
        assert_eq!(
            ChannelName::parse_or_default(None).map(|c| c.to_string()),
            Ok("default".into())
        );
        assert!(ChannelName::parse_or_default(Some("")).is_err());
    }
}
