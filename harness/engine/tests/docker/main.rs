//! The engine's tests on a real Docker engine (images, the environment on containers, the sweep, clean,
//! the reset benchmark), one at a time; each skips loudly without an engine. `--test docker MODULE::` runs one.

#[path = "../env_support/meddle.rs"]
mod meddle;

mod docker_bench;
mod docker_clean;
mod docker_env;
mod docker_runtime;
