//! Raw TCP echo (`TCP_ECHO_PORT`): every byte received is sent back.

use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (mut stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("tcp echo accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let (mut reader, mut writer) = stream.split();
            match tokio::io::copy(&mut reader, &mut writer).await {
                Ok(bytes) => println!("{remote} TCP echo {bytes} bytes"),
                Err(err) => eprintln!("tcp echo {remote}: {err}"),
            }
        });
    }
}
