//! Terminal size messages: JSON objects `{"Width":80,"Height":24}` back to back on the resize stream.

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct TermSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// Collects bytes and yields every complete size object.
#[derive(Default)]
pub(crate) struct ResizeDecoder {
    buf: Vec<u8>,
}

impl ResizeDecoder {
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<TermSize> {
        self.buf.extend_from_slice(data);
        let mut sizes = Vec::new();
        let mut stream = serde_json::Deserializer::from_slice(&self.buf).into_iter::<TermSize>();
        let mut used = 0;
        loop {
            match stream.next() {
                Some(Ok(size)) => {
                    sizes.push(size);
                    used = stream.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => break,
                // Garbage: drop what we have rather than stall on it forever.
                Some(Err(_)) => {
                    used = self.buf.len();
                    break;
                }
                None => {
                    used = self.buf.len();
                    break;
                }
            }
        }
        self.buf.drain(..used);
        sizes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_split_and_joined_messages() {
        let mut decoder = ResizeDecoder::default();
        assert_eq!(decoder.push(b"{\"Width\":80,"), vec![]);
        assert_eq!(
            decoder.push(b"\"Height\":24}\n{\"Width\":100,\"Height\":40}\n"),
            vec![TermSize { width: 80, height: 24 }, TermSize { width: 100, height: 40 }]
        );
        assert_eq!(decoder.push(b"nonsense"), vec![]);
        assert_eq!(decoder.push(b"{\"Width\":1,\"Height\":2}"), vec![TermSize { width: 1, height: 2 }]);
    }
}
