//! The upstream PostgreSQL server: where it is and how to open a connection to
//! it, including SSLRequest negotiation with libpq's sslmode semantics.

use bytes::{BufMut, BytesMut};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{UpstreamConfig, UpstreamTlsMode};
use crate::tls::{self, TlsError};
use crate::wire::startup::SSL_REQUEST_CODE;
use crate::wire::Stream;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to upstream {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("timed out connecting to upstream {addr} after {after:?}")]
    Timeout { addr: String, after: Duration },
    #[error("upstream {addr} does not offer TLS, but upstream TLS mode is {mode:?}")]
    TlsRefused { addr: String, mode: UpstreamTlsMode },
    #[error("upstream {addr} answered the TLS request with unexpected byte 0x{byte:02x}")]
    BadSslResponse { addr: String, byte: u8 },
    #[error("TLS handshake with upstream {addr} failed: {source}")]
    Handshake {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid upstream TLS server name {0:?}")]
    ServerName(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A resolved upstream: address and TLS settings, ready to connect.
pub struct Upstream {
    host: String,
    port: u16,
    connect_timeout: Duration,
    mode: UpstreamTlsMode,
    tls: Option<tokio_rustls::TlsConnector>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("address", &self.address())
            .field("mode", &self.mode)
            .finish()
    }
}

impl Upstream {
    pub fn from_config(cfg: &UpstreamConfig) -> Result<Arc<Upstream>, UpstreamError> {
        let name = cfg.server_name.clone().unwrap_or_else(|| cfg.host.clone());
        let server_name =
            ServerName::try_from(name.clone()).map_err(|_| UpstreamError::ServerName(name))?;
        let tls = tls::upstream_config(cfg.tls_mode, cfg.ca_file.as_deref())?
            .map(tokio_rustls::TlsConnector::from);
        Ok(Arc::new(Upstream {
            host: cfg.host.clone(),
            port: cfg.port,
            connect_timeout: cfg.connect_timeout,
            mode: cfg.tls_mode,
            tls,
            server_name,
        }))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Opens a connection and negotiates TLS as configured.
    pub async fn connect(&self) -> Result<Stream, UpstreamError> {
        let addr = self.address();
        let tcp = match tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        {
            Err(_) => {
                return Err(UpstreamError::Timeout {
                    addr,
                    after: self.connect_timeout,
                })
            }
            Ok(Err(source)) => return Err(UpstreamError::Connect { addr, source }),
            Ok(Ok(s)) => s,
        };
        // Protocol messages are small and latency-bound: never wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let Some(connector) = &self.tls else {
            return Ok(Stream::Plain(tcp));
        };
        let mut tcp = tcp;
        let mut req = BytesMut::with_capacity(8);
        req.put_i32(8);
        req.put_u32(SSL_REQUEST_CODE);
        let io_err = |source| UpstreamError::Connect {
            addr: addr.clone(),
            source,
        };
        tcp.write_all(&req).await.map_err(io_err)?;
        // Exactly one byte: anything after 'S' belongs to the TLS handshake.
        let answer = tcp.read_u8().await.map_err(io_err)?;
        match answer {
            b'S' => {
                let tls = connector
                    .connect(self.server_name.clone(), tcp)
                    .await
                    .map_err(|source| UpstreamError::Handshake { addr, source })?;
                Ok(Stream::ClientTls(Box::new(tls)))
            }
            b'N' if self.mode == UpstreamTlsMode::Prefer => Ok(Stream::Plain(tcp)),
            b'N' => Err(UpstreamError::TlsRefused {
                addr,
                mode: self.mode,
            }),
            byte => Err(UpstreamError::BadSslResponse { addr, byte }),
        }
    }
}
