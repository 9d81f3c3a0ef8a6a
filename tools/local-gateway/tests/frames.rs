//! Malformed frames end a connection with the close code RFC 6455 gives
//! them, sent to the client and reported to `$disconnect`: text that is not
//! UTF-8 (1007), frames that break the protocol (1002).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use futures::SinkExt as _;
use support::{expect_close, start, Backend};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

fn text_frame(payload: &[u8], first: bool, last: bool) -> Message {
    let opcode = if first { Data::Text } else { Data::Continue };
    Message::Frame(Frame::message(payload.to_vec(), OpCode::Data(opcode), last))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let mut env = start(Backend::Memory, |b| b).await;
    let (mut client, id) = env.connect(Some("a")).await;

    // "(" after an unfinished two-byte sequence
    client
        .send(text_frame(&[b'o', b'k', 0xc3, 0x28], true, true))
        .await
        .unwrap();

    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1007);
    let (code, reason) = env.disconnected(&id).await;
    assert_eq!(code, 1007, "{reason}");
    assert_eq!(env.count("a").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_text_message_that_is_not_utf8_closes_with_1007() {
    let mut env = start(Backend::Memory, |b| b).await;
    let (mut client, id) = env.connect(Some("a")).await;

    // A valid start, then a lone continuation byte in the second fragment.
    client
        .send(text_frame("héllo ".as_bytes(), true, false))
        .await
        .unwrap();
    client
        .send(text_frame(&[0x80, b'x'], false, true))
        .await
        .unwrap();

    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1007);
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1007);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_with_reserved_bits_closes_with_1002() {
    let mut env = start(Backend::Memory, |b| b).await;
    let (mut client, id) = env.connect(Some("a")).await;

    let mut frame = Frame::message(b"hi".to_vec(), OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    client.send(Message::Frame(frame)).await.unwrap();

    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1002);
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1002);
}
