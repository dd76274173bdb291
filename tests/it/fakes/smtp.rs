//! A small ESMTP server (RFC 5321) for integration tests: EHLO/HELO,
//! AUTH PLAIN (RFC 4954) when a login is set, MAIL FROM, RCPT TO, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT. Keeps each mail as received and can
//! answer RCPT TO with a chosen reply (a 4xx or a 5xx). Plain text only.
//! Depends on tokio and base64 only, never on airless.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One mail as it arrived over SMTP.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA as sent (headers, blank line, body), CRLFs kept.
    pub data: String,
    /// The user of a successful AUTH on this connection.
    pub authenticated_as: Option<String>,
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
    /// Accepts any sender; with `login`, only after AUTH PLAIN with it.
    pub async fn start(login: Option<(&str, &str)>) -> Self {
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
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                lock(&accepting).connections += 1;
                tokio::spawn(session(stream, accepting.clone()));
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
async fn say(write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    write.write_all(text.as_bytes()).await.is_ok()
}

async fn session(stream: TcpStream, state: Shared) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if !say(&mut write, "220 fake.smtp ESMTP ready\r\n").await {
        return;
    }
    let needs_login = lock(&state).login.is_some();
    let mut user: Option<String> = None;
    let mut from: Option<String> = None;
    let mut rcpt: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
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
                format!(
                    "250-fake.smtp greets {argument}\r\n250-8BITMIME\r\n{auth}250 SIZE 10485760\r\n"
                )
            }
            "HELO" => "250 fake.smtp\r\n".to_owned(),
            "AUTH" => {
                let mut parts = argument.split_whitespace();
                let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
                let initial = parts.next().map(str::to_owned);
                let encoded = match (mechanism.as_str(), initial) {
                    ("PLAIN", Some(encoded)) => Some(encoded),
                    ("PLAIN", None) => {
                        if !say(&mut write, "334 \r\n").await {
                            return;
                        }
                        let mut response = String::new();
                        match lines.read_line(&mut response).await {
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
                if !say(&mut write, "354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let mut data = String::new();
                loop {
                    let mut data_line = String::new();
                    match lines.read_line(&mut data_line).await {
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
                let _ = say(&mut write, "221 2.0.0 Bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 Error: command not recognized\r\n".to_owned(),
        };
        if !say(&mut write, &answer).await {
            return;
        }
    }
}
