//! Maps a request path to what the echo server should do.

use std::time::Duration;

/// Largest allocation a single `/alloc/<MiB>` may ask for.
const MAX_ALLOC_MIB: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Healthz,
    Status(u16),
    Delay(Duration),
    Exit(i32),
    Alloc(usize),
    /// `/`, `/headers` and every other path: describe the request.
    Echo,
}

/// Parses the path; `Err` carries a message for a 400 answer.
pub fn route(path: &str) -> Result<Route, String> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let head = parts.next().unwrap_or_default();
    let arg = parts.next().map(|a| a.trim_end_matches('/'));
    let number = |what: &str| -> Result<u64, String> {
        arg.and_then(|a| a.parse().ok()).ok_or_else(|| format!("{what} needs a number: /{head}/<n>"))
    };
    match head {
        "healthz" => Ok(Route::Healthz),
        "status" => match u16::try_from(number("status")?) {
            Ok(code) if (100..=999).contains(&code) => Ok(Route::Status(code)),
            _ => Err("status code must be 100..=999".into()),
        },
        "delay" => Ok(Route::Delay(Duration::from_millis(number("delay")?))),
        "exit" => i32::try_from(number("exit")?).map(Route::Exit).map_err(|_| "exit code too large".to_string()),
        "alloc" => match usize::try_from(number("alloc")?) {
            Ok(mib) if mib <= MAX_ALLOC_MIB => Ok(Route::Alloc(mib)),
            _ => Err(format!("alloc is limited to {MAX_ALLOC_MIB} MiB")),
        },
        _ => Ok(Route::Echo),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_paths() {
        assert_eq!(route("/healthz"), Ok(Route::Healthz));
        assert_eq!(route("/status/503"), Ok(Route::Status(503)));
        assert_eq!(route("/delay/250"), Ok(Route::Delay(Duration::from_millis(250))));
        assert_eq!(route("/exit/3"), Ok(Route::Exit(3)));
        assert_eq!(route("/alloc/16/"), Ok(Route::Alloc(16)));
    }

    #[test]
    fn everything_else_echoes() {
        assert_eq!(route("/"), Ok(Route::Echo));
        assert_eq!(route("/headers"), Ok(Route::Echo));
        assert_eq!(route("/some/deep/path"), Ok(Route::Echo));
    }

    #[test]
    fn bad_numbers_are_rejected() {
        assert!(route("/status/abc").is_err());
        assert!(route("/status/42").is_err());
        assert!(route("/delay").is_err());
        assert!(route("/alloc/99999999").is_err());
    }
}
