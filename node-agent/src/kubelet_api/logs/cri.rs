//! Reading CRI log records (`<RFC3339Nano> <stdout|stderr> <F|P> <text>`) and turning them into output lines:
//! a partial (`P`) record is joined with the records that follow it on the same stream.

use super::timestamp::parse_rfc3339_nanos;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CriRecord<'a> {
    pub timestamp: &'a str,
    pub nanos: i128,
    pub stderr: bool,
    pub partial: bool,
    pub text: &'a [u8],
}

/// Parses one record (without its newline); `None` for lines that are not CRI records.
pub(crate) fn parse_record(line: &[u8]) -> Option<CriRecord<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let timestamp = std::str::from_utf8(parts.next()?).ok()?;
    let stderr = match parts.next()? {
        b"stdout" => false,
        b"stderr" => true,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"F" => false,
        b"P" => true,
        _ => return None,
    };
    let text = parts.next().unwrap_or(b"");
    let nanos = parse_rfc3339_nanos(timestamp)?;
    Some(CriRecord { timestamp, nanos, stderr, partial, text })
}

/// One line of container output: the first record's time and the joined text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub timestamp: String,
    pub nanos: i128,
    pub text: Vec<u8>,
}

impl LogLine {
    /// The line as the API returns it, with the timestamp prefix kubectl's `--timestamps` shows.
    pub(crate) fn render(&self, timestamps: bool, out: &mut Vec<u8>) {
        if timestamps {
            out.extend_from_slice(self.timestamp.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.text);
        out.push(b'\n');
    }
}

/// Joins partial records per stream.
#[derive(Default)]
pub(crate) struct LineAssembler {
    pending: [Option<LogLine>; 2],
}

impl LineAssembler {
    /// Feeds one record; returns the finished line, if this record completes one.
    pub(crate) fn push(&mut self, record: &CriRecord<'_>) -> Option<LogLine> {
        let slot = &mut self.pending[usize::from(record.stderr)];
        let mut line = slot.take().unwrap_or_else(|| LogLine {
            timestamp: record.timestamp.to_string(),
            nanos: record.nanos,
            text: Vec::new(),
        });
        line.text.extend_from_slice(record.text);
        if record.partial {
            *slot = Some(line);
            None
        } else {
            Some(line)
        }
    }

    /// Partial lines never completed (the container stopped mid-line), oldest first.
    pub(crate) fn finish(&mut self) -> Vec<LogLine> {
        let mut rest: Vec<LogLine> = self.pending.iter_mut().filter_map(Option::take).collect();
        rest.sort_by_key(|l| l.nanos);
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        let record = parse_record(b"2023-11-14T22:13:20.5Z stderr P some text ").unwrap();
        assert_eq!(record.timestamp, "2023-11-14T22:13:20.5Z");
        assert_eq!(record.nanos, 1_700_000_000_500_000_000);
        assert!(record.stderr && record.partial);
        assert_eq!(record.text, b"some text ");
        assert_eq!(parse_record(b"2023-11-14T22:13:20Z stdout F").unwrap().text, b"");
        assert_eq!(parse_record(b"garbage"), None);
        assert_eq!(parse_record(b"2023-11-14T22:13:20Z stdin F x"), None);
        assert_eq!(parse_record(b"2023-11-14T22:13:20Z stdout X x"), None);
    }

    #[test]
    fn joins_partials_per_stream() {
        let lines = [
            &b"2023-11-14T22:13:20Z stdout P hel"[..],
            b"2023-11-14T22:13:21Z stderr F oops",
            b"2023-11-14T22:13:22Z stdout F lo",
            b"2023-11-14T22:13:23Z stderr P tail",
        ];
        let mut assembler = LineAssembler::default();
        let out: Vec<LogLine> = lines.iter().filter_map(|l| assembler.push(&parse_record(l).unwrap())).collect();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, b"oops");
        assert_eq!((out[1].text.as_slice(), out[1].timestamp.as_str()), (&b"hello"[..], "2023-11-14T22:13:20Z"));
        let rest = assembler.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].text, b"tail");
        let mut rendered = Vec::new();
        out[1].render(true, &mut rendered);
        assert_eq!(rendered, b"2023-11-14T22:13:20Z hello\n");
    }
}
