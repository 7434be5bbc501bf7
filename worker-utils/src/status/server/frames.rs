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

/// Text frames waiting to be written in one go: one frame per message, or for a client that
/// asked for `batch=1`, one frame holding a JSON array of every message of the write.
#[derive(Debug)]
pub(crate) struct TextFrames {
    bytes: Vec<u8>,
    /// Where the first frame's bytes start: in a batch, the longest header's room is kept
    /// in front, so the header goes in once the array's length is known, without a copy.
    start: usize,
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

/// The longest header of a server's frame: 2 bytes and a 64-bit length (RFC 6455 §5.2).
const MAX_HEADER: usize = 10;

impl TextFrames {
    /// One frame per message, or (`batched`) one frame per write holding a JSON array.
    pub(crate) fn new(batched: bool) -> Self {
        let start = if batched { MAX_HEADER } else { 0 };
        Self { bytes: vec![0; start], start }
    }

    /// Appends `text`, one JSON message: as its own unfragmented, unmasked text frame, or as
    /// the next element of the batch's array.
    pub(crate) fn push(&mut self, text: &str) {
        if self.batched() {
            let separator = if self.is_empty() { b'[' } else { b',' };
            self.bytes.push(separator);
            self.bytes.extend_from_slice(text.as_bytes());
            return;
        }
        let len = text.len() as u64;
        self.bytes.reserve(TEXT_HEADER.len(len) + text.len());
        // tungstenite's own header writer (shortest length encoding, RFC 6455 §5.2); writing
        // into a `Vec` cannot fail.
        let _ = TEXT_HEADER.format(len, &mut self.bytes);
        self.bytes.extend_from_slice(text.as_bytes());
    }

    fn batched(&self) -> bool {
        self.start == MAX_HEADER
    }

    /// Bytes waiting: headers included, except a batch's own header and closing bracket.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frames to write; a batch is closed here, so nothing more is pushed until
    /// [`clear`](Self::clear).
    pub(crate) fn finish(&mut self) -> &[u8] {
        if !self.batched() || self.is_empty() {
            return &self.bytes[self.start..];
        }
        self.bytes.push(b']');
        let len = (self.bytes.len() - MAX_HEADER) as u64;
        let mut header = [0; MAX_HEADER];
        let mut room = &mut header[..];
        let _ = TEXT_HEADER.format(len, &mut room);
        let header_len = MAX_HEADER - room.len();
        let first = MAX_HEADER - header_len;
        self.bytes[first..MAX_HEADER].copy_from_slice(&header[..header_len]);
        &self.bytes[first..]
    }

    /// Forgets the frames, keeping the buffer for the next write.
    pub(crate) fn clear(&mut self) {
        self.bytes.truncate(self.start);
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
    fn read_back(frames: &mut TextFrames) -> Vec<String> {
        let stream = Received(io::Cursor::new(frames.finish().to_vec()));
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
        let mut frames = TextFrames::new(false);
        for text in &texts {
            frames.push(text);
        }
        assert_eq!(read_back(&mut frames), texts);
        // Headers: 2 bytes below 126, 4 up to 65 535, 10 beyond.
        let mut one = TextFrames::new(false);
        one.push(&"x".repeat(125));
        assert_eq!(one.len(), 127);
        one.clear();
        one.push(&"x".repeat(126));
        assert_eq!((one.len(), &one.finish()[..4]), (130, &[0x81, 126, 0, 126][..]));
        one.clear();
        one.push(&"x".repeat(65_536));
        assert_eq!(one.len(), 65_546);
        assert!(!one.is_empty());
        one.clear();
        assert!(one.is_empty());
        // An empty batch writes nothing.
        assert!(TextFrames::new(true).finish().is_empty());
    }

    proptest! {
        #[test]
        fn any_texts_read_back_in_order(texts in proptest::collection::vec(".{0,300}", 0..20)) {
            let mut frames = TextFrames::new(false);
            for text in &texts {
                frames.push(text);
            }
            prop_assert_eq!(read_back(&mut frames), texts);
        }

        /// A batch is one frame whose text is the JSON array of the messages, at every
        /// header length, and the buffer starts over after a clear.
        #[test]
        fn a_batch_reads_back_as_one_array_of_the_messages(
            texts in proptest::collection::vec(".{0,40}", 1..20),
            padding in prop_oneof![Just(0_usize), Just(200), Just(70_000)],
        ) {
            let messages: Vec<String> = texts
                .iter()
                .map(|text| serde_json::json!({"type": "status", "text": text, "pad": "p".repeat(padding)}).to_string())
                .collect();
            let mut frames = TextFrames::new(true);
            for _ in 0..2 {
                prop_assert!(frames.is_empty());
                for message in &messages {
                    frames.push(message);
                }
                let read = read_back(&mut frames);
                prop_assert_eq!(read.len(), 1);
                let array: Vec<serde_json::Value> = serde_json::from_str(&read[0]).unwrap();
                let expected: Vec<serde_json::Value> =
                    messages.iter().map(|m| serde_json::from_str(m).unwrap()).collect();
                prop_assert_eq!(array, expected);
                frames.clear();
            }
        }
    }
}
