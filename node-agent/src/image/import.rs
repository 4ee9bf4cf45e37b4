//! `ImageStore::import`: archive -> staged and verified images -> store.

use std::path::Path;

use super::archive_extract::ExtractedArchive;
use super::error::ImageError;
use super::lock::lock_shared;
use super::pending::{stage_image, PendingImage};
use super::staging::Staging;
use super::store::ImageStore;
use super::types::{ImageSummary, ImportProgress};
use super::{import_docker, import_oci};

pub(super) fn import_archive(
    store: &ImageStore,
    archive: &Path,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<Vec<ImageSummary>, ImageError> {
    let paths = store.paths();
    // Shared: concurrent imports are fine, a removal's garbage collection is not.
    let _gc = lock_shared(&paths.gc_lock())?;
    let staging = Staging::create(paths, "import")?;
    let extracted = ExtractedArchive::extract(archive, &staging.dir().join("archive"))?;
    let images = read_images(&extracted)?;
    for image in &images {
        stage_image(paths, &staging, image, progress)?;
    }
    staging.commit(paths)?;
    let records: Vec<(String, _)> =
        images.iter().flat_map(|image| image.names.iter().map(move |name| (name.clone(), image.record()))).collect();
    let summaries = store.record_images(records)?;
    for summary in &summaries {
        progress(ImportProgress::Image { reference: summary.reference.clone() });
    }
    Ok(summaries)
}

fn read_images(extracted: &ExtractedArchive) -> Result<Vec<PendingImage>, ImageError> {
    let images = if extracted.contains("oci-layout") && extracted.contains("index.json") {
        import_oci::read_images(extracted)?
    } else if extracted.contains("manifest.json") {
        import_docker::read_images(extracted)?
    } else {
        return Err(ImageError::InvalidArchive(
            "neither an OCI image layout (oci-layout, index.json) nor a docker-save archive (manifest.json)".into(),
        ));
    };
    if images.is_empty() {
        return Err(ImageError::InvalidArchive("the archive holds no named image".into()));
    }
    Ok(images)
}
