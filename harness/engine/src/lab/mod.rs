//! Lab mode: an environment that stays up for a desktop the harness does not launch (`env up`),
//! faults applied and healed by hand in the suite's words, status read live, a control endpoint.

pub mod client;
pub mod held;
pub mod keep;
pub mod owner;
pub mod server;
pub mod state;
pub mod status;
pub mod up;
pub mod words;

pub use client::LabClient;
pub use held::HeldFault;
pub use keep::serve_kept;
pub use owner::{Healed, Lab, LabError};
pub use state::{pid_alive, LabState, STATE_FILE};
pub use status::{InstanceView, Status};
pub use up::{up, Ready, UpOptions};
