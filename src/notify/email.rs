//! E-mail over SMTP with lettre: STARTTLS, TLS from the first byte, or
//! plain text (`tls = "none"`, for a relay on localhost and for tests);
//! optional login. The subject is the message's subject, the body its text
//! as text/plain, marked `Auto-Submitted` so nobody's autoresponder
//! answers. 4xx replies and lost connections are retried, 5xx ones
//! (a refused login, an unknown mailbox) are not, nor is a relay that does
//! not offer the STARTTLS it was configured with.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::EmailConfig;
use super::{Channel, DeliveryError, Message};

/// One exchange (connect, TLS, login, send) must end within this.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// One SMTP relay and its recipients; the password never shows.
pub struct EmailChannel {
    name: String,
    host: String,
    port: u16,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl EmailChannel {
    /// Errors: an empty host, an unknown `tls` mode, half a login, an
    /// address that does not parse, no recipient.
    pub fn new(name: &str, config: &EmailConfig) -> Result<EmailChannel, String> {
        EmailChannel::with_roots(name, config, &[])
    }

    /// As [`EmailChannel::new`], also trusting the CA certificates in
    /// `roots_pem` (a relay behind a private CA; a test's own).
    pub fn with_roots(
        name: &str,
        config: &EmailConfig,
        roots_pem: &[&[u8]],
    ) -> Result<EmailChannel, String> {
        let host = config.smtp_host.trim();
        if host.is_empty() {
            return Err("smtp_host is empty".into());
        }
        let tls_parameters = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(host.to_owned());
            for pem in roots_pem {
                let cert = Certificate::from_pem(pem)
                    .map_err(|err| format!("a root certificate does not parse: {err}"))?;
                builder = builder.add_root_certificate(cert);
            }
            builder
                .build()
                .map_err(|err| format!("cannot set up TLS for {host}: {err}"))
        };
        let tls = match config.tls.as_str() {
            "starttls" => Tls::Required(tls_parameters()?),
            "tls" => Tls::Wrapper(tls_parameters()?),
            "none" => Tls::None,
            other => {
                return Err(format!(
                    "tls = \"{other}\" is not one of starttls, tls, none"
                ));
            }
        };
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.smtp_port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => return Err("username and password must be set together".into()),
        }
        let from = mailbox("from", &config.from)?;
        if config.to.is_empty() {
            return Err("to is empty: name at least one address".into());
        }
        let to = config
            .to
            .iter()
            .map(|address| mailbox("to", address))
            .collect::<Result<_, _>>()?;
        Ok(EmailChannel {
            name: name.to_owned(),
            host: host.to_owned(),
            port: config.smtp_port,
            transport: transport.build(),
            from,
            to,
        })
    }

    /// The mail for `message`.
    fn mail(&self, message: &Message) -> Result<lettre::Message, DeliveryError> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(message.subject.replace(['\r', '\n'], " "))
            .header(ContentType::TEXT_PLAIN)
            // RFC 3834: no out-of-office replies to an alert sender
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ))
            .message_id(None);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(message.text.clone())
            .map_err(|err| DeliveryError::Permanent(format!("cannot write the mail: {err}")))
    }
}

/// `address` (`a@b.c` or `Name <a@b.c>`) as a mailbox.
fn mailbox(key: &str, address: &str) -> Result<Mailbox, String> {
    address
        .trim()
        .parse()
        .map_err(|err| format!("{key}: `{address}` is not an e-mail address ({err})"))
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .field(
                "to",
                &self.to.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Channel for EmailChannel {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mail = self.mail(message)?;
        match self.transport.send(mail).await {
            Ok(_) => Ok(()),
            Err(err) => {
                let shown = format!(
                    "SMTP {}:{}: {}",
                    self.host,
                    self.port,
                    super::http::chain(&err)
                );
                if err.is_permanent() || err.is_client() {
                    Err(DeliveryError::Permanent(shown))
                } else {
                    Err(DeliveryError::Retry {
                        message: shown,
                        after: None,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EmailConfig {
        EmailConfig {
            smtp_host: "smtp.example.com".into(),
            smtp_port: 587,
            tls: "starttls".into(),
            username: None,
            password: None,
            from: "airless <airless@example.com>".into(),
            to: vec!["oncall@example.com".into()],
        }
    }

    #[test]
    fn a_valid_relay_builds_in_every_tls_mode() {
        for tls in ["starttls", "tls", "none"] {
            EmailChannel::new(
                "m",
                &EmailConfig {
                    tls: tls.into(),
                    ..config()
                },
            )
            .unwrap();
        }
    }

    #[test]
    fn mistakes_are_said_in_words() {
        let cases = [
            (
                EmailConfig {
                    tls: "ssl".into(),
                    ..config()
                },
                "tls = \"ssl\" is not one of",
            ),
            (
                EmailConfig {
                    to: vec![],
                    ..config()
                },
                "to is empty",
            ),
            (
                EmailConfig {
                    from: "nobody".into(),
                    ..config()
                },
                "from: `nobody` is not an e-mail",
            ),
            (
                EmailConfig {
                    username: Some("u".into()),
                    ..config()
                },
                "username and password must be set together",
            ),
            (
                EmailConfig {
                    smtp_host: " ".into(),
                    ..config()
                },
                "smtp_host is empty",
            ),
        ];
        for (config, expected) in cases {
            let err = EmailChannel::new("m", &config).unwrap_err();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
