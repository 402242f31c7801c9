//! The simulated workspace: every record exactly as the API serves it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::SimConfig;
use crate::resources::{admins, me, tags, teams};

/// A snapshot of the simulated workspace. Each record is the JSON object the API
/// serves for that item, so a connector's output can be compared to it directly.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The `app` object embedded in `GET /me`.
    pub app: Value,
    pub admins: Vec<Value>,
    pub teams: Vec<Value>,
    pub tags: Vec<Value>,
}

/// One ChaCha stream per resource family, so that changing one family's count (or
/// adding a family) leaves the records of the others unchanged.
#[derive(Clone, Copy)]
enum Stream {
    App = 1,
    Admins = 2,
    Teams = 3,
    Tags = 4,
}

impl Dataset {
    pub(crate) fn generate(config: &SimConfig) -> Dataset {
        let rng = |stream: Stream| {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(stream as u64);
            rng
        };
        let app = me::generate_app(&mut rng(Stream::App));
        let mut admins = admins::generate(&mut rng(Stream::Admins), config.admins, &app);
        let teams = teams::generate(&mut rng(Stream::Teams), config.teams, &mut admins);
        let tags = tags::generate(&mut rng(Stream::Tags), config.tags);
        Dataset {
            app,
            admins,
            teams,
            tags,
        }
    }
}
