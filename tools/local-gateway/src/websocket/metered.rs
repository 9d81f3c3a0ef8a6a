//! The upgraded connection under a WebSocket, counting what the kernel takes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::registry::ConnectionHandle;

/// Passes reads and writes through; each completed write is taken off the
/// connection's [`Backlog`](crate::registry::Backlog). Whatever the socket
/// writes goes through here, the pongs tungstenite sends by itself too.
#[derive(Debug)]
pub(super) struct Metered<T> {
    io: T,
    handle: Arc<ConnectionHandle>,
}

impl<T> Metered<T> {
    pub(super) fn new(io: T, handle: Arc<ConnectionHandle>) -> Self {
        Self { io, handle }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(bytes)) = written {
            this.handle.backlog.written(bytes);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
