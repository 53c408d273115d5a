// Owned data, channel ends and immutable 'static data are all fine.
use chanos::chan;
use std::sync::Arc;

#[derive(Debug, PartialEq)]
struct Order {
    items: Vec<String>,
    note: Box<str>,
}

static GREETING: &str = "immutable static data";

fn main() {
    let got = chanos::Runtime::new()
        .block_on(async {
            let (tx, rx) = chan::bounded::<Order>(1);
            let (reply_tx, reply_rx) = chan::bounded::<chan::Sender<String>>(1);
            let shared_text: Arc<String> = Arc::new("read-only".into());
            let numbers = vec![1, 2, 3];
            let text = shared_text.clone();
            chanos::spawn(async move {
                let order = Order { items: vec![GREETING.into(), text.to_string()], note: "n".into() };
                tx.send(order).await.unwrap();
                let back: chan::Sender<String> = reply_rx.recv().await.unwrap();
                back.send(numbers.len().to_string()).await.unwrap();
            });
            let order = rx.recv().await.unwrap();
            let (back_tx, back_rx) = chan::bounded::<String>(1);
            reply_tx.send(back_tx).await.unwrap();
            (order, back_rx.recv().await, shared_text)
        })
        .unwrap();
    assert_eq!(got.0.items, ["immutable static data", "read-only"]);
    assert_eq!(got.1.as_deref(), Some("3"));
}
