//! The registry's way in: [`SlippiFamily`] loads the model folders whose
//! config names the `slippi-ai` family, as `fourstock import slippi-ai`
//! writes them.

use std::path::Path;
use std::sync::Arc;

use fourstock_policy::registry::LoadError;
use fourstock_policy::{Family, Policy};

use crate::config::FAMILY;
use crate::policy::SlippiPolicy;

/// slippi-ai's models, as a [`Family`].
pub struct SlippiFamily;

impl Family for SlippiFamily {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn load(&self, dir: &Path) -> Result<Arc<dyn Policy>, LoadError> {
        Ok(Arc::new(SlippiPolicy::load(dir)?))
    }
}
