//! Finding the container's program in its PATH and exec'ing it, with Go/runc-style error messages.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::execve;

use super::super::spec::DEFAULT_PATH;

/// Replaces the process with the program; returns only the reason it could not.
pub(super) fn exec(args: &[String], env: &[(String, String)]) -> Result<Infallible, String> {
    let Some(program) = args.first() else { return Err("exec: no program given".into()) };
    let path = resolve(program, env)?;
    let c_path = c_string(&path)?;
    let argv = args.iter().map(|a| c_string(a)).collect::<Result<Vec<_>, _>>()?;
    let envp = env.iter().map(|(k, v)| c_string(&format!("{k}={v}"))).collect::<Result<Vec<_>, _>>()?;
    let errno = match execve(&c_path, &argv, &envp) {
        Ok(never) => match never {},
        Err(errno) => errno,
    };
    Err(format!("exec: {path:?}: {}", describe(errno)))
}

/// `program` itself if it contains '/', else the first executable regular file named so in `PATH`.
fn resolve(program: &str, env: &[(String, String)]) -> Result<String, String> {
    if program.contains('/') {
        return Ok(program.to_string());
    }
    let path_var = env.iter().rev().find(|(k, _)| k == "PATH").map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    path_var
        .split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| format!("{}/{program}", dir.trim_end_matches('/')))
        .find(|candidate| is_executable(Path::new(candidate)))
        .ok_or_else(|| format!("exec: {program:?}: executable file not found in $PATH"))
}

fn is_executable(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn c_string(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("exec: {text:?} contains a NUL byte"))
}

/// "No such file or directory" -> "no such file or directory", as Go prints errno strings.
fn describe(errno: Errno) -> String {
    let text = errno.desc();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_is_lowercased() {
        assert_eq!(describe(Errno::ENOENT), "no such file or directory");
        assert_eq!(describe(Errno::EACCES), "permission denied");
    }

    #[test]
    fn lookup_uses_path_from_env() {
        let env = vec![("PATH".to_string(), "/nonexistent:/bin".to_string())];
        assert_eq!(resolve("sh", &env), Ok("/bin/sh".to_string()));
        assert_eq!(resolve("./x", &env), Ok("./x".to_string()));
        assert_eq!(
            resolve("keel-no-such-program", &env),
            Err("exec: \"keel-no-such-program\": executable file not found in $PATH".to_string())
        );
    }
}
