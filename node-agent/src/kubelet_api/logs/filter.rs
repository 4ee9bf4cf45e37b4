//! From raw log file bytes to the response body: split records, join partial lines, apply `sinceTime`,
//! `tailLines` (over the backlog only) and `limitBytes`.

use std::collections::VecDeque;

use super::cri::{parse_record, LineAssembler, LogLine};
use super::options::LogOptions;

pub(crate) struct LogFilter {
    timestamps: bool,
    since_nanos: Option<i128>,
    /// While reading the backlog with `tailLines`: the last lines seen so far.
    tail: Option<(usize, VecDeque<LogLine>)>,
    remaining_bytes: Option<u64>,
    assembler: LineAssembler,
    /// Bytes after the last newline (a record still being written).
    unfinished: Vec<u8>,
}

impl LogFilter {
    pub(crate) fn new(options: &LogOptions) -> LogFilter {
        LogFilter {
            timestamps: options.timestamps,
            since_nanos: options.since_nanos,
            tail: options.tail_lines.map(|n| (n, VecDeque::with_capacity(n.min(4096)))),
            remaining_bytes: options.limit_bytes,
            assembler: LineAssembler::default(),
            unfinished: Vec::new(),
        }
    }

    /// `limitBytes` is used up: nothing more will be written.
    pub(crate) fn exhausted(&self) -> bool {
        self.remaining_bytes == Some(0)
    }

    /// Feeds file bytes; output for complete lines is appended to `out`.
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.unfinished.extend_from_slice(data);
        let Some(last_newline) = self.unfinished.iter().rposition(|b| *b == b'\n') else { return };
        let complete: Vec<u8> = self.unfinished.drain(..=last_newline).collect();
        for raw in complete[..complete.len() - 1].split(|b| *b == b'\n') {
            let Some(record) = parse_record(raw) else { continue };
            if let Some(line) = self.assembler.push(&record) {
                self.line(line, out);
            }
        }
    }

    /// The backlog is read: emit the kept tail lines, and pass later lines straight through.
    pub(crate) fn end_of_backlog(&mut self, out: &mut Vec<u8>) {
        if let Some((_, lines)) = self.tail.take() {
            for line in lines {
                self.emit(&line, out);
            }
        }
    }

    /// The log is complete: emit a trailing unterminated record and lines left partial.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        let rest = std::mem::take(&mut self.unfinished);
        if let Some(line) = parse_record(&rest).and_then(|record| self.assembler.push(&record)) {
            self.line(line, out);
        }
        for line in self.assembler.finish() {
            self.line(line, out);
        }
        self.end_of_backlog(out);
    }

    fn line(&mut self, line: LogLine, out: &mut Vec<u8>) {
        if self.since_nanos.is_some_and(|since| line.nanos < since) {
            return;
        }
        match &mut self.tail {
            Some((keep, lines)) => {
                if *keep > 0 {
                    if lines.len() == *keep {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
            }
            None => self.emit(&line, out),
        }
    }

    fn emit(&mut self, line: &LogLine, out: &mut Vec<u8>) {
        let start = out.len();
        line.render(self.timestamps, out);
        if let Some(remaining) = &mut self.remaining_bytes {
            let written = (out.len() - start) as u64;
            if written > *remaining {
                out.truncate(start + *remaining as usize);
            }
            *remaining = remaining.saturating_sub(written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2023-11-14T22:13:20Z stdout F one\n\
2023-11-14T22:13:21Z stderr F two\n\
2023-11-14T22:13:22.5Z stdout P thr\n\
2023-11-14T22:13:23Z stdout F ee\n\
2023-11-14T22:13:24Z stdout F four\n";

    fn run(options: LogOptions, chunks: &[&[u8]]) -> String {
        let mut filter = LogFilter::new(&options);
        let mut out = Vec::new();
        for chunk in chunks {
            filter.feed(chunk, &mut out);
        }
        filter.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_output_joins_partials() {
        assert_eq!(run(LogOptions::default(), &[LOG.as_bytes()]), "one\ntwo\nthree\nfour\n");
    }

    #[test]
    fn records_split_across_reads() {
        let (a, b) = LOG.as_bytes().split_at(50);
        assert_eq!(run(LogOptions::default(), &[a, b]), "one\ntwo\nthree\nfour\n");
    }

    #[test]
    fn tail_since_timestamps_and_limit() {
        let tail = LogOptions { tail_lines: Some(2), ..Default::default() };
        assert_eq!(run(tail, &[LOG.as_bytes()]), "three\nfour\n");
        let none = LogOptions { tail_lines: Some(0), ..Default::default() };
        assert_eq!(run(none, &[LOG.as_bytes()]), "");
        let since = LogOptions { since_nanos: Some(1_700_000_001_000_000_000), ..Default::default() };
        assert_eq!(run(since, &[LOG.as_bytes()]), "two\nthree\nfour\n");
        let stamps = LogOptions { timestamps: true, tail_lines: Some(2), ..Default::default() };
        assert_eq!(run(stamps, &[LOG.as_bytes()]), "2023-11-14T22:13:22.5Z three\n2023-11-14T22:13:24Z four\n");
        let limit = LogOptions { limit_bytes: Some(6), ..Default::default() };
        assert_eq!(run(limit, &[LOG.as_bytes()]), "one\ntw");
    }

    #[test]
    fn unterminated_last_record_is_kept_at_the_end() {
        let log = "2023-11-14T22:13:20Z stdout F one\n2023-11-14T22:13:21Z stdout F two";
        let mut filter = LogFilter::new(&LogOptions::default());
        let mut out = Vec::new();
        filter.feed(log.as_bytes(), &mut out);
        assert_eq!(out, b"one\n");
        filter.finish(&mut out);
        assert_eq!(out, b"one\ntwo\n");
    }
}
