//! `ImageStore::pull`: registry -> staged and verified image -> store.

use std::fs;

use super::super::digest::Digest;
use super::super::error::{ImageError, IoResultExt};
use super::super::layer_blob::stage_layer;
use super::super::pending::{diff_ids_for, PendingImage, PendingLayer};
use super::super::reference::ParsedReference;
use super::super::spec::{parse_manifest_document, select_platform, ConfigFile, Manifest, ManifestDocument};
use super::super::staging::Staging;
use super::super::store::ImageStore;
use super::super::types::{ImageSummary, ImportProgress};
use super::client::RegistryClient;

pub(crate) async fn pull(
    store: &ImageStore,
    reference: &str,
    credentials: Option<(String, String)>,
    insecure_http: bool,
    progress: &mut (dyn FnMut(ImportProgress) + Send),
) -> Result<ImageSummary, ImageError> {
    let parsed = ParsedReference::parse(reference)?;
    let mut client = RegistryClient::new(&parsed, credentials, insecure_http)?;
    let mut metadata_blobs = Vec::new();

    let top = client.fetch_manifest(&parsed.manifest_reference()).await?;
    metadata_blobs.push((top.digest.clone(), top.bytes.clone()));
    let (manifest, manifest_digest) = match parse_manifest_document(&top.bytes, top.content_type.as_deref())? {
        ManifestDocument::Image(manifest) => (manifest, top.digest.clone()),
        ManifestDocument::Index(index) => {
            let chosen = select_platform(&index)?;
            let fetched = client.fetch_manifest(&chosen.digest.to_string()).await?;
            metadata_blobs.push((fetched.digest.clone(), fetched.bytes.clone()));
            match parse_manifest_document(&fetched.bytes, fetched.content_type.as_deref())? {
                ManifestDocument::Image(manifest) => (manifest, fetched.digest),
                ManifestDocument::Index(_) => {
                    return Err(ImageError::Unsupported("an index whose platform entry is another index".into()));
                }
            }
        }
    };

    let config_bytes = fetch_config(store, &mut client, &manifest).await?;
    let config: ConfigFile = serde_json::from_slice(&config_bytes).map_err(|e| ImageError::json("image config", e))?;
    metadata_blobs.push((manifest.config.digest.clone(), config_bytes));

    // Keeps a concurrent removal from collecting what we are about to record.
    let gc_store = store.clone();
    let _gc = tokio::task::spawn_blocking(move || gc_store.lock_for_adding()).await.map_err(join_error)??;
    let staging = Staging::create(store.paths(), "pull")?;
    let downloads = staging.dir().join("downloads");
    fs::create_dir_all(&downloads).at("create", &downloads)?;

    let layer_list: Vec<_> = diff_ids_for(&manifest.layers, &config)?.map(|(l, d)| (l.clone(), d.clone())).collect();
    let total = layer_list.len();
    let mut layers = Vec::new();
    for (i, (layer, diff_id)) in layer_list.into_iter().enumerate() {
        let blob = downloads.join(layer.digest.hex());
        if !store.has_layer(&diff_id) && !staging.layer_dir(&diff_id).is_dir() {
            client.download_blob(&layer.digest, layer.size, &blob).await?;
            let (paths, staged, blob_path, id) =
                (store.paths().clone(), staging.layer_dir(&diff_id), blob.clone(), diff_id.clone());
            tokio::task::spawn_blocking(move || stage_layer(&paths, &staged, &blob_path, &id))
                .await
                .map_err(join_error)??;
            // Layer blobs are not kept once unpacked; the record keeps their digest and size.
            fs::remove_file(&blob).at("remove download", &blob)?;
        }
        progress(ImportProgress::Layer { digest: layer.digest.to_string(), index: i + 1, total, bytes: layer.size });
        layers.push(PendingLayer { blob, digest: layer.digest, size: layer.size, diff_id });
    }

    let name = parsed.to_string();
    let image = PendingImage {
        names: vec![name.clone()],
        digest: top.digest,
        manifest_digest,
        config_digest: manifest.config.digest.clone(),
        config,
        metadata_blobs,
        layers,
    };
    for (digest, bytes) in &image.metadata_blobs {
        staging.add_blob(digest, bytes)?;
    }
    let commit_store = store.clone();
    let record = image.record();
    let summaries = tokio::task::spawn_blocking(move || {
        staging.commit(commit_store.paths())?;
        commit_store.record_images(vec![(name, record)])
    })
    .await
    .map_err(join_error)??;
    let summary = summaries
        .into_iter()
        .next()
        .ok_or_else(|| ImageError::Corrupt("recording the pulled image returned nothing".into()))?;
    progress(ImportProgress::Image { reference: summary.reference.clone() });
    Ok(summary)
}

/// The config blob, from the store if an earlier image brought it.
async fn fetch_config(
    store: &ImageStore,
    client: &mut RegistryClient,
    manifest: &Manifest,
) -> Result<Vec<u8>, ImageError> {
    let digest: &Digest = &manifest.config.digest;
    let local = store.paths().blob(digest);
    if let Ok(bytes) = fs::read(&local) {
        if &Digest::of_bytes(&bytes) == digest {
            return Ok(bytes);
        }
    }
    client.fetch_small_blob(digest, manifest.config.size).await
}

fn join_error(e: tokio::task::JoinError) -> ImageError {
    ImageError::io("image store worker task failed", std::io::Error::other(e.to_string()))
}
