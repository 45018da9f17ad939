//! (timeline/runner helper) placeholder
