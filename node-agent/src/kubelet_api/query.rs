//! URL query parameters as the kubelet reads them (repeated keys allowed, Go `strconv.ParseBool` booleans).

pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Query {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        Query { pairs }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// A boolean flag: absent is false, a value that is not a boolean is an error.
    pub(crate) fn flag(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(format!("invalid value {other:?} for {key}: expected a boolean")),
        }
    }

    pub(crate) fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        self.get(key)
            .map(|v| v.parse().map_err(|_| format!("invalid value {v:?} for {key}: expected a number")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repeated_keys_and_flags() {
        let q = Query::parse(Some("command=sh&command=-c&command=echo%20hi&stdin=1&tty=false&x=yes&n=12"));
        assert_eq!(q.all("command"), ["sh", "-c", "echo hi"]);
        assert_eq!(q.flag("stdin"), Ok(true));
        assert_eq!(q.flag("tty"), Ok(false));
        assert_eq!(q.flag("missing"), Ok(false));
        assert!(q.flag("x").is_err());
        assert_eq!(q.number::<u32>("n"), Ok(Some(12)));
        assert!(q.number::<u32>("x").is_err());
    }
}
