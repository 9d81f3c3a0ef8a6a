//! Who may listen, and what a token grants: our own tokens (ES256, keys
//! known at start) and, beside them, tokens of the identity providers a
//! deployment lists (`TOKEN_ISSUERS`). rx checks the token of a `$connect`
//! with it, the commands function the `token` of a command.

use tracing::info;

use super::issuers::{unverified_issuer, Issuers};
use super::jwks::JwksFetcher;
use super::loopback::LoopbackFetcher;
use super::Verifier;
use crate::pattern::{Grants, Pattern};

/// Who may listen.
#[derive(Debug, Clone)]
pub enum SubscriberAuth {
    /// Anyone who knows the stage URL may join any channel (the open demo).
    None,
    /// `$connect` needs a token granting the channel.
    Token(Verifier),
}

/// How tokens are checked in a deployment.
#[derive(Debug)]
pub struct Auth<F = LoopbackFetcher> {
    /// Open (`none`), or our own tokens (`token`).
    pub mode: SubscriberAuth,
    /// Other issuers' tokens, accepted beside ours in `token` mode; empty
    /// when `TOKEN_ISSUERS` lists none.
    pub issuers: Issuers<F>,
}

/// Who holds a token, and what it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub grants: Grants,
    pub subject: Option<String>,
    /// The token's `exp`; `None` in open mode (no token).
    pub expires_at: Option<i64>,
    /// The identity provider that issued it; `None` for our own tokens.
    pub issuer: Option<String>,
}

/// Why a token was refused: the status and the category the client sees;
/// the reason for the log, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub category: &'static str,
    pub reason: String,
}

impl<F> Auth<F> {
    /// Open mode: anyone, every grant, no issuers.
    pub fn open() -> Self
    where
        F: JwksFetcher + Default,
    {
        SubscriberAuth::None.into()
    }

    pub fn new(mode: SubscriberAuth, issuers: Issuers<F>) -> Self {
        Self { mode, issuers }
    }

    /// Whether anyone may listen (no token is checked).
    pub fn is_open(&self) -> bool {
        matches!(self.mode, SubscriberAuth::None)
    }
}

impl<F: JwksFetcher> Auth<F> {
    /// The holder of `token` at `now` (seconds). In open mode, anyone holds
    /// every grant. A token of a listed issuer is checked against that
    /// issuer's keys; any other against ours.
    pub async fn check(&self, token: Option<&str>, now: i64) -> Result<Holder, Refusal> {
        let SubscriberAuth::Token(verifier) = &self.mode else {
            return Ok(Holder {
                grants: Grants::all(),
                subject: None,
                expires_at: None,
                issuer: None,
            });
        };
        let token = token.unwrap_or("");
        let theirs = !self.issuers.is_empty()
            && unverified_issuer(token)
                .is_some_and(|iss| iss != verifier.issuer() && self.issuers.knows(&iss));
        if !theirs {
            let (claims, grants) = verifier.grants(token, now).map_err(|err| Refusal {
                status: err.status(),
                category: err.category(),
                reason: err.to_string(),
            })?;
            return Ok(Holder {
                grants,
                subject: claims.sub,
                expires_at: Some(claims.exp),
                issuer: None,
            });
        }
        let granted = self
            .issuers
            .verify(token, now)
            .await
            .map_err(|err| Refusal {
                status: err.status(),
                category: err.category(),
                reason: err.to_string(),
            })?;
        Ok(Holder {
            grants: Grants {
                subscribe: patterns(&granted.channels, &granted.issuer),
                publish: patterns(&granted.publish, &granted.issuer),
            },
            subject: granted.subject,
            expires_at: Some(granted.expires_at),
            issuer: Some(granted.issuer),
        })
    }
}

/// The patterns of an issuer's claim that are patterns: a claim such as
/// `cognito:groups` may hold groups that name no channel; those are left
/// out (and logged), not a reason to refuse the token.
fn patterns(texts: &[String], issuer: &str) -> Vec<Pattern> {
    let mut patterns: Vec<Pattern> = Vec::new();
    for text in texts {
        match Pattern::parse(text) {
            Ok(pattern) if !patterns.contains(&pattern) => patterns.push(pattern),
            Ok(_) => {}
            Err(err) => {
                info!(issuer, error = %err, "a granted value that is no channel pattern is left out")
            }
        }
    }
    patterns
}

/// Our own tokens only (or open mode): no other issuer.
impl<F: JwksFetcher + Default> From<SubscriberAuth> for Auth<F> {
    fn from(mode: SubscriberAuth) -> Self {
        Self::new(mode, Issuers::new(Vec::new(), F::default(), 0))
    }
}
