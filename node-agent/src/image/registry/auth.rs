//! WWW-Authenticate challenges and the Bearer token exchange
//! (the "docker token" flow: GET realm?service=..&scope=.. -> {"token": ..}).

use serde::Deserialize;

use super::super::error::ImageError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Challenge {
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
    Basic,
}

/// How requests are authorized after answering a challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Authorization {
    Anonymous,
    Bearer(String),
    Basic { username: String, password: String },
}

/// The first Bearer or Basic challenge of a WWW-Authenticate header.
pub(super) fn parse_challenge(header: &str) -> Option<Challenge> {
    parse_challenges(header).into_iter().find_map(|(scheme, params)| {
        let param = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        if scheme.eq_ignore_ascii_case("bearer") {
            Some(Challenge::Bearer { realm: param("realm")?, service: param("service"), scope: param("scope") })
        } else if scheme.eq_ignore_ascii_case("basic") {
            Some(Challenge::Basic)
        } else {
            None
        }
    })
}

type Params = Vec<(String, String)>;

/// `Scheme k=v, k="quoted, \"v\"", Other k=v` -> [(scheme, params)].
fn parse_challenges(header: &str) -> Vec<(String, Params)> {
    let mut scanner = Scanner { chars: header.chars().collect(), pos: 0 };
    let mut out: Vec<(String, Params)> = Vec::new();
    loop {
        scanner.skip(|c| c == ',' || c.is_whitespace());
        let token = scanner.token();
        if token.is_empty() {
            break;
        }
        scanner.skip(char::is_whitespace);
        if scanner.peek() == Some('=') {
            // A parameter of the current challenge.
            scanner.pos += 1;
            scanner.skip(char::is_whitespace);
            let value = if scanner.peek() == Some('"') { scanner.quoted() } else { scanner.token() };
            match out.last_mut() {
                Some((_, params)) => params.push((token, value)),
                None => break, // parameters before any scheme: malformed
            }
        } else {
            out.push((token, Vec::new()));
        }
    }
    out
}

struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        self.skip(|c| !c.is_whitespace() && c != ',' && c != '=' && c != '"');
        self.chars[start..self.pos].iter().collect()
    }

    fn quoted(&mut self) -> String {
        self.pos += 1; // opening quote
        let mut value = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '"' => break,
                '\\' => {
                    if let Some(escaped) = self.peek() {
                        value.push(escaped);
                        self.pos += 1;
                    }
                }
                other => value.push(other),
            }
        }
        value
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// Asks the challenge's realm for a token, with basic auth if we have credentials.
pub(super) async fn fetch_token(
    http: &reqwest::Client,
    registry: &str,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    credentials: Option<&(String, String)>,
) -> Result<String, ImageError> {
    let unauthorized = |message: String| ImageError::Unauthorized { registry: registry.to_string(), message };
    let mut url = reqwest::Url::parse(realm).map_err(|e| unauthorized(format!("bad token realm {realm:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(unauthorized(format!("token realm {realm:?} is not http(s)")));
    }
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        query.append_pair("scope", scope);
    }
    let mut request = http.get(url.clone());
    if let Some((username, password)) = credentials {
        request = request.basic_auth(username, Some(password));
    }
    let url_text = url.to_string();
    let response = request.send().await.map_err(|source| ImageError::Http { url: url_text.clone(), source })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        let who = if credentials.is_some() { "rejected the credentials" } else { "refused anonymous access" };
        return Err(unauthorized(format!("token server {realm} {who} (HTTP {status})")));
    }
    if !status.is_success() {
        return Err(unauthorized(format!("token server {realm} answered HTTP {status}")));
    }
    let body: TokenResponse =
        response.json().await.map_err(|source| ImageError::Http { url: url_text.clone(), source })?;
    body.token
        .or(body.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized(format!("token server {realm} returned no token")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#;
        assert_eq!(
            parse_challenge(header),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
    }

    #[test]
    fn parses_quoting_spacing_and_multiple_challenges() {
        let header = r#"Newauth realm="x, y", Bearer  realm = "http://127.0.0.1:1/t\"ok\"" , scope="a,b""#;
        assert_eq!(
            parse_challenge(header),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t\"ok\"".into(),
                service: None,
                scope: Some("a,b".into()),
            })
        );
        assert_eq!(parse_challenge(r#"Basic realm="registry""#), Some(Challenge::Basic));
        assert_eq!(parse_challenge("basic"), Some(Challenge::Basic));
        assert_eq!(parse_challenge(r#"Bearer service="no realm""#), None);
        assert_eq!(parse_challenge(""), None);
        assert_eq!(parse_challenge("realm=x"), None);
    }
}
