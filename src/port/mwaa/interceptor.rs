//! Makes a custom MWAA endpoint usable. aws-sdk-mwaa puts its host labels in
//! front of the endpoint's host (`api.` for GetEnvironment, `env.` for
//! InvokeRestApi), so `http://127.0.0.1:P` would become `http://api.127.0.0.1:P`.
//! Installed only when a custom endpoint is in effect; AWS's own hosts are
//! never rewritten. Depends on the SDK's interceptor trait only.

use aws_sdk_mwaa::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_mwaa::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;

/// The host labels aws-sdk-mwaa prepends.
const HOST_LABELS: [&str; 2] = ["api.", "env."];

/// Removes a host label the SDK added in front of exactly this endpoint's
/// authority. Runs before signing, so the signature covers the host the
/// request really goes to.
#[derive(Debug, Clone)]
pub(super) struct StripHostPrefix {
    /// `host[:port]` of the custom endpoint, lowercase.
    authority: String,
}

impl StripHostPrefix {
    /// `None` when `endpoint` has no `scheme://authority`.
    pub(super) fn for_endpoint(endpoint: &str) -> Option<StripHostPrefix> {
        let (_, rest) = endpoint.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.is_empty() {
            return None;
        }
        Some(StripHostPrefix {
            authority: authority.to_ascii_lowercase(),
        })
    }

    /// The URI without the label, or `None` when it has none to strip.
    fn rewrite(&self, uri: &str) -> Option<String> {
        let (scheme, rest) = uri.split_once("://")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        HOST_LABELS.iter().find_map(|label| {
            let unlabelled = authority.get(..label.len())?.eq_ignore_ascii_case(label);
            let remainder = authority.get(label.len()..)?;
            (unlabelled && remainder.eq_ignore_ascii_case(&self.authority))
                .then(|| format!("{scheme}://{remainder}{tail}"))
        })
    }
}

impl Intercept for StripHostPrefix {
    fn name(&self) -> &'static str {
        "StripHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if let Some(uri) = self.rewrite(request.uri()) {
            request.set_uri(uri)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(endpoint: &str) -> StripHostPrefix {
        StripHostPrefix::for_endpoint(endpoint).unwrap()
    }

    #[test]
    fn strips_the_api_and_env_labels_from_the_custom_endpoint() {
        let s = strip("http://127.0.0.1:4510");
        assert_eq!(
            s.rewrite("http://api.127.0.0.1:4510/environments/prod")
                .as_deref(),
            Some("http://127.0.0.1:4510/environments/prod")
        );
        assert_eq!(
            s.rewrite("http://env.127.0.0.1:4510/restapi/prod?x=1")
                .as_deref(),
            Some("http://127.0.0.1:4510/restapi/prod?x=1")
        );
    }

    #[test]
    fn leaves_other_hosts_alone() {
        let s = strip("https://localhost:4566/");
        assert_eq!(s.rewrite("https://localhost:4566/environments/x"), None);
        assert_eq!(
            s.rewrite("https://api.airflow.us-east-1.amazonaws.com/environments/x"),
            None
        );
        assert_eq!(s.rewrite("https://web.localhost:4566/x"), None);
    }

    #[test]
    fn an_endpoint_without_authority_is_refused() {
        assert!(StripHostPrefix::for_endpoint("127.0.0.1:80").is_none());
        assert!(StripHostPrefix::for_endpoint("http:///x").is_none());
    }
}
