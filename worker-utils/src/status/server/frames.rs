//! One client's outgoing text frames, gathered into one byte buffer.
//!
//! Every client sends the same JSON text, shared by all of them. Handing it to tungstenite
//! as a `Message` costs, per message and per client, a reference-count bump and drop on the
//! one counter all clients share (the top cost of delivering to 100 clients: the counter's
//! cache line moves between the cores for every copy) and tungstenite's per-message path
//! (waker registration, frame object, formatting). A server's text frame is only a 2 to 10
//! byte header and the payload, unmasked (RFC 6455 §5.2), so the connection copies the
//! shared text straight into this buffer and writes it to the socket itself, once per batch.
//! Pings and the close handshake still go through tungstenite, which holds no other state
//! about what it sent.

use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Text frames, each complete, waiting to be written in one go.
#[derive(Debug, Default)]
pub(crate) struct TextFrames {
    bytes: Vec<u8>,
}

/// The header of a whole, unmasked text message in one frame, as a server sends it.
const TEXT_HEADER: FrameHeader = FrameHeader {
    is_final: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: OpCode::Data(Data::Text),
    mask: None,
};

impl TextFrames {
    /// Appends `text` as one unfragmented, unmasked text frame.
    pub(crate) fn push(&mut self, text: &str) {
        let len = text.len() as u64;
        self.bytes.reserve(TEXT_HEADER.len(len) + text.len());
        // tungstenite's own header writer (shortest length encoding, RFC 6455 §5.2); writing
        // into a `Vec` cannot fail.
        let _ = TEXT_HEADER.format(len, &mut self.bytes);
        self.bytes.extend_from_slice(text.as_bytes());
    }

    /// Bytes waiting, headers included.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Forgets the frames, keeping the buffer for the next batch.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read, Write};

    use proptest::prelude::*;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::{Error, Message, WebSocket};

    use super::*;

    /// A byte stream a tungstenite client reads from (writes, e.g. a close reply, go nowhere).
    struct Received(io::Cursor<Vec<u8>>);

    impl Read for Received {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Received {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What a tungstenite client reads from `frames`, up to the end of the bytes.
    fn read_back(frames: &TextFrames) -> Vec<String> {
        let stream = Received(io::Cursor::new(frames.as_bytes().to_vec()));
        let mut client = WebSocket::from_raw_socket(stream, Role::Client, None);
        let mut texts = Vec::new();
        loop {
            match client.read() {
                Ok(Message::Text(text)) => texts.push(text.to_string()),
                Ok(other) => panic!("unexpected message {other:?}"),
                // The end of the bytes, without a close frame.
                Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => return texts,
                Err(e) => panic!("client could not read the frames: {e}"),
            }
        }
    }

    #[test]
    fn every_length_encoding_reads_back_as_the_same_text() {
        let texts: Vec<String> = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]
            .iter()
            .map(|&n| "é".repeat(n / 2) + &"x".repeat(n % 2))
            .collect();
        let mut frames = TextFrames::default();
        for text in &texts {
            frames.push(text);
        }
        assert_eq!(read_back(&frames), texts);
        // Headers: 2 bytes below 126, 4 up to 65 535, 10 beyond.
        let mut one = TextFrames::default();
        one.push(&"x".repeat(125));
        assert_eq!(one.len(), 127);
        one.clear();
        one.push(&"x".repeat(126));
        assert_eq!((one.len(), &one.as_bytes()[..4]), (130, &[0x81, 126, 0, 126][..]));
        one.clear();
        one.push(&"x".repeat(65_536));
        assert_eq!(one.len(), 65_546);
        assert!(!one.is_empty());
        one.clear();
        assert!(one.is_empty());
    }

    proptest! {
        #[test]
        fn any_texts_read_back_in_order(texts in proptest::collection::vec(".{0,300}", 0..20)) {
            let mut frames = TextFrames::default();
            for text in &texts {
                frames.push(text);
            }
            prop_assert_eq!(read_back(&frames), texts);
        }
    }
}
