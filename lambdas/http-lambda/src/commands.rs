//! The commands function: the WebSocket API's command routes
//! (`subscribe`, `unsubscribe`, `publish`, `presence`, and `ping` when no
//! MOCK integration answers it), selected by `$request.body.action`. Its
//! answer is the route response, which API Gateway sends to the sender.
//!
//! Events after `$connect` carry no headers: the connection's protocol,
//! grants, subject and token expiry come from its item, read strongly
//! consistent. A raw connection's frame is echoed, whatever it holds (the
//! seed's demo: `{"action":"subscribe"}` comes back as it was sent).
//!
//! Replies and error frames are the contract's (`protocol` module of the
//! domain); an error never closes the connection. A `token` in any command
//! adds its grants when it carries the connection's `sub`, and moves the
//! token expiry on; after the expiry, commands answer 401 until a fresh
//! token comes. The token and the published data never reach a log.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use channels::fanout::{Publish, PublishError};
use channels::history::recover;
use channels::job::{new_publish_id, MemoryQueue, PublishQueue};
use channels::message::Publication;
use channels::presence::presence;
use channels::protocol::{self, Command, CommandBody, ErrorFrame};
use channels::token::auth::Auth;
use channels::token::jwks::JwksFetcher;
use channels::token::loopback::LoopbackFetcher;
use channels::{Connection, ConnectionNotifier, Fanout, NotifyError, Protocol, Store, Subscribed};
use lambda_runtime::LambdaEvent;
use tracing::{error, info, warn, Instrument};

/// What the commands function needs, built once per execution environment.
#[derive(Debug)]
pub struct CommandsDeps<S, N, Q = MemoryQueue, F = LoopbackFetcher> {
    pub fanout: Fanout<S, N, Q>,
    /// How a `token` in a command is checked.
    pub auth: Auth<F>,
    /// Whether to print CloudWatch metrics (EMF lines) on standard output.
    pub metrics: bool,
}

/// Handles one command frame. Always answers 200 with the reply frame (or
/// the echo of a raw connection's frame) as the route response.
pub async fn handle<S, N, Q, F>(
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    deps: &CommandsDeps<S, N, Q, F>,
) -> ApiGatewayProxyResponse
where
    S: Store,
    N: ConnectionNotifier,
    Q: PublishQueue,
    F: JwksFetcher,
{
    let LambdaEvent {
        payload: request,
        context,
    } = event;
    let ctx = &request.request_context;
    let connection_id = ctx.connection_id.clone().unwrap_or_default();
    let span = tracing::info_span!(
        "commands",
        request_id = %context.request_id,
        route = %ctx.route_key.as_deref().unwrap_or_default(),
        connection_id = %connection_id,
        channel = tracing::field::Empty,
    );
    async {
        let frame = request.body.clone().unwrap_or_default();
        if connection_id.is_empty() {
            warn!("event without requestContext.connectionId");
            return reply(ErrorFrame::new(None, 400, "missing connection id").to_json());
        }
        let connection = match deps.fanout.store.connection(&connection_id).await {
            Ok(Some(connection)) => connection,
            Ok(None) => {
                warn!("a command from a connection the store does not know");
                return reply(
                    error_for(
                        &frame,
                        503,
                        "this connection is unknown to the store; reconnect",
                    )
                    .to_json(),
                );
            }
            Err(err) => {
                error!(error = %err, "could not read the connection");
                return reply(
                    error_for(&frame, 503, "the store is unavailable; try again").to_json(),
                );
            }
        };
        if connection.protocol == Protocol::Raw {
            // The seed's echo, whatever the frame holds.
            return echo(request);
        }
        match protocol::parse(&frame) {
            None => echo(request),
            Some(Err(bad)) => {
                info!(code = bad.code, "malformed command");
                reply(bad.to_json())
            }
            Some(Ok(command)) => {
                if let Some(channel) = command.body.channel() {
                    tracing::Span::current().record("channel", channel.as_str());
                }
                let id = command.id.clone();
                match Box::pin(run(command, connection, deps)).await {
                    Ok(answer) => reply(answer),
                    Err((code, message)) => {
                        info!(code, message, "command refused");
                        reply(ErrorFrame::new(id, code, message).to_json())
                    }
                }
            }
        }
    }
    .instrument(span)
    .await
}

type Refusal = (u16, String);

fn refuse(code: u16, message: impl Into<String>) -> Refusal {
    (code, message.into())
}

/// Runs a command of an `lrw.v1` connection; its reply frame, or why not.
async fn run<S, N, Q, F>(
    command: Command,
    mut connection: Connection,
    deps: &CommandsDeps<S, N, Q, F>,
) -> Result<String, Refusal>
where
    S: Store,
    N: ConnectionNotifier,
    Q: PublishQueue,
    F: JwksFetcher,
{
    let Command { id, token, body } = command;
    let id = id.as_deref();
    if let CommandBody::Ping = body {
        return Ok(protocol::pong(id));
    }
    let now = channels::now_millis() / 1000;
    if !deps.auth.is_open() {
        if let Some(token) = token {
            let holder = deps
                .auth
                .check(Some(&token), now)
                .await
                .map_err(|refusal| {
                    // The reason, never the token.
                    info!(reason = %refusal.reason, "token in a command refused");
                    refuse(refusal.status, refusal.category)
                })?;
            // A `sub` is unique within its issuer only.
            if (&holder.issuer, &holder.subject) != (&connection.issuer, &connection.subject) {
                info!("token in a command refused: another subject");
                return Err(refuse(
                    403,
                    "the token is for another subject than this connection's",
                ));
            }
            let expires_at = holder.expires_at.unwrap_or(now);
            deps.fanout
                .store
                .add_grants(&connection.id, &holder.grants, expires_at)
                .await
                .map_err(|err| store_down(&err))?;
            connection.grants.extend(&holder.grants);
            connection.token_expires_at = Some(
                connection
                    .token_expires_at
                    .map_or(expires_at, |old| old.max(expires_at)),
            );
        }
        if connection.token_expired(now) {
            return Err(refuse(
                401,
                "Unauthorized: the token has expired; send a fresh one as \"token\" in a command",
            ));
        }
    }
    let store = &deps.fanout.store;
    match body {
        CommandBody::Ping => Ok(protocol::pong(id)),
        CommandBody::Subscribe { channel, since } => {
            if !connection.grants.can_subscribe(&channel) {
                return Err(refuse(
                    403,
                    format!("Forbidden: subscribing to {channel} is not granted"),
                ));
            }
            match store.subscribe(&connection, &channel).await {
                Ok(Subscribed::Added | Subscribed::Already) => {}
                Ok(Subscribed::Full) => {
                    return Err(refuse(
                        429,
                        format!(
                            "a connection holds at most {} subscriptions; unsubscribe first",
                            channels::MAX_SUBSCRIPTIONS
                        ),
                    ))
                }
                Ok(Subscribed::NoConnection) => {
                    return Err(refuse(
                        503,
                        "this connection is unknown to the store; reconnect",
                    ))
                }
                Err(err) => return Err(store_down(&err)),
            }
            let Some(since) = since else {
                let position = store.position(&channel).await.map_err(|e| store_down(&e))?;
                info!(offset = position.offset, "subscribed");
                return Ok(protocol::subscribed(id, &channel, &position, None));
            };
            let recovery = recover(store, &deps.fanout.history, &channel, &since)
                .await
                .map_err(|e| store_down(&e))?;
            // In order: one post after the other.
            let mut replayed = 0usize;
            for message in &recovery.messages {
                match deps
                    .fanout
                    .notifier
                    .post(&connection.id, &message.envelope)
                    .await
                {
                    Ok(()) => replayed += 1,
                    Err(NotifyError::Gone) => break,
                    Err(err) => {
                        warn!(error = %err, offset = message.offset, "replay stopped");
                        break;
                    }
                }
            }
            let recovered = recovery.recovered && replayed == recovery.messages.len();
            info!(
                since = since.offset,
                offset = recovery.position.offset,
                replayed,
                recovered,
                "subscribed with recovery"
            );
            Ok(protocol::subscribed(
                id,
                &channel,
                &recovery.position,
                Some(recovered),
            ))
        }
        CommandBody::Unsubscribe { channel } => {
            let was = store
                .unsubscribe(&connection.id, &channel)
                .await
                .map_err(|e| store_down(&e))?;
            info!(was_member = was, "unsubscribed");
            Ok(protocol::unsubscribed(id, &channel))
        }
        CommandBody::Presence { channel } => {
            if !connection.grants.can_subscribe(&channel) {
                return Err(refuse(403, format!("Forbidden: {channel} is not granted")));
            }
            let presence = presence(store, &channel)
                .await
                .map_err(|e| store_down(&e))?;
            Ok(protocol::presence(id, &presence))
        }
        CommandBody::Publish {
            channel,
            data,
            include_self,
            key,
        } => {
            if !connection.grants.can_publish(&channel) {
                return Err(refuse(
                    403,
                    format!("Forbidden: publishing to {channel} is not granted"),
                ));
            }
            let publication =
                Publication::socket(channel.clone(), &data, connection.subject.clone());
            let bytes = publication.body.len();
            let publish_id = new_publish_id();
            let started = std::time::Instant::now();
            let publish = Publish {
                publication,
                exclude: (!include_self).then(|| connection.id.clone()),
                key,
                publish_id: publish_id.clone(),
            };
            let span = tracing::info_span!("publish", publish_id = %publish_id);
            let published = Box::pin(deps.fanout.publish(publish))
                .instrument(span)
                .await
                .map_err(|err| match err {
                    PublishError::TooLarge(too_large) => refuse(413, too_large.to_string()),
                    PublishError::KeyInProgress => refuse(409, PublishError::KeyInProgress.to_string()),
                    PublishError::Store(err) => store_down(&err),
                    PublishError::Queue(err) => {
                        error!(error = %err, "could not hand the publish to the workers");
                        refuse(503, "the publish queue is unavailable; part of the channel may get the message, try again")
                    }
                })?;
            crate::metrics::log_published(
                &channel,
                &publish_id,
                bytes,
                &published,
                started,
                deps.metrics,
            );
            Ok(protocol::published(id, &channel, &published))
        }
    }
}

fn store_down(err: &channels::StoreError) -> Refusal {
    error!(error = %err, "store failed");
    refuse(503, "the store is unavailable; try again")
}

/// An error frame for `frame`, with its `id` when it has one.
fn error_for(frame: &str, code: u16, message: &str) -> ErrorFrame {
    let id = match protocol::parse(frame) {
        Some(Ok(command)) => command.id,
        Some(Err(bad)) => bad.id,
        None => None,
    };
    ErrorFrame::new(id, code, message)
}

fn reply(frame: String) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response.body = Some(Body::Text(frame));
    response
}

/// The frame back, as rx's `$default` answers.
fn echo(request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response.body = request.body.map(Body::Text);
    response.is_base64_encoded = request.is_base64_encoded;
    response
}
