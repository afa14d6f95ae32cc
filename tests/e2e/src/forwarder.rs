//! A loopback TCP forwarder that a test can shut down, to make an upstream unreachable on
//! purpose (e.g. to prove a registry serves a package from its own cache).
//!
//! Two modes:
//! * [`TcpForwarder::start`]: every connection is piped to one fixed `host:port` (for plain
//!   HTTP upstreams: point the client at `http://127.0.0.1:<port>`).
//! * [`TcpForwarder::connect_proxy`]: an HTTP `CONNECT` proxy (for HTTPS upstreams: the client
//!   keeps the real URL, so TLS names still verify, and tunnels through this proxy).
//!
//! [`TcpForwarder::shutdown`] closes the listener *and* every open connection: registries keep
//! upstream connections alive, so only closing the listener would not cut them off.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

enum Mode {
    Fixed(String),
    Connect,
}

struct Inner {
    mode: Mode,
    shutdown: AtomicBool,
    accepted: AtomicUsize,
    open: Mutex<Vec<TcpStream>>,
}

/// See the module documentation.
pub struct TcpForwarder {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

impl TcpForwarder {
    /// Listens on 127.0.0.1:<free port> and pipes each connection to `target` (`host:port`).
    pub fn start(target: &str) -> io::Result<Self> {
        Self::spawn("127.0.0.1:0", Mode::Fixed(target.to_owned()))
    }

    /// Listens on `bind` (`address:port`, port 0 for a free one) and pipes each connection to
    /// `target`: e.g. a host-local address that pods reach, in front of a loopback server.
    pub fn start_on(bind: &str, target: &str) -> io::Result<Self> {
        Self::spawn(bind, Mode::Fixed(target.to_owned()))
    }

    /// Listens on 127.0.0.1:<free port> as an HTTP `CONNECT` proxy (any target).
    pub fn connect_proxy() -> io::Result<Self> {
        Self::spawn("127.0.0.1:0", Mode::Connect)
    }

    fn spawn(bind: &str, mode: Mode) -> io::Result<Self> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            mode,
            shutdown: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            open: Mutex::new(Vec::new()),
        });
        let accept_inner = Arc::clone(&inner);
        // Non-blocking accept polled with the shutdown flag: waking a blocked accept needs a
        // connection to the listening address, which may be gone by then (a node's removed
        // service address), or answered by another host.
        listener.set_nonblocking(true)?;
        let accept = std::thread::spawn(move || {
            while !accept_inner.shutdown.load(Ordering::SeqCst) {
                let conn = match listener.accept() {
                    Ok((conn, _)) => conn,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
                    Err(_) => continue,
                };
                if conn.set_nonblocking(false).is_err() {
                    continue;
                }
                accept_inner.accepted.fetch_add(1, Ordering::SeqCst);
                let inner = Arc::clone(&accept_inner);
                std::thread::spawn(move || {
                    // A failed upstream connect just drops the client connection.
                    let _ = handle(&inner, conn);
                });
            }
        });
        Ok(Self {
            addr,
            inner,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>` (the proxy URL in CONNECT mode, the base URL in fixed mode).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many client connections were accepted so far (evidence that traffic went through).
    pub fn connections(&self) -> usize {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// Stops listening and cuts every open connection. Idempotent.
    pub fn shutdown(&mut self) {
        if self.inner.shutdown.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        let open = std::mem::take(&mut *self.inner.open.lock().expect("forwarder lock"));
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for TcpForwarder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn handle(inner: &Inner, client: TcpStream) -> io::Result<()> {
    let (upstream, leftover) = match &inner.mode {
        Mode::Fixed(target) => (TcpStream::connect(target.as_str())?, Vec::new()),
        Mode::Connect => {
            let mut reader = BufReader::new(client.try_clone()?);
            let mut request_line = String::new();
            reader.read_line(&mut request_line)?;
            // Skip the remaining header lines.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                    break;
                }
            }
            let mut parts = request_line.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let mut writer = client.try_clone()?;
            if !method.eq_ignore_ascii_case("CONNECT") || target.is_empty() {
                writer
                    .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
                return Ok(());
            }
            let upstream = match TcpStream::connect(target) {
                Ok(s) => s,
                Err(e) => {
                    writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
                    return Err(e);
                }
            };
            writer.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
            (upstream, reader.buffer().to_vec())
        }
    };
    if inner.shutdown.load(Ordering::SeqCst) {
        return Ok(());
    }
    {
        let mut open = inner.open.lock().expect("forwarder lock");
        open.push(client.try_clone()?);
        open.push(upstream.try_clone()?);
    }
    let mut up_writer = upstream.try_clone()?;
    up_writer.write_all(&leftover)?;
    let mut client_reader = client.try_clone()?;
    let to_upstream = std::thread::spawn(move || {
        let _ = io::copy(&mut client_reader, &mut up_writer);
        let _ = up_writer.shutdown(Shutdown::Write);
    });
    let mut up_reader = upstream;
    let mut client_writer = client;
    let _ = copy_all(&mut up_reader, &mut client_writer);
    let _ = client_writer.shutdown(Shutdown::Write);
    let _ = to_upstream.join();
    Ok(())
}

fn copy_all(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A one-connection echo server; returns its address.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = conn.try_clone().unwrap();
                    let mut writer = conn;
                    let _ = io::copy(&mut reader, &mut writer);
                });
            }
        });
        addr
    }

    fn roundtrip(stream: &mut TcpStream, msg: &[u8]) -> io::Result<Vec<u8>> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(msg)?;
        let mut buf = vec![0u8; msg.len()];
        stream.read_exact(&mut buf)?;
        Ok(buf)
    }

    #[test]
    fn fixed_mode_forwards_and_shutdown_cuts_open_connections() {
        let target = echo_server();
        let mut fwd = TcpForwarder::start(&target.to_string()).unwrap();
        let mut conn = TcpStream::connect(fwd.addr()).unwrap();
        assert_eq!(roundtrip(&mut conn, b"hello").unwrap(), b"hello");
        assert_eq!(fwd.connections(), 1);

        fwd.shutdown();
        // The kept-alive connection is gone and no new one is accepted. (The freed port may
        // already belong to another test's listener, so a connect can succeed; what must not
        // happen is the forwarder accepting it.)
        assert!(roundtrip(&mut conn, b"again").is_err());
        let _ = TcpStream::connect(fwd.addr());
        assert_eq!(fwd.connections(), 1);
    }

    #[test]
    fn connect_mode_tunnels_to_the_requested_target() {
        let target = echo_server();
        let fwd = TcpForwarder::connect_proxy().unwrap();
        let mut conn = TcpStream::connect(fwd.addr()).unwrap();
        conn.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
            .unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let mut blank = String::new();
        reader.read_line(&mut blank).unwrap();
        assert_eq!(
            roundtrip(&mut conn, b"through the tunnel").unwrap(),
            b"through the tunnel"
        );
    }

    #[test]
    fn connect_mode_rejects_other_methods() {
        let fwd = TcpForwarder::connect_proxy().unwrap();
        let mut conn = TcpStream::connect(fwd.addr()).unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        BufReader::new(conn).read_line(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }
}
