//! A [`JwksFetcher`] for `http://` on the loopback interface only: the
//! tests' JWKS servers and the local gateway's. One HTTP/1.1 `GET` over a
//! fresh connection (`Connection: close`), no redirects, no proxy, no TLS;
//! the answer is read to its `Content-Length`, through `chunked` coding, or
//! to the end of the connection, and never past [`MAX_JWKS_BYTES`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::jwks::{FetchError, JwksFetcher, MAX_JWKS_BYTES};

/// Longest status line plus headers accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Fetches `http://127.0.0.1…`, `http://localhost…` and `http://[::1]…`;
/// refuses every other URL with [`FetchError::Url`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopbackFetcher;

impl JwksFetcher for LoopbackFetcher {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let target = LoopbackUrl::parse(url)?;
        let mut last = FetchError::Url("no loopback address");
        for address in target.addresses() {
            match TcpStream::connect(address).await {
                Ok(mut stream) => {
                    let request = format!(
                        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: lambda-rust-websocket\r\nConnection: close\r\n\r\n",
                        target.path, target.authority
                    );
                    stream
                        .write_all(request.as_bytes())
                        .await
                        .map_err(|e| FetchError::Io(e.to_string()))?;
                    return read_response(stream).await;
                }
                Err(e) => last = FetchError::Connect(e.to_string()),
            }
        }
        Err(last)
    }
}

/// An `http://` URL on a loopback host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopbackUrl {
    /// `host[:port]` as written, for the `Host` header.
    pub authority: String,
    pub host: LoopbackHost,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

/// The loopback hosts a JWKS may be fetched from over plain HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopbackHost {
    /// `127.0.0.1`
    V4,
    /// `[::1]`
    V6,
    /// `localhost`: 127.0.0.1, then ::1 (no name lookup).
    Localhost,
}

impl LoopbackUrl {
    pub fn parse(url: &str) -> Result<Self, FetchError> {
        let rest = strip_prefix_ignore_case(url, "http://")
            .ok_or(FetchError::Url("not an http:// URL"))?;
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(FetchError::Url("white space or control characters"));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let path = path.split('#').next().unwrap_or("");
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        let (host, port) = split_host_port(authority).ok_or(FetchError::Url("bad host or port"))?;
        let host = loopback_host(host).ok_or(FetchError::Url(
            "plain http is for 127.0.0.1, localhost or [::1] only",
        ))?;
        Ok(Self {
            authority: authority.to_owned(),
            host,
            port: port.unwrap_or(80),
            path,
        })
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port);
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.port);
        match self.host {
            LoopbackHost::V4 => vec![v4],
            LoopbackHost::V6 => vec![v6],
            LoopbackHost::Localhost => vec![v4, v6],
        }
    }
}

/// `127.0.0.1`, `localhost` (any case) or `[::1]`.
pub fn loopback_host(host: &str) -> Option<LoopbackHost> {
    if host == "127.0.0.1" {
        Some(LoopbackHost::V4)
    } else if host == "[::1]" {
        Some(LoopbackHost::V6)
    } else if host.eq_ignore_ascii_case("localhost") {
        Some(LoopbackHost::Localhost)
    } else {
        None
    }
}

/// `host[:port]` with `host` possibly `[v6]`; `None` for user info, an
/// empty host or a bad port.
pub fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, rest) = authority.split_at(close + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().ok().filter(|p| *p != 0)?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Reads an HTTP/1.x answer: the body of a 200, or the error.
pub async fn read_response<R: AsyncRead + Unpin>(stream: R) -> Result<Vec<u8>, FetchError> {
    let mut reader = Reader::new(stream);
    let status_line = reader.line().await?;
    let status = parse_status(&status_line)?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut head_bytes = status_line.len();
    loop {
        let line = reader.line().await?;
        if line.is_empty() {
            break;
        }
        head_bytes += line.len() + 2;
        if head_bytes > MAX_HEAD_BYTES {
            return Err(FetchError::Protocol("headers too long"));
        }
        let text = std::str::from_utf8(&line).map_err(|_| FetchError::Protocol("header"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or(FetchError::Protocol("header without a colon"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| FetchError::Protocol("Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(FetchError::Protocol("two Content-Lengths"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            if !chunked {
                return Err(FetchError::Protocol("Transfer-Encoding other than chunked"));
            }
        }
    }
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    if chunked {
        reader.chunked_body().await
    } else if let Some(length) = length {
        if length > MAX_JWKS_BYTES {
            return Err(FetchError::TooLarge);
        }
        reader.exact(length).await
    } else {
        reader.until_closed().await
    }
}

fn parse_status(line: &[u8]) -> Result<u16, FetchError> {
    let text = std::str::from_utf8(line).map_err(|_| FetchError::Protocol("status line"))?;
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !(version == "HTTP/1.1" || version == "HTTP/1.0") || code.len() != 3 {
        return Err(FetchError::Protocol("status line"));
    }
    code.parse()
        .map_err(|_| FetchError::Protocol("status line"))
}

/// A buffered reader with the few operations HTTP/1.1 framing needs, each
/// bounded.
struct Reader<R> {
    stream: R,
    buf: Vec<u8>,
    eof: bool,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    fn new(stream: R) -> Self {
        Self {
            stream,
            buf: Vec::with_capacity(4096),
            eof: false,
        }
    }

    /// Reads more; false at the end of the stream.
    async fn fill(&mut self) -> Result<bool, FetchError> {
        if self.eof {
            return Ok(false);
        }
        let mut chunk = [0u8; 8192];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| FetchError::Io(e.to_string()))?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(true)
    }

    /// One line without its CRLF (or LF), at most [`MAX_HEAD_BYTES`].
    async fn line(&mut self) -> Result<Vec<u8>, FetchError> {
        loop {
            if let Some(at) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(FetchError::Protocol("line too long"));
            }
            if !self.fill().await? {
                return Err(FetchError::Protocol("answer ended early"));
            }
        }
    }

    async fn exact(&mut self, n: usize) -> Result<Vec<u8>, FetchError> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(FetchError::Protocol("body shorter than Content-Length"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn until_closed(&mut self) -> Result<Vec<u8>, FetchError> {
        while self.fill().await? {
            if self.buf.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
        }
        if self.buf.len() > MAX_JWKS_BYTES {
            return Err(FetchError::TooLarge);
        }
        Ok(std::mem::take(&mut self.buf))
    }

    async fn chunked_body(&mut self) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size = std::str::from_utf8(&line)
                .ok()
                .map(|l| l.split(';').next().unwrap_or("").trim())
                .filter(|s| !s.is_empty() && s.len() <= 8)
                .and_then(|s| usize::from_str_radix(s, 16).ok())
                .ok_or(FetchError::Protocol("chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line; what follows is ignored.
                for _ in 0..64 {
                    if self.line().await?.is_empty() {
                        return Ok(body);
                    }
                }
                return Err(FetchError::Protocol("too many trailers"));
            }
            if body.len() + size > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend(self.exact(size).await?);
            if !self.line().await?.is_empty() {
                return Err(FetchError::Protocol("chunk not followed by CRLF"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(answer: &[u8]) -> Result<Vec<u8>, FetchError> {
        read_response(answer).await
    }

    #[tokio::test]
    async fn bodies_are_read_by_length_chunks_or_to_the_end() {
        assert_eq!(
            read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloextra").await,
            Ok(b"hello".to_vec())
        );
        assert_eq!(
            read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: 1\r\n\r\n").await,
            Ok(b"hello".to_vec())
        );
        assert_eq!(
            read(b"HTTP/1.0 200 OK\nServer: x\n\nhello").await,
            Ok(b"hello".to_vec())
        );
    }

    #[tokio::test]
    async fn errors_and_oversized_answers_are_refused() {
        assert_eq!(
            read(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await,
            Err(FetchError::Status(404))
        );
        assert_eq!(
            read(b"HTTP/1.1 301 Moved\r\nLocation: http://example/\r\n\r\n").await,
            Err(FetchError::Status(301))
        );
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_JWKS_BYTES + 1
        );
        assert_eq!(read(big.as_bytes()).await, Err(FetchError::TooLarge));
        let mut to_end = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        to_end.extend(vec![b'x'; MAX_JWKS_BYTES + 1]);
        assert_eq!(read(&to_end).await, Err(FetchError::TooLarge));
        let chunks = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFF\r\n";
        assert_eq!(read(chunks).await, Err(FetchError::TooLarge));
        let mut long_head = b"HTTP/1.1 200 OK\r\n".to_vec();
        long_head.extend(vec![b'a'; MAX_HEAD_BYTES + 1]);
        assert!(matches!(
            read(&long_head).await,
            Err(FetchError::Protocol(_))
        ));
        for bad in [
            &b""[..],
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        ] {
            assert!(
                matches!(read(bad).await, Err(FetchError::Protocol(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn only_loopback_http_urls_are_fetched() {
        let url = LoopbackUrl::parse("http://127.0.0.1:8080/.well-known/jwks.json").unwrap();
        assert_eq!(
            (
                url.host,
                url.port,
                url.path.as_str(),
                url.authority.as_str()
            ),
            (
                LoopbackHost::V4,
                8080,
                "/.well-known/jwks.json",
                "127.0.0.1:8080"
            )
        );
        assert_eq!(LoopbackUrl::parse("HTTP://LocalHost").unwrap().path, "/");
        assert_eq!(
            LoopbackUrl::parse("http://[::1]:9/?a=b#frag").unwrap().path,
            "/?a=b"
        );
        for bad in [
            "https://127.0.0.1/",
            "http://127.0.0.2/",
            "http://example.com/",
            "http://127.0.0.1.example.com/",
            "http://user@127.0.0.1/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:/",
            "http://[::1/",
            "http://[::2]/",
            "http:///path",
            "http://127.0.0.1/a b",
            "ftp://127.0.0.1/",
        ] {
            assert!(LoopbackUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
