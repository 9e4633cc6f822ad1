//! The registry's way in: [`RecurrentFamily`] loads the model folders
//! whose config names no family, fourstock's own.

use std::path::Path;
use std::sync::Arc;

use fourstock_policy::registry::{LoadError, UNNAMED_FAMILY};
use fourstock_policy::{Family, Policy};

use crate::policy::RecurrentPolicy;

/// fourstock's LSTM/GRU models, as a [`Family`].
pub struct RecurrentFamily;

impl Family for RecurrentFamily {
    fn name(&self) -> &'static str {
        UNNAMED_FAMILY
    }

    fn load(&self, dir: &Path) -> Result<Arc<dyn Policy>, LoadError> {
        Ok(Arc::new(RecurrentPolicy::load(dir)?))
    }
}
