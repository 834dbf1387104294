//! go-plugin's `plugin.GRPCController` service, with its one RPC `Shutdown(Empty) → Empty`:
//! Terraform (and Baton) call it to end a plugin gracefully; without it Terraform waits two
//! seconds and kills the process. Written by hand on tonic's generic server (the message is
//! empty, so prost's `()` is its codec type): no .proto is needed for one empty call.
//!
//! Must only signal the shutdown; the server in `handshake` does the stopping.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tonic::codegen::{http, Body, BoxFuture, Context, Poll, Service, StdError};

/// The controller; cloned per connection by tonic.
#[derive(Clone)]
pub struct Controller {
    shutdown: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl Controller {
    /// A controller and the signal its Shutdown RPC fires.
    pub fn new() -> (Controller, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (
            Controller {
                shutdown: Arc::new(Mutex::new(Some(tx))),
            },
            rx,
        )
    }

    fn fire(&self) {
        if let Some(tx) = self.shutdown.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(());
        }
    }
}

impl tonic::server::NamedService for Controller {
    const NAME: &'static str = "plugin.GRPCController";
}

struct Shutdown(Controller);

impl tonic::server::UnaryService<()> for Shutdown {
    type Response = ();
    type Future = std::future::Ready<Result<tonic::Response<()>, tonic::Status>>;

    fn call(&mut self, _request: tonic::Request<()>) -> Self::Future {
        self.0.fire();
        std::future::ready(Ok(tonic::Response::new(())))
    }
}

impl<B> Service<http::Request<B>> for Controller
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() == "/plugin.GRPCController/Shutdown" {
            let svc = Shutdown(self.clone());
            Box::pin(async move {
                let mut grpc =
                    tonic::server::Grpc::new(tonic::codec::ProstCodec::<(), ()>::default());
                Ok(grpc.unary(svc, req).await)
            })
        } else {
            Box::pin(async move {
                Ok(
                    tonic::Status::unimplemented("no such method in plugin.GRPCController")
                        .into_http(),
                )
            })
        }
    }
}
