//! Transport-level faults: connections a handler can cut (RST, no response) and
//! bodies that stop short of their Content-Length.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// Accepts TCP connections, each with a [`Cutter`] its requests can reach.
pub(crate) struct Listener(pub(crate) TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Conn, Self::Addr) {
        // The TcpListener impl already retries and backs off on accept errors.
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (
            Conn {
                stream,
                cut: Cutter(Arc::new(AtomicBool::new(false))),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Handed to every request as `ConnectInfo`: cutting makes the connection's
/// next write fail and close it with a reset, so nothing reaches the client.
#[derive(Clone, Debug)]
pub(crate) struct Cutter(Arc<AtomicBool>);

impl Cutter {
    pub(crate) fn cut(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, Listener>> for Cutter {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        stream.io().cut.clone()
    }
}

pub(crate) struct Conn {
    stream: TcpStream,
    cut: Cutter,
}

impl Conn {
    /// Once cut, every write fails; zero linger makes the close an RST that
    /// also discards anything still unsent.
    fn refuse_if_cut(&self) -> Option<io::Error> {
        if !self.cut.0.load(Ordering::SeqCst) {
            return None;
        }
        // Without zero linger the close is still abrupt (a FIN, no response).
        let _ = self.stream.set_zero_linger();
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by fault injection",
        ))
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.refuse_if_cut() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.refuse_if_cut() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.refuse_if_cut() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.refuse_if_cut() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The first part of a body, then a failure that makes hyper close the
/// connection. The pause in between lets hyper flush the headers and the part,
/// which it would otherwise drop with the connection. The size stays unknown:
/// hyper then trusts the Content-Length header set for the whole body.
pub(crate) struct Truncated {
    part: Option<Bytes>,
    pause: Pin<Box<Sleep>>,
}

impl Truncated {
    pub(crate) fn new(part: Bytes) -> Truncated {
        Truncated {
            part: Some(part),
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(20))),
        }
    }
}

impl HttpBody for Truncated {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(part) = self.part.take() {
            return Poll::Ready(Some(Ok(Frame::data(part))));
        }
        ready!(self.pause.as_mut().poll(cx));
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "body truncated by fault injection",
        ))))
    }
}
