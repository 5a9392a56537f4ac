//! A Bot API on loopback for unit tests of what the emulator cannot show: a refused token,
//! privacy mode, `getChat`, and the `getUpdates` offsets a bot sends (the emulator ignores
//! them). Each request's method and JSON body go to `answer` and to the `requests` channel.

use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

type Answer = Arc<dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync>;

/// A running fake; stops when dropped.
pub(crate) struct FakeApi {
    url: String,
    task: tokio::task::JoinHandle<()>,
    /// `(method, body)` of each request, in order.
    pub requests: mpsc::UnboundedReceiver<(String, Value)>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApi {
    /// Serves `answer(method, body) -> (status, json)` on a free loopback port.
    pub fn start(answer: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static) -> FakeApi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let listener = TcpListener::from_std(listener).expect("a tokio listener");
        let answer: Answer = Arc::new(answer);
        let (sender, requests) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&answer), sender.clone()));
            }
        });
        FakeApi { url, task, requests }
    }

    /// The base URL to configure as `api_url`.
    pub fn url(&self) -> String {
        self.url.clone()
    }
}

/// Answers the requests of one connection (keep-alive), until it closes.
async fn serve(
    mut stream: tokio::net::TcpStream,
    answer: Answer,
    requests: mpsc::UnboundedSender<(String, Value)>,
) {
    let mut buffer = Vec::new();
    loop {
        let Some(head_end) = find(&buffer, b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while buffer.len() < head_end + 4 + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Value =
            serde_json::from_slice(&buffer[head_end + 4..head_end + 4 + length]).unwrap_or(Value::Null);
        buffer.drain(..head_end + 4 + length);
        let path = head.split_whitespace().nth(1).unwrap_or("");
        // teloxide writes `GetUpdates`, the Bot API documents `getUpdates`: both are accepted.
        let name = path.rsplit('/').next().unwrap_or("");
        let method = name.get(..1).map_or(String::new(), |first| first.to_ascii_lowercase() + &name[1..]);
        let (status, json) = answer(&method, &body);
        let _ = requests.send((method, body));
        let json = json.to_string();
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}
