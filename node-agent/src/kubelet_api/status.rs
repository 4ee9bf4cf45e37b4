//! The metav1.Status objects written to the error channel of exec and attach (protocol v4 and later).

use serde_json::{json, Value};

pub(crate) fn success() -> Value {
    json!({"metadata": {}, "status": "Success"})
}

/// Clients turn this into their own exit code (kubectl exits with `code`).
pub(crate) fn non_zero_exit(code: i32, command: &[String]) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

pub(crate) fn internal_error(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
}

/// The status for an exec outcome.
pub(crate) fn for_outcome(outcome: &Result<i32, String>, command: &[String]) -> Value {
    match outcome {
        Ok(0) => success(),
        Ok(code) => non_zero_exit(*code, command),
        Err(message) => internal_error(message),
    }
}

/// Protocols before v4 carry only an error text on the error stream, and nothing on success.
pub(crate) fn legacy_error_text(outcome: &Result<i32, String>) -> Option<String> {
    match outcome {
        Ok(0) => None,
        Ok(code) => Some(format!("command terminated with non-zero exit code: exit code {code}")),
        Err(message) => Some(message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_status_has_the_cause() {
        let status = non_zero_exit(3, &["sh".into(), "-c".into(), "exit 3".into()]);
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
        assert_eq!(for_outcome(&Ok(0), &[]), success());
        assert_eq!(for_outcome(&Err("boom".into()), &[])["reason"], "InternalError");
        assert_eq!(legacy_error_text(&Ok(0)), None);
    }
}
