//! The CRI container log format: `<RFC3339Nano> <stream> <F|P> <text>\n`, one record per line of output.

use std::time::SystemTime;

use super::timefmt::rfc3339_nano;

/// Longest text in one record; longer lines are split into partial (`P`) records, like containerd does.
pub(crate) const MAX_RECORD_TEXT: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One log record, ready to be appended to the log file.
pub(crate) fn format_record(time: SystemTime, stream: Stream, partial: bool, text: &[u8]) -> Vec<u8> {
    let header = format!("{} {} {} ", rfc3339_nano(time), stream.name(), if partial { 'P' } else { 'F' });
    let mut record = Vec::with_capacity(header.len() + text.len() + 1);
    record.extend_from_slice(header.as_bytes());
    record.extend_from_slice(text);
    record.push(b'\n');
    record
}

/// Turns a byte stream into records: complete lines become `F`, over-long runs without a newline become `P`.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; `emit(text, partial)` is called for each finished record.
    pub(crate) fn push(&mut self, data: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            let window = &rest[..rest.len().min(MAX_RECORD_TEXT + 1)];
            if let Some(newline) = window.iter().position(|&b| b == b'\n').filter(|&n| n <= MAX_RECORD_TEXT) {
                emit(&rest[..newline], false);
                start += newline + 1;
            } else if rest.len() > MAX_RECORD_TEXT {
                emit(&rest[..MAX_RECORD_TEXT], true);
                start += MAX_RECORD_TEXT;
            } else {
                break;
            }
        }
        self.pending.drain(..start);
    }

    /// End of stream: whatever is left is the last (unterminated) line.
    pub(crate) fn finish(&mut self, mut emit: impl FnMut(&[u8], bool)) {
        if !self.pending.is_empty() {
            emit(&self.pending, false);
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut splitter = LineSplitter::default();
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |t, p| out.push((t.to_vec(), p)));
        }
        splitter.finish(|t, p| out.push((t.to_vec(), p)));
        out
    }

    #[test]
    fn joins_lines_across_reads() {
        let out = split(&[b"hel", b"lo\nwor", b"ld\n\nend"]);
        let expected: Vec<(Vec<u8>, bool)> =
            vec![(b"hello".to_vec(), false), (b"world".to_vec(), false), (vec![], false), (b"end".to_vec(), false)];
        assert_eq!(out, expected);
    }

    #[test]
    fn splits_long_lines_into_partials() {
        let long = vec![b'a'; MAX_RECORD_TEXT * 2 + 10];
        let mut input = long.clone();
        input.push(b'\n');
        let out = split(&[&input]);
        assert_eq!(out.len(), 3);
        assert!(out[0].1 && out[1].1 && !out[2].1);
        assert_eq!(out[0].0.len(), MAX_RECORD_TEXT);
        assert_eq!(out[2].0.len(), 10);
    }

    #[test]
    fn exact_limit_line_is_full() {
        let mut input = vec![b'b'; MAX_RECORD_TEXT];
        input.push(b'\n');
        assert_eq!(split(&[&input]), vec![(vec![b'b'; MAX_RECORD_TEXT], false)]);
    }

    #[test]
    fn formats_a_record() {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        let record = format_record(at, Stream::Stderr, true, b"x y");
        assert_eq!(record, b"2023-11-14T22:13:20.000000005Z stderr P x y\n".to_vec());
    }
}
