//! The exec query: `command` (repeated), `stdin`, `stdout`, `stderr`, `tty`.

use super::super::query::Query;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExecRequest {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecRequest {
    /// `needs_command`: exec runs a command; attach has none.
    pub(crate) fn from_query(query: &Query, needs_command: bool) -> Result<ExecRequest, String> {
        let request = ExecRequest {
            command: query.all("command"),
            stdin: query.flag("stdin")?,
            stdout: query.flag("stdout")?,
            stderr: query.flag("stderr")?,
            tty: query.flag("tty")?,
        };
        if needs_command && request.command.is_empty() {
            return Err("missing command: give at least one command= parameter".into());
        }
        if !request.stdin && !request.stdout && !request.stderr {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        Ok(request)
    }

    /// With a terminal, output is merged into stdout and no stderr stream exists.
    pub(crate) fn wants_stderr(&self) -> bool {
        self.stderr && !self.tty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let q = Query::parse(Some("command=echo&command=hi&stdout=1&stderr=true"));
        let request = ExecRequest::from_query(&q, true).unwrap();
        assert_eq!(request.command, ["echo", "hi"]);
        assert!(request.stdout && request.wants_stderr() && !request.stdin && !request.tty);
        assert!(ExecRequest::from_query(&Query::parse(Some("stdout=1")), true).is_err());
        assert!(ExecRequest::from_query(&Query::parse(Some("stdout=1")), false).is_ok());
        assert!(ExecRequest::from_query(&Query::parse(Some("command=ls")), true).is_err());
    }
}
