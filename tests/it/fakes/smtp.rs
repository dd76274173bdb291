//! A small ESMTP server (RFC 5321) for integration tests: EHLO/HELO,
//! AUTH PLAIN (RFC 4954) when a login is set, MAIL FROM, RCPT TO, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT. Keeps each mail as received and can
//! answer RCPT TO with a chosen reply (a 4xx or a 5xx). Plain text,
//! STARTTLS (RFC 3207) or TLS from the first byte, with a certificate for
//! 127.0.0.1 signed by the test CA in `tls/` (made once with openssl:
//! P-256 keys, 100 years). Depends on tokio, tokio-rustls and base64 only,
//! never on airless.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The CA that signed the fake's certificate: a client that trusts it
/// can verify the fake as `127.0.0.1` or `localhost`.
pub const CA_PEM: &[u8] = include_bytes!("tls/ca.pem");
const SERVER_PEM: &[u8] = include_bytes!("tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("tls/server.key");

/// How the fake speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text only.
    None,
    /// Plain text, upgraded by STARTTLS.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
}

fn acceptor() -> TlsAcceptor {
    let certs = CertificateDer::pem_slice_iter(SERVER_PEM)
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("the test certificate: {e}"));
    let key =
        PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap_or_else(|e| panic!("the test key: {e}"));
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .unwrap_or_else(|e| panic!("the fake's TLS configuration: {e}"));
    TlsAcceptor::from(Arc::new(config))
}

/// A connection, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Conn = BufReader<Box<dyn Io>>;

/// One mail as it arrived over SMTP.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA as sent (headers, blank line, body), CRLFs kept.
    pub data: String,
    /// The user of a successful AUTH on this connection.
    pub authenticated_as: Option<String>,
    /// Whether it came over TLS (STARTTLS or implicit).
    pub over_tls: bool,
}

impl Mail {
    /// A header's value, folded lines joined (`None` when absent).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                // unfolding removes the CRLF only (RFC 5322 2.2.3)
                if let Some(value) = found.as_mut() {
                    value.push_str(line);
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim_start().to_owned());
            }
        }
        found
    }

    /// The body after the headers, decoded as its Content-Transfer-Encoding
    /// says (7bit, quoted-printable, base64), with LF line ends.
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or_default();
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "quoted-printable" => quoted_printable(raw),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(raw.replace("\r\n", ""))
                .unwrap_or_else(|e| panic!("the body is not base64: {e}")),
            _ => raw.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

/// RFC 2045 6.7: `=XX` is a byte, `=` at a line's end a soft break.
fn quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[derive(Debug, Default)]
struct SmtpState {
    login: Option<(String, String)>,
    mails: Vec<Mail>,
    rcpt_reply: Option<String>,
    connections: usize,
}

type Shared = Arc<Mutex<SmtpState>>;

fn lock(state: &Shared) -> MutexGuard<'_, SmtpState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running SMTP server on `127.0.0.1`; stops when dropped.
pub struct FakeSmtp {
    pub port: u16,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSmtp {
    /// Plain text; accepts any sender, or with `login` only after AUTH
    /// PLAIN with it.
    pub async fn start(login: Option<(&str, &str)>) -> Self {
        FakeSmtp::start_with(TlsMode::None, login).await
    }

    /// As [`FakeSmtp::start`], speaking TLS as `mode` says.
    pub async fn start_with(mode: TlsMode, login: Option<(&str, &str)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind the fake smtp server: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local address of the fake smtp server: {e}"))
            .port();
        let state = Arc::new(Mutex::new(SmtpState {
            login: login.map(|(u, p)| (u.to_owned(), p.to_owned())),
            ..SmtpState::default()
        }));
        let accepting = state.clone();
        let acceptor = acceptor();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                lock(&accepting).connections += 1;
                tokio::spawn(session(stream, accepting.clone(), mode, acceptor.clone()));
            }
        });
        Self {
            port,
            state,
            server,
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        lock(&self.state).mails.clone()
    }

    /// RCPT TO is answered with `reply` (`"451 4.3.0 try later"`) until
    /// set back to `None`.
    pub fn reply_to_rcpt(&self, reply: Option<&str>) {
        lock(&self.state).rcpt_reply = reply.map(str::to_owned);
    }

    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }
}

/// The address inside `<…>` of `MAIL FROM:<a@b> BODY=8BITMIME`.
fn address(argument: &str) -> String {
    match (argument.find('<'), argument.find('>')) {
        (Some(start), Some(end)) if start < end => argument[start + 1..end].to_owned(),
        _ => argument.trim().to_owned(),
    }
}

/// Writes one reply; `false` when the client has gone.
async fn say(conn: &mut Conn, text: &str) -> bool {
    conn.write_all(text.as_bytes()).await.is_ok() && conn.flush().await.is_ok()
}

async fn session(stream: TcpStream, state: Shared, mode: TlsMode, acceptor: TlsAcceptor) {
    let (mut conn, mut secure): (Conn, bool) = if mode == TlsMode::Implicit {
        match acceptor.accept(stream).await {
            Ok(tls) => (BufReader::new(Box::new(tls)), true),
            Err(_) => return,
        }
    } else {
        (BufReader::new(Box::new(stream)), false)
    };
    if !say(&mut conn, "220 fake.smtp ESMTP ready\r\n").await {
        return;
    }
    let needs_login = lock(&state).login.is_some();
    let mut user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut rcpt: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match conn.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end_matches(['\r', '\n']).to_owned();
        let (verb, argument) = command.split_once(' ').unwrap_or((command.as_str(), ""));
        let verb = verb.to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => {
                let auth = if needs_login {
                    "250-AUTH PLAIN\r\n"
                } else {
                    ""
                };
                let starttls = if mode == TlsMode::StartTls && !secure {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                format!(
                    "250-fake.smtp greets {argument}\r\n250-8BITMIME\r\n{starttls}{auth}250 SIZE 10485760\r\n"
                )
            }
            "HELO" => "250 fake.smtp\r\n".to_owned(),
            "STARTTLS" if mode == TlsMode::StartTls && !secure => {
                if !say(&mut conn, "220 2.0.0 Ready to start TLS\r\n").await {
                    return;
                }
                // RFC 3207: the session starts over, forgetting all it knew.
                match acceptor.accept(conn.into_inner()).await {
                    Ok(tls) => conn = BufReader::new(Box::new(tls)),
                    Err(_) => return,
                }
                secure = true;
                user = None;
                from = None;
                rcpt.clear();
                continue;
            }
            "AUTH" => {
                let mut parts = argument.split_whitespace();
                let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
                let initial = parts.next().map(str::to_owned);
                let encoded = match (mechanism.as_str(), initial) {
                    ("PLAIN", Some(encoded)) => Some(encoded),
                    ("PLAIN", None) => {
                        if !say(&mut conn, "334 \r\n").await {
                            return;
                        }
                        let mut response = String::new();
                        match conn.read_line(&mut response).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => Some(response.trim().to_owned()),
                        }
                    }
                    _ => None,
                };
                let decoded = encoded
                    .and_then(|e| base64::engine::general_purpose::STANDARD.decode(e).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                let fields: Vec<String> = decoded
                    .map(|d| d.split('\0').map(str::to_owned).collect())
                    .unwrap_or_default();
                let expected = lock(&state).login.clone();
                match (fields.as_slice(), expected) {
                    ([_, u, p], Some((eu, ep))) if *u == eu && *p == ep => {
                        user = Some(u.clone());
                        "235 2.7.0 Authentication successful\r\n".to_owned()
                    }
                    _ if mechanism != "PLAIN" => {
                        "504 5.5.4 Unrecognized authentication type\r\n".to_owned()
                    }
                    _ => "535 5.7.8 Authentication credentials invalid\r\n".to_owned(),
                }
            }
            "MAIL" if needs_login && user.is_none() => {
                "530 5.7.0 Authentication required\r\n".to_owned()
            }
            "MAIL" => {
                from = Some(address(argument));
                rcpt.clear();
                "250 2.1.0 Ok\r\n".to_owned()
            }
            "RCPT" if from.is_none() => "503 5.5.1 Error: need MAIL command\r\n".to_owned(),
            "RCPT" => match lock(&state).rcpt_reply.clone() {
                Some(reply) => format!("{reply}\r\n"),
                None => {
                    rcpt.push(address(argument));
                    "250 2.1.5 Ok\r\n".to_owned()
                }
            },
            "DATA" if rcpt.is_empty() => "503 5.5.1 Error: need RCPT command\r\n".to_owned(),
            "DATA" => {
                if !say(&mut conn, "354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let mut data = String::new();
                loop {
                    let mut data_line = String::new();
                    match conn.read_line(&mut data_line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if data_line == ".\r\n" || data_line == ".\n" {
                        break;
                    }
                    let unstuffed = data_line.strip_prefix('.').unwrap_or(&data_line);
                    data.push_str(unstuffed);
                }
                lock(&state).mails.push(Mail {
                    mail_from: from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data,
                    authenticated_as: user.clone(),
                    over_tls: secure,
                });
                "250 2.0.0 Ok: queued\r\n".to_owned()
            }
            "RSET" => {
                from = None;
                rcpt.clear();
                "250 2.0.0 Ok\r\n".to_owned()
            }
            "NOOP" => "250 2.0.0 Ok\r\n".to_owned(),
            "QUIT" => {
                let _ = say(&mut conn, "221 2.0.0 Bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 Error: command not recognized\r\n".to_owned(),
        };
        if !say(&mut conn, &answer).await {
            return;
        }
    }
}
