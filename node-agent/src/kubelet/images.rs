//! Getting a container's image onto the node, honouring imagePullPolicy.

use super::Context;
use crate::image::Image;
use k8s_openapi::api::core::v1::Container;
use std::sync::Arc;

/// Why an image is not available: the waiting reason and message.
pub struct ImageFailure {
    pub reason: &'static str,
    pub message: String,
}

/// The policy in force: the API's default is Always for `:latest` or an
/// untagged image, IfNotPresent otherwise.
pub fn pull_policy(container: &Container) -> String {
    if let Some(p) = container.image_pull_policy.clone().filter(|p| !p.is_empty()) {
        return p;
    }
    let image = container.image.as_deref().unwrap_or("");
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') {
        "IfNotPresent".into()
    } else if !last.contains(':') || last.ends_with(":latest") {
        "Always".into()
    } else {
        "IfNotPresent".into()
    }
}

/// Resolve (and pull when the policy says so) the container's image.
/// `on_pull` is told when a pull starts, for the Pulling event.
pub async fn ensure(ctx: &Arc<Context>, container: &Container) -> Result<(Image, bool), ImageFailure> {
    let reference = container.image.clone().unwrap_or_default();
    if reference.is_empty() {
        return Err(ImageFailure { reason: "InvalidImageName", message: "no image given".into() });
    }
    let policy = pull_policy(container);
    let local = resolve(ctx, &reference).await?;
    match (policy.as_str(), local) {
        ("Never", Some(img)) | ("IfNotPresent", Some(img)) => Ok((img, false)),
        ("Never", None) => Err(ImageFailure {
            reason: "ErrImageNeverPull",
            message: format!("Container image \"{reference}\" is not present with pull policy of Never"),
        }),
        _ => {
            let mut progress = |_p: crate::image::ImportProgress| {};
            if let Err(e) = ctx.images.pull(&reference, None, false, &mut progress).await {
                return Err(ImageFailure {
                    reason: "ErrImagePull",
                    message: format!("failed to pull image \"{reference}\": {e}"),
                });
            }
            match resolve(ctx, &reference).await? {
                Some(img) => Ok((img, true)),
                None => Err(ImageFailure {
                    reason: "ErrImagePull",
                    message: format!("image \"{reference}\" missing after pull"),
                }),
            }
        }
    }
}

async fn resolve(ctx: &Arc<Context>, reference: &str) -> Result<Option<Image>, ImageFailure> {
    let ctx = ctx.clone();
    let r = reference.to_string();
    match tokio::task::spawn_blocking(move || ctx.images.resolve(&r)).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => Err(ImageFailure { reason: "InvalidImageName", message: format!("{reference}: {e}") }),
        Err(e) => Err(ImageFailure { reason: "ErrImagePull", message: e.to_string() }),
    }
}
